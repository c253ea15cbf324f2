"""The real-time driver: one engine stepping on the wall clock, streaming tokens to requests.

Each iteration is scheduled when the previous one ends, so a request that arrives mid-step
joins the next one, as in vLLM. If the event loop falls behind (an overloaded CPU), the next
step simply starts late and the lag shows in the latencies, as it would on a real server, and
in ``perfops_sim_loop_lag_seconds``: how late each iteration ended against the time the model
gave it, so a load test can tell a slow model from a starved simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import numpy as np

from perfops.sim._records import EngineConfig, FinishedRequest, Request, StepResult
from perfops.sim.metrics import EngineMetrics
from perfops.sim.model import Engine
from perfops.sim.profiles import ServingProfile

__all__ = ["Replica", "TokenStream"]

_CATCH_UP = 0.005  # seconds


class TokenStream:
    """Tokens produced for one request, handed to the HTTP writer as they come."""

    __slots__ = (
        "_event",
        "arrival",
        "done",
        "error",
        "explicit_max",
        "first_at",
        "hold_until",
        "pending",
        "produced",
        "request_id",
    )

    def __init__(self, request_id: str, arrival: float, explicit_max: bool) -> None:
        self.request_id = request_id
        self.arrival = arrival
        self.explicit_max = explicit_max
        self.pending = 0
        self.produced = 0
        self.first_at: float | None = None
        self.done: FinishedRequest | None = None
        self.error: str | None = None
        self.hold_until = 0.0  # loop time before which no token is handed out (TTFT fault)
        self._event = asyncio.Event()

    def push(self, n: int = 1) -> None:
        self.pending += n
        self.produced += n
        self._event.set()

    def close(self, done: FinishedRequest | None, error: str | None = None) -> None:
        self.done = done
        self.error = error
        self._event.set()

    @property
    def finished(self) -> bool:
        return self.done is not None or self.error is not None

    async def next(self) -> int:
        """Wait for tokens; returns how many arrived (0 when the stream is over)."""
        while not self.pending and not self.finished:
            self._event.clear()
            await self._event.wait()
        if self.hold_until:
            wait = self.hold_until - asyncio.get_running_loop().time()
            if wait > 0:
                await asyncio.sleep(wait)
        n, self.pending = self.pending, 0
        return n


class Replica:
    """One simulated vLLM server process (``tensor_parallel`` GPUs)."""

    def __init__(
        self,
        index: int,
        profile: ServingProfile,
        config: EngineConfig,
        *,
        seed: int,
        model_name: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.index = index
        self.profile = profile
        self.config = config
        self.seed = seed
        self.model_name = model_name
        self._clock = clock
        self._t0 = clock()
        self.engine = self._new_engine()
        self.metrics = EngineMetrics(
            lambda: self.engine.stats(), model_name=model_name, max_model_len=config.max_model_len
        )
        self.streams: dict[str, TokenStream] = {}
        self.healthy = True
        self.down = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.restarts = 0
        self.compute_seconds = 0.0  # busy time spent in prefill GEMMs
        self.extra_ttft = 0.0  # fault: seconds added before each request's first token
        self.step_delay = 0.0  # fault: seconds added to every iteration (every token)

    def _new_engine(self) -> Engine:
        rng = np.random.default_rng([self.seed, self.index, getattr(self, "restarts", 0)])
        return Engine(self.profile, self.config, rng=rng)

    def now(self) -> float:
        """Seconds since this replica started (the engine's clock)."""
        return self._clock() - self._t0

    @property
    def outstanding(self) -> int:
        return len(self.streams)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"replica-{self.index}"
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def crash(self, reason: str) -> None:
        """Lose everything in flight (the process died): streams fail, the cache is cold."""
        for stream in list(self.streams.values()):
            stream.close(None, reason)
            self.metrics.success.labels(
                model_name=self.model_name, engine="0", finished_reason="abort"
            ).inc()
        self.streams.clear()
        self.restarts += 1
        self.engine = self._new_engine()

    # -- requests ---------------------------------------------------------------------------

    def submit(
        self,
        request_id: str,
        prompt_tokens: int,
        max_tokens: int,
        hashes: tuple[int, ...],
        explicit_max: bool,
    ) -> TokenStream | None:
        """Queue a request; None when the waiting queue is full. RequestRejected if it can
        never be served."""
        now = self.now()
        req = Request(request_id, prompt_tokens, max_tokens, now, hashes)
        if not self.engine.submit(req):
            return None
        stream = TokenStream(request_id, now, explicit_max)
        self.streams[request_id] = stream
        self._wake.set()
        return stream

    def cancel(self, request_id: str) -> None:
        """The client went away: free its KV blocks."""
        stream = self.streams.pop(request_id, None)
        done = self.engine.abort(request_id, self.now())
        if stream is not None and done is not None:
            self.metrics.finished(done, "abort")

    # -- the loop ---------------------------------------------------------------------------

    async def _run(self) -> None:
        step_end = 0.0  # when the previous iteration ended, on the engine's clock
        while True:
            if not self.engine.has_work:
                self._wake.clear()
                await self._wake.wait()
                continue
            now = self.now()
            # Back-to-back iterations start where the last one ended: timer overshoot and
            # delivery work (well under a millisecond) must not stretch every step. Falling
            # further behind than _CATCH_UP means the host is overloaded, and that shows.
            start = step_end if 0 <= now - step_end < _CATCH_UP else now
            result = self.engine.step(start)
            if result.duration <= 0:
                self._deliver(result)
                await asyncio.sleep(0.001)
                continue
            step_end = result.end + self.step_delay
            delay = step_end - self.now()
            if delay > 0:
                await asyncio.sleep(delay)
            # how far the loop fell behind: the step's CPU work plus the wake-up, past the
            # end the model gave it (exported as perfops_sim_loop_lag_seconds)
            self.metrics.step_late(self.now() - step_end)
            self._deliver(result)

    def _deliver(self, result: StepResult) -> None:
        streams, metrics = self.streams, self.metrics
        self.compute_seconds += result.duration * result.compute_fraction
        extra = self.extra_ttft
        for rid in result.first_tokens:
            stream = streams.get(rid)
            if stream is not None:
                stream.first_at = result.end + extra
                if extra:
                    stream.hold_until = asyncio.get_running_loop().time() + extra
                metrics.first_token(result.end + extra - stream.arrival)
                stream.push()
        metrics.token_gaps(result.next_token_gaps)
        for rid in result.next_tokens:
            stream = streams.get(rid)
            if stream is not None:
                stream.push()
        for done in result.finished:
            stream = streams.pop(done.request_id, None)
            if stream is None:
                continue
            reason = (
                "abort" if done.reason == "abort" else ("length" if stream.explicit_max else "stop")
            )
            metrics.finished(done, reason)
            stream.close(done, "aborted by the engine" if done.reason == "abort" else None)
