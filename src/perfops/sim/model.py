"""Iteration-level latency model of one vLLM engine: continuous batching, pure and clock-free.

Each :meth:`Engine.step` is one engine iteration, scheduled like vLLM v1: running requests
first (one decode token each, or the next chunk of a long prompt), then waiting requests while
the token budget, ``max_num_seqs`` and the KV cache allow. A request whose next KV block cannot
be allocated preempts the newest running request (recompute mode). The step lasts

    (a + b * prefill_tokens + c * kv_tokens_attended + d * num_seqs) * slowdown * jitter

with a, b, c, d from a :class:`~perfops.sim.profiles.ServingProfile` and a seeded lognormal
jitter. The caller owns the clock: it passes ``now`` in and delivers a step's tokens at
``now + duration`` (a real-time driver sleeps, :mod:`perfops.sim.virtual` jumps). Pure decode
stretches can be planned and committed many steps at a time (:meth:`Engine.plan_decode`),
with exactly the result of stepping one by one.
"""

from __future__ import annotations

import random
from collections import deque

import numpy as np

from perfops.errors import ConfigError, PerfopsError, Problem
from perfops.sim._jitter import Jitter
from perfops.sim._kvcache import BlockPool
from perfops.sim._records import (
    DecodePlan,
    DecodeRun,
    EngineConfig,
    EngineStats,
    FinishedRequest,
    Request,
    StepResult,
)
from perfops.sim._state import SeqState, StepBatch
from perfops.sim.profiles import ServingProfile

__all__ = ["Engine", "RequestRejected"]


class RequestRejected(PerfopsError):
    """The request can never be served as sent (an HTTP 400, not a 429)."""


class Engine:
    """One simulated vLLM engine (one replica, ``tensor_parallel`` GPUs)."""

    def __init__(
        self,
        profile: ServingProfile,
        config: EngineConfig | None = None,
        *,
        rng: np.random.Generator | random.Random,
    ) -> None:
        self.profile = profile
        self.config = cfg = config or EngineConfig()
        coef = profile.coefficients
        self._a, self._b, self._c, self._d = coef.a, coef.b, coef.c, coef.d
        self._bs = cfg.block_size
        self._base_blocks = profile.kv_capacity_blocks(cfg.gpu_memory_utilization, self._bs)
        if self._base_blocks <= 0:
            problem = Problem(
                profile.name,
                "gpu_memory_utilization",
                f"{cfg.gpu_memory_utilization} leaves no room for the KV cache after the weights",
                "raise gpu_memory_utilization or tensor_parallel",
            )
            raise ConfigError([problem], source="simulated engine")
        self._block_bytes = profile.bytes_per_block(self._bs)
        self._pool = BlockPool(self._base_blocks, self._bs)
        self._jitter = Jitter(rng, cfg.jitter_sigma)
        self._running: list[SeqState] = []
        self._waiting: deque[SeqState] = deque()
        self._by_id: dict[str, SeqState] = {}
        self._slowdown = 1.0
        self._version = 0
        self._busy = self._busy_until = 0.0
        self._steps = self._prompt_tokens = self._generation_tokens = self._preemptions = 0
        self._queries = self._hits = self._finished = 0

    # ----- gauges and knobs -------------------------------------------------------------
    @property
    def num_running(self) -> int:
        return len(self._running)

    @property
    def num_waiting(self) -> int:
        return len(self._waiting)

    @property
    def has_work(self) -> bool:
        return bool(self._running or self._waiting)

    @property
    def kv_usage(self) -> float:
        """Fraction of KV blocks held by requests (vLLM's ``kv_cache_usage_perc``, 0..1)."""
        return self._pool.usage

    @property
    def slowdown(self) -> float:
        """Step-time multiplier (1.0 normal; > 1 models thermal or power throttling)."""
        return self._slowdown

    @slowdown.setter
    def slowdown(self, factor: float) -> None:
        if not factor > 0:
            raise ValueError(f"slowdown must be > 0, got {factor}")
        self._slowdown = factor
        self._version += 1

    def set_kv_capacity_fraction(self, fraction: float) -> None:
        """Shrink (or restore, with 1.0) the KV cache; excess requests are preempted next step."""
        if not 0 < fraction <= 1:
            raise ValueError(f"KV capacity fraction must be in (0, 1], got {fraction}")
        self._pool.resize(max(1, int(self._base_blocks * fraction)))
        self._version += 1

    def busy_seconds(self, now: float) -> float:
        """GPU-busy seconds up to ``now``; utilisation = its increase over an interval's length."""
        return self._busy - max(0.0, self._busy_until - now)

    def base_step_time(self, prefill_tokens: int, kv_tokens: int, num_seqs: int) -> float:
        """Step time without jitter or slowdown (seconds)."""
        return self._a + self._b * prefill_tokens + self._c * kv_tokens + self._d * num_seqs

    def stats(self) -> EngineStats:
        pool = self._pool
        return EngineStats(
            num_running=len(self._running),
            num_waiting=len(self._waiting),
            kv_usage=pool.usage,
            kv_used_bytes=pool.used * self._block_bytes,
            kv_capacity_bytes=pool.total * self._block_bytes,
            prompt_tokens=self._prompt_tokens,
            generation_tokens=self._generation_tokens,
            preemptions=self._preemptions,
            prefix_cache_queries=self._queries,
            prefix_cache_hits=self._hits,
            requests_finished=self._finished,
            steps=self._steps,
            busy_seconds=self._busy,
        )

    # ----- requests ---------------------------------------------------------------------
    def submit(self, request: Request) -> bool:
        """Queue ``request``; False when the waiting queue is full (an HTTP 429).

        Raises :class:`RequestRejected` for a request that can never be served.
        """
        self._check(request)
        if len(self._waiting) >= self.config.max_waiting:
            return False
        hashes = request.block_hashes if self.config.enable_prefix_caching else ()
        seq = SeqState(request, hashes[: request.prompt_tokens // self._bs])
        self._waiting.append(seq)
        self._by_id[request.request_id] = seq
        return True

    def _check(self, request: Request) -> None:
        cfg = self.config
        size = request.prompt_tokens + request.max_tokens
        if request.prompt_tokens < 1 or request.max_tokens < 1:
            raise RequestRejected(
                f"request {request.request_id}: prompt_tokens and max_tokens must be >= 1"
            )
        if size > cfg.max_model_len:
            raise RequestRejected(
                f"request {request.request_id}: {request.prompt_tokens} prompt + "
                f"{request.max_tokens} output tokens exceed max_model_len {cfg.max_model_len}",
                hint="shorten the prompt or lower max_tokens",
            )
        if -(-size // self._bs) > self._base_blocks:
            raise RequestRejected(
                f"request {request.request_id}: {size} tokens exceed the KV "
                f"cache ({self._base_blocks * self._bs} tokens)"
            )
        if request.request_id in self._by_id:
            raise RequestRejected(f"request id {request.request_id!r} is already in flight")

    def abort(self, request_id: str, now: float) -> FinishedRequest | None:
        """Drop a request (client went away); None when it is not in the engine."""
        seq = self._by_id.pop(request_id, None)
        if seq is None:
            return None
        if seq in self._running:
            self._running.remove(seq)
            self._pool.release(seq.shared, seq.private)
        else:
            self._waiting.remove(seq)
        self._version += 1
        return seq.finished(now, "abort")

    # ----- one iteration ----------------------------------------------------------------
    def step(self, now: float) -> StepResult:
        """Schedule and run one iteration starting at ``now``.

        The result's tokens and finished requests belong to ``now + duration``. When nothing
        can run the duration is 0 (requests that can never fit are aborted and reported).
        """
        self._version += 1
        batch = StepBatch()
        if self._pool.used > self._pool.total:
            self._fit_capacity(batch)
        self._schedule_running(batch)
        if not batch.preempted:
            self._schedule_waiting(batch, now)
        if not batch.seqs:
            return self._result(batch, now, 0.0, 0.0)
        # base_step_time, inline: this is the hot path of every driver
        base = self._a + self._b * batch.prefill + self._c * batch.kv + self._d * len(batch.seqs)
        duration = base * self._slowdown * self._jitter.next()
        end = now + duration
        self._apply(batch, end)
        self._steps += 1
        self._busy += duration
        self._busy_until = end
        return self._result(batch, now, duration, self._b * batch.prefill / base)

    def _fit_capacity(self, batch: StepBatch) -> None:
        while self._pool.used > self._pool.total and self._running:
            self._preempt(self._running.pop(), batch)

    def _schedule_running(self, batch: StepBatch) -> None:
        running, bs = self._running, self._bs
        budget = self.config.max_num_batched_tokens
        i = 0
        while i < len(running) and budget > 0:
            seq = running[i]
            n = seq.total - seq.computed
            n = n if n < budget else budget
            need = (seq.computed + n + bs - 1) // bs - len(seq.shared) - seq.private
            if need > 0 and not self._grow(seq, need, batch):
                break  # ``seq`` preempted itself: it was the newest
            batch.add(seq, n)
            budget -= n
            i += 1

    def _grow(self, seq: SeqState, need: int, batch: StepBatch) -> bool:
        while not self._pool.allocate(need):
            victim = self._running.pop()
            self._preempt(victim, batch)
            if victim is seq:
                return False
        seq.private += need
        return True

    def _preempt(self, seq: SeqState, batch: StepBatch) -> None:
        self._pool.release(seq.shared, seq.private)
        seq.shared, seq.private, seq.computed, seq.published = [], 0, 0, False
        seq.preemptions += 1
        self._preemptions += 1
        self._waiting.appendleft(seq)
        batch.preempted.append(seq.request_id)

    def _schedule_waiting(self, batch: StepBatch, now: float) -> None:
        waiting, running = self._waiting, self._running
        budget = self.config.max_num_batched_tokens - batch.tokens
        while waiting and budget > 0 and len(running) < self.config.max_num_seqs:
            seq = waiting[0]
            if self._pool.blocks_for(seq.prompt + seq.max_tokens) > self._pool.total:
                waiting.popleft()  # a KV shrink left it no room, ever
                del self._by_id[seq.request_id]
                batch.done.append(seq.finished(now, "abort"))
                continue
            n = self._admit(seq, budget, now)
            if n == 0:
                break
            waiting.popleft()
            running.append(seq)
            batch.add(seq, n)
            budget -= n

    def _admit(self, seq: SeqState, budget: int, now: float) -> int:
        """Give ``seq`` its cached prefix and first blocks; 0 when the cache is too full."""
        pool, bs = self._pool, self._bs
        hits, revived = pool.match(seq.hashes, (seq.total - 1) // bs)
        cached = hits * bs
        n = min(seq.total - cached, budget)
        need = pool.blocks_for(cached + n) - hits
        reserve = int(self.config.watermark * pool.total) if self._running else 0
        if need + revived > pool.free - reserve:
            return 0
        pool.acquire(seq.hashes[:hits])
        pool.allocate(need)
        seq.shared, seq.private, seq.computed = list(seq.hashes[:hits]), need, cached
        self._queries += seq.total
        self._hits += cached
        if seq.scheduled is None:
            seq.scheduled, seq.cached = now, cached
        return n

    def _apply(self, batch: StepBatch, end: float) -> None:
        done: list[SeqState] = []
        first, nxt, gaps = batch.first, batch.next, batch.gaps
        for seq, n in batch.seqs:
            seq.computed += n
            if seq.computed < seq.total:
                continue  # a prompt chunk: no token yet
            if not seq.published:
                self._publish(seq)
            seq.generated += 1
            seq.total += 1
            if seq.first_token is None:
                seq.first_token = end
                self._prompt_tokens += seq.prompt
                first.append(seq.request_id)
            else:
                nxt.append(seq.request_id)
                gaps.append(end - seq.last_emit)
            seq.last_emit = end
            if seq.generated >= seq.max_tokens:
                done.append(seq)
        self._generation_tokens += len(first) + len(nxt)
        if done:
            self._running = [s for s in self._running if s.generated < s.max_tokens]
            batch.done.extend(self._finish(s, end) for s in done)

    def _publish(self, seq: SeqState) -> None:
        """The prompt is in the cache now: its full blocks become shareable."""
        fresh = seq.hashes[len(seq.shared) :]
        self._pool.publish(fresh)
        seq.private -= len(fresh)
        seq.shared.extend(fresh)
        seq.published = True

    def _finish(self, seq: SeqState, end: float) -> FinishedRequest:
        self._pool.release(seq.shared, seq.private)
        del self._by_id[seq.request_id]
        self._finished += 1
        return seq.finished(end, "length")

    def _result(
        self, batch: StepBatch, now: float, duration: float, compute_fraction: float
    ) -> StepResult:
        return StepResult(
            start=now,
            duration=duration,
            num_seqs=len(batch.seqs),
            prefill_tokens=batch.prefill,
            decode_tokens=batch.tokens - batch.prefill,
            kv_tokens=batch.kv,
            compute_fraction=compute_fraction,
            first_tokens=tuple(batch.first),
            next_tokens=tuple(batch.next),
            next_token_gaps=tuple(batch.gaps),
            finished=tuple(batch.done),
            preempted=tuple(batch.preempted),
        )

    # ----- many decode iterations at once ------------------------------------------------
    def plan_decode(self, now: float, max_steps: int | None = None) -> DecodePlan | None:
        """Plan the coming run of pure-decode steps, or None when the next step is not one.

        A run lasts until the first request finishes (its last step) or the KV cache could
        run short. Nothing changes until :meth:`commit_decode`; submitting requests meanwhile
        is fine (they wait for the step after the ones committed).
        """
        running, pool, bs = self._running, self._pool, self._bs
        n = len(running)
        cfg = self.config
        if (
            (self._waiting and n < cfg.max_num_seqs)
            or not n
            or n > cfg.max_num_batched_tokens
            or pool.used > pool.total
        ):
            return None
        steps, slack, kv0 = max_steps or 1 << 30, 1 << 30, 0
        for s in running:  # the hot loop of the virtual driver: no calls
            if s.first_token is None or s.computed + 1 != s.total:
                return None
            left = s.max_tokens - s.generated
            room = (len(s.shared) + s.private) * bs - s.computed
            steps = left if left < steps else steps
            slack = room if room < slack else slack
            kv0 += s.total
        steps = min(steps, slack + bs * ((pool.total - pool.used) // n))
        if steps < 2:
            return None
        window = self._jitter.window(steps)
        first, inc, slow = self._a + self._c * kv0 + self._d * n, self._c * n, self._slowdown
        return DecodePlan(
            start=now,
            end=now + slow * window.linear_sum(steps, first, inc),
            num_seqs=n,
            first=first,
            inc=inc,
            slowdown=slow,
            window=window,
            version=self._version,
        )

    def commit_decode(self, plan: DecodePlan, steps: int) -> DecodeRun:
        """Apply the first ``steps`` steps of ``plan``, as that many :meth:`step` calls would."""
        planned = plan.window.length
        if plan.version != self._version or not 0 < steps <= planned:
            raise ValueError("stale decode plan or bad step count: plan again")
        last = steps == planned  # only the planned run's last step can finish requests
        end = plan.end if last else plan.start + plan.elapsed(steps)
        bs, grown, leaving = self._bs, 0, []
        for s in self._running:  # every one is decoding: computed + 1 == total
            computed = s.computed = s.computed + steps
            s.total = computed + 1
            s.generated += steps
            s.last_emit = end
            need = (computed + bs - 1) // bs - len(s.shared) - s.private
            if need > 0:
                s.private += need
                grown += need
            if last and s.generated >= s.max_tokens:
                leaving.append(s)
        if grown:
            self._pool.allocate(grown)
        self._jitter.advance(steps)
        self._generation_tokens += plan.num_seqs * steps
        self._steps += steps
        self._busy += end - plan.start
        self._busy_until = end
        self._version += 1
        done: tuple[FinishedRequest, ...] = ()
        if leaving:
            done = tuple(self._finish(s, end) for s in leaving)
            self._running = [s for s in self._running if s.generated < s.max_tokens]
        return DecodeRun(plan=plan, steps=steps, end=end, finished=done)
