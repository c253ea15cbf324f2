"""How much the load generator itself costs, against a server that costs nothing.

    python bench/loadgen_overhead.py [--peers] [--tools perfops,guidellm,aiperf]
        [--duration 5] [--max-tokens 16] [--write-mode event|body] [--out PATH]
    python bench/loadgen_overhead.py --headroom [--rates 500,1000] [--duration 10] [--repeats 3]

``--headroom`` is the focused mode for the client's own cost (``loadgen_headroom.py`` has its
docstring): perfops' client library against a minimal aiohttp client in the same run, both on
one pinned core against this server on the other, writing every SSE event separately; lag p99
at 500 and 1,000 req/s and CPU-s per 1,000 requests for both, and their ratios. The rest of
this docstring is the default mode, the CLI against its peers.

A zero-latency OpenAI server (aiohttp, this file run with ``--serve PORT``, pinned to CPU 1)
answers every ``POST /v1/completions`` and ``/v1/chat/completions`` at once: vLLM-shaped SSE
chunks, one per output token (``max_tokens``, or ``max_completion_tokens``, default 16), the
last with ``finish_reason: "length"``, then a usage chunk (``choices: []``) when
``stream_options.include_usage`` is set, then ``data: [DONE]``; ``stream: false`` gets one JSON
body. ``GET /v1/models`` lists ``bench-model``; ``GET /health`` (GuideLLM probes it) and
``GET /metrics`` (AIPerf scrapes it by default) answer 200. With ``--write-mode event`` (the
default, as vLLM does) each SSE event is its own write; ``body`` writes the whole stream at
once, which costs a client less CPU per request. Every figure says which mode it used.

Each load generator runs as a subprocess pinned to CPU 0 (its worker processes inherit the
pin; the harness itself stays on CPU 1), one subprocess per rate, constant-rate open-loop
arrivals, streaming ``--endpoint`` (chat by default, for every tool), 32 prompt tokens, 16
output chunks, ``--duration`` (5 s) per rate. For each tool:

(a) ``max_sustained_rps``: rates rise through a ladder (perfops 100, 250, 500, 1000, 1500,
    2000, 3000, 4000, 6000; peers 50, 100, 250, 500) and the highest rate whose run exited
    0, completed at least 95% of ``rate x duration`` requests, at an achieved rate
    (completed / max(reported duration, nominal)) of at least 95% of the target, with no
    errors, is kept. The ladder stops at the first rate that fails (500 is still run once,
    for (b)). ``completed`` is what the tool itself reports; the server's own count of
    answered requests is recorded beside it (``server_answered``).
    ``max_clean_rps`` also asks that the schedule was kept: lag p99 <= 10 ms.
    ``self_flagged_saturation_from_rps``: the lowest rate at which the tool itself said it
    fell behind (perfops: ``summary.client_limited``; GuideLLM: its ``root_late`` warning;
    AIPerf: "Event loop ... taking too long" warnings in its log).
(b) ``lag_p99_ms_at_500``: p99 of (actual send - scheduled send) at 500 req/s. perfops:
    ``summary.lag_ms.p99``. GuideLLM: ``metrics.request_dispatch_delay`` (request_start -
    targeted_start). AIPerf reports no schedule lag; it is derived from its
    ``profile_export.jsonl``: request_start_ns - (first credit_issued_ns + i / rate), in
    credit order (requests it dropped from its records are missing from that file).
(c) ``cpu_s_per_1k``: the client's CPU seconds (user + sys, ``getrusage(RUSAGE_CHILDREN)``
    around the subprocess, so its worker processes count once reaped) per 1,000 completed
    requests. The peers spend 10-20 CPU-s starting up (torch, tokenizer, services), which
    would swamp that figure, so ``cpu_s_per_1k_net`` leaves out what the client's process
    tree had used when its first request reached the server (the server reads it from
    /proc right then: ``cpu_s_startup``). Ratios are given at the highest rate both tools
    sustained and at 500 req/s.

The server's own CPU use per run is recorded (``server_cpu_util``): near 1.0 means the server,
not the client, was the limit (``first_failure_server_bound``).

How the peers run here (no network but PyPI; ``--peers`` installs them on demand):

- Both go into venvs under ``bench/.peers/`` (git-ignored), made with a Python 3.12 from pyenv
  (``$(pyenv root)/versions/3.12.*/bin/python -m venv``), ``pip install guidellm`` and
  ``pip install aiperf``. GuideLLM depends on torch, so its venv is ~6 GB (CUDA wheels from
  PyPI); AIPerf's ~1.2 GB.
- Both need a Hugging Face tokenizer and the hub is unreachable, so one is trained locally
  (``bench/.peers/tokenizer``: byte-level BPE, 8,000 tokens, trained with ``tokenizers`` on
  the Shakespeare text that AIPerf ships, else on Python's own stdlib sources). AIPerf's
  ``--tokenizer builtin`` downloads tiktoken data on first use, so it cannot run offline.
- GuideLLM (``guidellm run``)::

      HF_HUB_OFFLINE=1 guidellm run --backend kind=openai_http,model=bench-model,
          request_format=/v1/chat/completions,target=http://127.0.0.1:PORT
        --profile kind=constant,rate=R --constraint kind=max_duration,seconds=D
        --constraint kind=max_requests,count=R*D
        --data kind=synthetic_text,prompt_tokens=32,output_tokens=16
        --tokenizer kind=huggingface_auto,model=bench/.peers/tokenizer
        --output kind=json,path=OUT/benchmarks.json --disable-console-interactive

  (``constant`` is GuideLLM's open-loop constant-rate profile; default worker processes.)
- AIPerf (``aiperf profile``, HF_HUB_OFFLINE must be unset: with it set, 0.13.0 fails to load
  a local tokenizer)::

      aiperf profile --model bench-model --url http://127.0.0.1:PORT --endpoint-type chat
        --streaming --request-rate R --arrival-pattern constant --request-count R*D
        --benchmark-duration D --benchmark-grace-period 5 --isl 32 --isl-stddev 0 --osl 16
        --tokenizer bench/.peers/tokenizer --no-server-metrics --no-gpu-telemetry --ui none
        --artifact-dir OUT

  (``--no-gpu-telemetry``: without it every run waits ~30 s at the end for its GPU
  telemetry service to time out; defaults otherwise, one worker on 2 CPUs.)

perfops runs as ``perfops load run --url http://127.0.0.1:PORT/v1 --model bench-model
--endpoint chat --rate R --duration Ds --arrival constant --max-tokens 16 --prompt-tokens 32
--json OUT.json`` (one worker process). The whole benchmark, perfops and both peers, takes
about 4-5 minutes once the peers are installed (a GuideLLM run costs ~30 s of wall time
whatever its rate; AIPerf's ~17 s); installing them takes a few minutes more (~7 GB).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS_DIR = HERE / ".peers"
MODEL = "bench-model"
PROMPT_TOKENS = 32
SERVER_CPU, CLIENT_CPU = 1, 0
PERFOPS_RATES = (100, 250, 500, 1000, 1500, 2000, 3000, 4000, 6000)
PEER_RATES = (50, 100, 250, 500)
LAG_RATE = 500
ROUTES = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}
PASS_FRACTION = 0.95
LAG_BUDGET_MS = 10.0  # a "clean" run also kept its schedule: lag p99 within this

# --------------------------------------------------------------------------- the server


def _events(path: str, model: str, n: int, usage_of: int | None) -> list[bytes]:
    """The SSE events of one streamed answer of ``n`` tokens, vLLM's shape, pre-encoded.

    ``usage_of``: the prompt's token count when the client asked for
    ``stream_options.continuous_usage_stats`` (vLLM then puts the running usage in every
    chunk), else None.
    """
    chat = path.endswith("chat/completions")
    head: dict[str, Any] = {"id": "chatcmpl-bench" if chat else "cmpl-bench"}
    head |= {"object": "chat.completion.chunk" if chat else "text_completion", "created": 1}
    head["model"] = model
    choices: list[dict[str, Any]] = []
    if chat:
        choices.append({"index": 0, "delta": {"role": "assistant", "content": ""}})
    for _ in range(n):
        part = {"delta": {"content": " the"}} if chat else {"text": " the"}
        choices.append({"index": 0, **part})
    out = []
    for i, choice in enumerate(choices):
        done = i == len(choices) - 1
        choice |= {"logprobs": None, "finish_reason": "length" if done else None}
        chunk = {**head, "choices": [choice]}
        if not chat:
            choice["stop_reason"] = None
            chunk["usage"] = None
        if usage_of is not None:
            chunk["usage"] = _usage(usage_of, i + (0 if chat else 1))
        out.append(_sse(chunk))
    return out


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "total_tokens": prompt + completion} | {
        "completion_tokens": completion
    }


def _sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


def _prompt_tokens(body: dict[str, Any]) -> int:
    """Whitespace words in the prompt: a cheap stand-in for a tokenizer."""
    texts: list[str] = []
    prompt = body.get("prompt")
    if prompt is not None:
        texts = [prompt] if isinstance(prompt, str) else [p for p in prompt if isinstance(p, str)]
    for msg in body.get("messages") or ():
        content = msg.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [p.get("text", "") for p in content if isinstance(p, dict)]
    return sum(len(t.split()) for t in texts)


def _tree_cpu_s(root: int | None) -> float | None:
    """CPU seconds used so far by process ``root`` and its descendants (reaped ones too)."""
    if root is None:
        return None
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(stat[1]), []).append(pid)
        ticks[pid] = sum(int(x) for x in stat[11:15])  # utime stime cutime cstime
    todo, total = [root], 0
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


class _Stats:
    """What the server counted since the harness last reset it."""

    def __init__(self) -> None:
        self.requests = 0
        self.client_pid: int | None = None
        self.client_cpu_at_first: float | None = None
        self.hangups = 0
        self.not_found: dict[str, int] = {}

    def count(self) -> None:
        if self.requests == 0:
            self.client_cpu_at_first = _tree_cpu_s(self.client_pid)
        self.requests += 1


def serve(port: int, write_mode: str) -> None:
    """The zero-latency server; runs until killed."""
    from aiohttp import web

    os.sched_setaffinity(0, {SERVER_CPU})
    cache: dict[tuple[str, str, int, int | None], list[bytes]] = {}
    stats = _Stats()
    done = b"data: [DONE]\n\n"

    async def complete(request: web.Request) -> web.StreamResponse:
        try:
            return await answer(request)
        except ConnectionResetError:  # a client cancelled in-flight requests as it stopped
            stats.hangups += 1
            return web.Response(status=499)

    async def answer(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        stats.count()
        path, model = request.path, str(body.get("model") or MODEL)
        n = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        usage = _usage(_prompt_tokens(body), n)
        if not body.get("stream"):
            return web.json_response(_whole(path, model, n, usage))
        options = body.get("stream_options") or {}
        continuous = usage["prompt_tokens"] if options.get("continuous_usage_stats") else None
        key = (path, model, n, continuous)
        events = cache.get(key) or cache.setdefault(key, _events(path, model, n, continuous))
        tail = [done]
        if options.get("include_usage"):
            chat = path.endswith("chat/completions")
            chunk = {"id": "chatcmpl-bench" if chat else "cmpl-bench"}
            chunk["object"] = "chat.completion.chunk" if chat else "text_completion"
            chunk |= {"created": 1, "model": model, "choices": [], "usage": usage}
            tail.insert(0, _sse(chunk))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        if write_mode == "body":
            await resp.write(b"".join(events + tail))
        else:
            for event in events + tail:
                await resp.write(event)
        await resp.write_eof()
        return resp

    async def models(_: web.Request) -> web.Response:
        card = {"id": MODEL, "object": "model", "created": 1, "owned_by": "perfops-bench"}
        return web.json_response({"object": "list", "data": [card]})

    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="")

    async def bench_stats(_: web.Request) -> web.Response:
        return web.json_response(vars(stats))

    async def bench_reset(request: web.Request) -> web.Response:
        nonlocal stats
        stats = _Stats()
        pid = request.query.get("client_pid")
        stats.client_pid = int(pid) if pid else None
        return web.json_response(vars(stats))

    async def fallback(request: web.Request) -> web.Response:
        key = f"{request.method} {request.path}"
        stats.not_found[key] = stats.not_found.get(key, 0) + 1
        return web.Response(status=404, text=f"not served by the bench server: {key}")

    app = web.Application()
    app.router.add_post("/v1/completions", complete)
    app.router.add_post("/v1/chat/completions", complete)
    app.router.add_get("/v1/models", models)
    for path in ("/health", "/metrics", "/ping", "/version"):
        app.router.add_get(path, ok)
    app.router.add_get("/_bench/stats", bench_stats)
    app.router.add_post("/_bench/reset", bench_reset)
    app.router.add_route("*", "/{tail:.*}", fallback)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _whole(path: str, model: str, n: int, usage: dict[str, int]) -> dict[str, Any]:
    text = " the" * n
    if path.endswith("chat/completions"):
        msg = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": msg, "logprobs": None, "finish_reason": "length"}
        kind, id_ = "chat.completion", "chatcmpl-bench"
    else:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": "length"}
        kind, id_ = "text_completion", "cmpl-bench"
    return {"id": id_, "object": kind, "created": 1, "model": model, "choices": [choice]} | {
        "usage": usage
    }


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[bytes]

    def call(self, path: str, method: str = "GET") -> Any:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def bench_server(write_mode: str) -> Iterator[Server]:
    cmd = [sys.executable, __file__, "--serve", str(free_port()), "--write-mode", write_mode]
    server = Server(int(cmd[3]), subprocess.Popen(cmd))
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                server.call("/v1/models")
                break
            except OSError:
                if server.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the bench server did not start") from None
                time.sleep(0.05)
        yield server
    finally:
        server.proc.terminate()
        server.proc.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- running a client


@dataclass
class Outcome:
    """What one tool reported for one run, in common terms."""

    completed: int
    errors: int
    duration_s: float
    lag_p50_ms: float | None = None
    lag_p99_ms: float | None = None
    saturated: bool | None = None  # the tool's own "I fell behind" signal; None: it has none
    note: str = ""


@dataclass
class Run:
    rate: int
    passed: bool
    clean: bool
    saturated: bool | None
    completed: int
    errors: int
    duration_s: float
    achieved_rps: float
    lag_p50_ms: float | None
    lag_p99_ms: float | None
    cpu_s: float
    cpu_s_startup: float | None
    cpu_s_per_1k: float | None
    cpu_s_per_1k_net: float | None
    wall_s: float
    server_answered: int
    server_cpu_util: float
    command: str
    note: str = ""


@dataclass
class Tool:
    """One load generator: how to run it at a rate and read what it reported."""

    name: str
    command: Callable[[str, int, float, Path], list[str]]
    parse: Callable[[Path, int], Outcome]
    rates: tuple[int, ...]
    env: dict[str, str] = field(default_factory=dict)
    about: dict[str, Any] = field(default_factory=dict)


def run_once(tool: Tool, server: Server, rate: int, duration: float, work: Path) -> Run:
    out = work / f"{tool.name}-{rate}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = tool.command(f"http://127.0.0.1:{server.port}", rate, duration, out)
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"} | tool.env
    server_cpu0 = server.cpu_s()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    rc, tail = _spawn(cmd, env, duration * 4 + 120, out / "client.log", server)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stats = server.call("/_bench/stats")
    server_util = (server.cpu_s() - server_cpu0) / wall
    try:
        got = tool.parse(out, rate)
    except (OSError, KeyError, ValueError, IndexError, TypeError) as exc:
        got = Outcome(0, 0, duration, note=f"no result ({exc!r}); log tail: {tail}")
    achieved = got.completed / max(got.duration_s, duration)
    passed = (
        rc == 0
        and got.errors == 0
        and got.completed >= PASS_FRACTION * rate * duration
        and achieved >= PASS_FRACTION * rate
    )
    startup = stats["client_cpu_at_first"]
    lag_ok = got.lag_p99_ms is not None and got.lag_p99_ms <= LAG_BUDGET_MS
    return Run(
        rate=rate,
        passed=passed,
        clean=passed and lag_ok,
        saturated=got.saturated,
        completed=got.completed,
        errors=got.errors,
        duration_s=round(got.duration_s, 3),
        achieved_rps=round(achieved, 1),
        lag_p50_ms=_round(got.lag_p50_ms),
        lag_p99_ms=_round(got.lag_p99_ms),
        cpu_s=round(cpu, 3),
        cpu_s_startup=_round(startup),
        cpu_s_per_1k=_per_1k(cpu, got.completed),
        cpu_s_per_1k_net=_per_1k(cpu - startup, got.completed) if startup is not None else None,
        wall_s=round(wall, 2),
        server_answered=stats["requests"],
        server_cpu_util=round(server_util, 2),
        command=shlex.join(cmd),
        note=(got.note if rc == 0 else f"exit {rc}. {got.note} {tail if not got.note else ''}")
        + (f" server 404s: {stats['not_found']}" if stats["not_found"] else "")
        + (f" client hang-ups: {stats['hangups']}" if stats["hangups"] else ""),
    )


def _example(command: Callable[[str, int, float, Path], list[str]]) -> str:
    return shlex.join(command("http://127.0.0.1:PORT", LAG_RATE, 5.0, Path("OUT")))


def _per_1k(cpu: float, completed: int) -> float | None:
    return round(cpu / completed * 1000, 3) if completed else None


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _spawn(
    cmd: list[str], env: dict[str, str], timeout: float, log: Path, server: Server
) -> tuple[int, str]:
    """Run ``cmd`` pinned to the client CPU in its own session; (exit code, log tail)."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=lambda: os.sched_setaffinity(0, {CLIENT_CPU}),
        )
        # the server measures the client's CPU at its first request: start-up excluded
        server.call(f"/_bench/reset?client_pid={proc.pid}", "POST")
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc = proc.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # stray workers of this run
    return rc, log.read_text(errors="replace")[-800:]


def ladder(tool: Tool, server: Server, duration: float, work: Path) -> list[Run]:
    """Rates in rising order until one fails; LAG_RATE is run regardless, for (b)."""
    runs: list[Run] = []
    for rate in tool.rates:
        runs.append(run_once(tool, server, rate, duration, work))
        _show(tool.name, runs[-1])
        if not runs[-1].passed:
            if rate < LAG_RATE:
                runs.append(run_once(tool, server, LAG_RATE, duration, work))
                _show(tool.name, runs[-1])
            break
    return runs


def _show(name: str, run: Run) -> None:
    keys = ("rate", "passed", "clean", "saturated", "completed", "errors", "achieved_rps")
    keys += (
        "lag_p99_ms",
        "cpu_s",
        "cpu_s_startup",
        "cpu_s_per_1k_net",
        "wall_s",
        "server_cpu_util",
    )
    print(f"  {name:8s}", " ".join(f"{k}={getattr(run, k)}" for k in keys), flush=True)
    if run.note:
        print(f"  {'':8s} note: {run.note[:600]}", flush=True)


def summarize(runs: list[Run]) -> dict[str, Any]:
    ok = [r for r in runs if r.passed]
    best = max(ok, key=lambda r: r.rate) if ok else None
    clean = [r.rate for r in runs if r.clean]
    at_lag = next((r for r in runs if r.rate == LAG_RATE), None)
    failed = next((r for r in runs if not r.passed), None)
    flagged = [r.rate for r in runs if r.saturated]
    return {
        "max_sustained_rps": best.rate if best else None,
        "max_clean_rps": max(clean, default=None),
        "self_flagged_saturation_from_rps": min(flagged, default=None),
        "lag_p99_ms_at_500": at_lag.lag_p99_ms if at_lag else None,
        "cpu_s_per_1k_at_max": best.cpu_s_per_1k if best else None,
        "cpu_s_per_1k_net_at_max": best.cpu_s_per_1k_net if best else None,
        "first_failure_server_bound": (failed.server_cpu_util >= 0.9) if failed else None,
        "runs": [asdict(r) for r in runs],
    }


def compare(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """perfops / peer for each figure; CPU per request compared at the highest rate both
    sustained (same load, so the same work per request) and at 500 req/s."""
    mine = results.get("perfops", {})
    if "runs" not in mine:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name, peer in results.items():
        if name == "perfops" or "runs" not in peer:
            continue
        common = _passed_rates(mine) & _passed_rates(peer)
        rate = max(common, default=None)
        out[name] = {
            "max_sustained_rps": _ratio(mine["max_sustained_rps"], peer["max_sustained_rps"]),
            "max_clean_rps": _ratio(mine["max_clean_rps"], peer["max_clean_rps"]),
            "lag_p99_ms_at_500": _ratio(mine["lag_p99_ms_at_500"], peer["lag_p99_ms_at_500"]),
            "common_rate": rate,
        }
        for key in ("cpu_s_per_1k", "cpu_s_per_1k_net"):
            out[name][f"{key}_at_common_rate"] = (
                _ratio(_at(mine, rate, key), _at(peer, rate, key)) if rate else None
            )
            out[name][f"{key}_at_500"] = _ratio(_at(mine, 500, key), _at(peer, 500, key))
    return out


def _passed_rates(result: dict[str, Any]) -> set[int]:
    return {r["rate"] for r in result["runs"] if r["passed"]}


def _at(result: dict[str, Any], rate: int, key: str) -> float | None:
    return next((r[key] for r in result["runs"] if r["rate"] == rate), None)


def _ratio(a: float | None, b: float | None) -> float | None:
    return float(f"{a / b:.3g}") if a is not None and b else None


# --------------------------------------------------------------------------- perfops


def perfops_tool(max_tokens: int, endpoint: str) -> Tool | str:
    """perfops driven through its CLI, or why it cannot be."""
    exe = REPO / ".venv" / "bin" / "perfops"
    if not exe.exists():
        return f"{exe} not found: run `make` (or `uv sync`) first"
    probe = subprocess.run(
        [exe, "load", "run", "--help"], capture_output=True, text=True, timeout=60
    )
    if probe.returncode != 0:
        return f"`perfops load run` is not available yet: {probe.stderr.strip()[-300:]}"
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)

    def command(url: str, rate: int, duration: float, out: Path) -> list[str]:
        return [
            *(str(exe), "load", "run", "--url", f"{url}/v1", "--model", MODEL),
            *("--endpoint", endpoint),
            *("--rate", str(rate), "--duration", f"{duration:g}s", "--arrival", "constant"),
            *("--max-tokens", str(max_tokens), "--prompt-tokens", str(PROMPT_TOKENS)),
            *("--json", str(out / "perfops.json")),
        ]

    def parse(out: Path, rate: int) -> Outcome:
        summary = json.loads((out / "perfops.json").read_text())["summary"]
        lag = summary.get("lag_ms") or {}
        return Outcome(
            completed=int(summary["completed"]),
            errors=sum((summary.get("errors") or {}).values()),
            duration_s=float(summary["duration_s"]),
            lag_p50_ms=lag.get("p50"),
            lag_p99_ms=lag.get("p99"),
            saturated=summary.get("client_limited"),
        )

    about = {"version": version.stdout.strip(), "install": "this repository (uv sync)"}
    about["invocation_at_500"] = _example(command)
    return Tool("perfops", command, parse, PERFOPS_RATES, about=about)


# --------------------------------------------------------------------------- the peers

PEERS = {"guidellm": "guidellm", "aiperf": "aiperf"}  # name -> what pip installs


def python312() -> str | None:
    """A Python 3.12 for the peers' venvs: pyenv's, else one on PATH."""
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    if shutil.which("pyenv"):
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True)
        roots.insert(0, root.stdout.strip())
    for root in filter(None, roots):
        found = sorted(Path(root, "versions").glob("3.12.*/bin/python"))
        if found:
            return str(found[-1])
    return shutil.which("python3.12")


def peer_venv(name: str, peers_dir: Path, install: bool) -> tuple[Path, dict[str, Any]] | str:
    """The venv holding peer ``name``, installed on demand; or why there is none."""
    venv = peers_dir / f"venv-{name}"
    exe = venv / "bin" / name
    about: dict[str, Any] = {"venv": str(venv)}
    if not exe.exists():
        if not install:
            return f"{exe} not installed (run with --peers to install it)"
        python = python312()
        if python is None:
            return "no Python 3.12 found (pyenv or python3.12 on PATH)"
        print(f"installing {name} into {venv} (pip, from PyPI; GuideLLM pulls torch) ...")
        steps = [[python, "-m", "venv", str(venv)]]
        steps.append([str(venv / "bin" / "pip"), "install", "-q", PEERS[name]])
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=1800)
            if done.returncode != 0:
                return f"`{shlex.join(step)}` failed: {done.stderr.strip()[-500:]}"
        about["installed_now"] = True
    py = venv / "bin" / "python"
    probe = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]), sys.version)"
    got = subprocess.run([py, "-c", probe, PEERS[name]], capture_output=True, text=True)
    if got.returncode != 0:
        return f"{venv} is broken: {got.stderr.strip()[-300:]}"
    version, _, pyver = got.stdout.strip().partition(" ")
    about |= {"version": version, "python": pyver.split()[0], "install": f"pip install {name}"}
    return venv, about


TOKENIZER_SCRIPT = """
import pathlib, sys, sysconfig
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast
try:
    import aiperf
    files = [pathlib.Path(aiperf.__file__).parent / "dataset/generator/assets/shakespeare.txt"]
except ImportError:
    files = sorted(pathlib.Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=8000, special_tokens=["<|endoftext|>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train([str(f) for f in files if f.exists()], trainer)
eos = "<|endoftext|>"
PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=eos, eos_token=eos, unk_token=eos,
                        model_max_length=131072).save_pretrained(sys.argv[1])
print(files[0])
"""


def local_tokenizer(peers_dir: Path, venvs: list[Path]) -> Path | str:
    """A Hugging Face tokenizer made here (the hub is out of reach), trained once."""
    out = peers_dir / "tokenizer"
    if (out / "tokenizer.json").exists():
        return out
    errors = []
    for venv in venvs:  # the AIPerf venv first: its Shakespeare text is the nicer corpus
        cmd = [str(venv / "bin" / "python"), "-c", TOKENIZER_SCRIPT, str(out)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode == 0:
            return out
        errors.append(done.stderr.strip()[-300:])
    return f"could not build a local tokenizer: {errors}"


def guidellm_tool(
    venv: Path, about: dict[str, Any], tokenizer: Path, max_tokens: int, endpoint: str
) -> Tool:
    exe = str(venv / "bin" / "guidellm")
    backend = f"kind=openai_http,model={MODEL},request_format={ROUTES[endpoint]}"

    def command(url: str, rate: int, duration: float, out: Path) -> list[str]:
        return [
            *(exe, "run", "--backend", f"{backend},target={url}"),
            *("--profile", f"kind=constant,rate={rate}"),
            *("--constraint", f"kind=max_duration,seconds={duration:g}"),
            *("--constraint", f"kind=max_requests,count={round(rate * duration)}"),
            "--data",
            f"kind=synthetic_text,prompt_tokens={PROMPT_TOKENS},output_tokens={max_tokens}",
            *("--tokenizer", f"kind=huggingface_auto,model={tokenizer}"),
            *("--output", f"kind=json,path={out / 'benchmarks.json'}"),
            "--disable-console-interactive",
        ]

    def parse(out: Path, rate: int) -> Outcome:
        bench = json.loads((out / "benchmarks.json").read_text())["benchmarks"][0]
        totals = bench["metrics"]["request_totals"]
        warnings = sorted({w["code"] for w in bench.get("warnings") or []})
        # request_start - targeted_start, per request: GuideLLM's own schedule lag
        lag = bench["metrics"]["request_dispatch_delay"]["total"]["percentiles"]
        return Outcome(
            completed=int(totals["successful"]),
            errors=int(totals["errored"]),
            duration_s=float(bench["duration"]),
            lag_p50_ms=lag["p50"] * 1000,
            lag_p99_ms=lag["p99"] * 1000,
            saturated="root_late" in warnings,
            note=f"incomplete={totals['incomplete']}; warnings={warnings}",
        )

    about["invocation_at_500"] = _example(command)
    about["env"] = {"HF_HUB_OFFLINE": "1"}
    about["lag_source"] = "metrics.request_dispatch_delay (request_start - targeted_start)"
    env = {"HF_HUB_OFFLINE": "1"}
    return Tool("guidellm", command, parse, PEER_RATES, env=env, about=about)


def aiperf_tool(
    venv: Path, about: dict[str, Any], tokenizer: Path, max_tokens: int, endpoint: str
) -> Tool:
    exe = str(venv / "bin" / "aiperf")

    def command(url: str, rate: int, duration: float, out: Path) -> list[str]:
        return [
            *(exe, "profile", "--model", MODEL, "--url", url, "--endpoint-type", endpoint),
            *("--streaming", "--request-rate", str(rate), "--arrival-pattern", "constant"),
            *("--request-count", str(round(rate * duration))),
            *("--benchmark-duration", f"{duration:g}", "--benchmark-grace-period", "5"),
            *("--isl", str(PROMPT_TOKENS), "--isl-stddev", "0", "--osl", str(max_tokens)),
            *("--tokenizer", str(tokenizer), "--no-server-metrics", "--no-gpu-telemetry"),
            *("--ui", "none", "--artifact-dir", str(out / "aiperf")),
        ]

    def parse(out: Path, rate: int) -> Outcome:
        summary = json.loads((out / "aiperf" / "profile_export_aiperf.json").read_text())
        completed = int(summary.get("completed_request_count", {}).get("avg", 0))
        errors = sum(e["count"] for e in summary.get("error_summary") or [])
        p50, p99 = _aiperf_lag_ms(out / "aiperf" / "profile_export.jsonl", rate)
        slow = (out / "client.log").read_text(errors="replace").count("taking too long to run")
        return Outcome(
            completed,
            errors,
            summary["benchmark_duration"]["avg"],
            p50,
            p99,
            saturated=slow > 0,
            note=f"{slow} 'event loop taking too long' warnings" if slow else "",
        )

    about["invocation_at_500"] = _example(command)
    about["env"] = {"HF_HUB_OFFLINE": "(unset)"}
    about["lag_source"] = (
        "AIPerf reports no schedule lag; derived here from profile_export.jsonl as "
        "request_start_ns - (first credit_issued_ns + i/rate), requests in credit order"
    )
    return Tool("aiperf", command, parse, PEER_RATES, about=about)


def _aiperf_lag_ms(records: Path, rate: int) -> tuple[float | None, float | None]:
    starts = []
    with records.open() as f:
        for line in f:
            meta = json.loads(line)["metadata"]
            if meta.get("benchmark_phase") == "profiling":
                starts.append((meta["credit_issued_ns"], meta["request_start_ns"]))
    if not starts:
        return None, None
    starts.sort()
    t0 = starts[0][0]
    lags = sorted((start - t0) / 1e6 - i * 1000 / rate for i, (_, start) in enumerate(starts))
    return _pct(lags, 50), _pct(lags, 99)


def _pct(xs: list[float], q: float) -> float:
    return xs[min(len(xs) - 1, int(q / 100 * len(xs)))]


def peer_tools(
    names: list[str], peers_dir: Path, install: bool, max_tokens: int, endpoint: str
) -> tuple[list[Tool], dict[str, dict[str, Any]]]:
    tools: list[Tool] = []
    skipped: dict[str, dict[str, Any]] = {}
    venvs: dict[str, tuple[Path, dict[str, Any]]] = {}
    for name in names:
        got = peer_venv(name, peers_dir, install)
        if isinstance(got, str):
            skipped[name] = {"skipped": got}
        else:
            venvs[name] = got
    order = sorted(venvs, key=lambda n: n != "aiperf")
    tokenizer = local_tokenizer(peers_dir, [venvs[n][0] for n in order]) if venvs else ""
    for name, (venv, about) in venvs.items():
        if isinstance(tokenizer, str):
            skipped[name] = {"skipped": tokenizer, **about}
            continue
        about["tokenizer"] = f"{tokenizer} (local byte-level BPE, 8,000 tokens)"
        make = guidellm_tool if name == "guidellm" else aiperf_tool
        tools.append(make(venv, about, tokenizer, max_tokens, endpoint))
    return tools, skipped


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    if "--headroom" in (sys.argv[1:] if argv is None else argv):
        import loadgen_headroom

        return loadgen_headroom.main(argv)
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    p.add_argument("--write-mode", choices=("event", "body"), default="event")
    p.add_argument("--peers", action="store_true", help="install missing peers on demand")
    p.add_argument("--tools", default="perfops,guidellm,aiperf")
    p.add_argument("--peers-dir", type=Path, default=PEERS_DIR)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per rate")
    p.add_argument("--max-tokens", type=int, default=16)
    p.add_argument("--endpoint", choices=tuple(ROUTES), default="chat")
    p.add_argument("--out", type=Path, default=HERE / "results" / "loadgen_overhead.json")
    p.add_argument("--keep", action="store_true", help="keep the tools' own output files")
    args = p.parse_args(argv)
    if args.serve:
        serve(args.serve, args.write_mode)
        return 0
    os.sched_setaffinity(0, {SERVER_CPU})  # the harness stays off the client's CPU
    names = [n.strip() for n in args.tools.split(",") if n.strip()]
    unknown = sorted(set(names) - {"perfops", *PEERS})
    if unknown:
        p.error(f"unknown tool(s) {unknown}; known: perfops, {', '.join(PEERS)}")
    results: dict[str, dict[str, Any]] = {}
    tools: list[Tool] = []
    if "perfops" in names:
        got = perfops_tool(args.max_tokens, args.endpoint)
        if isinstance(got, str):
            print(f"skipping perfops: {got}")
            results["perfops"] = {"skipped": got}
        else:
            tools.append(got)
    peers = [n for n in names if n in PEERS]
    found, skipped = peer_tools(
        peers, args.peers_dir.resolve(), args.peers, args.max_tokens, args.endpoint
    )
    tools += found
    for name, why in skipped.items():
        print(f"skipping {name}: {why['skipped']}")
    results |= skipped
    work = Path(tempfile.mkdtemp(prefix="loadgen_overhead-"))
    started = time.perf_counter()
    try:
        with bench_server(args.write_mode) as server:
            for tool in tools:
                print(f"{tool.name} {tool.about.get('version', '')}", flush=True)
                runs = ladder(tool, server, args.duration, work)
                results[tool.name] = tool.about | summarize(runs)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report = {
        "benchmark": "loadgen_overhead",
        "setup": {
            "server": f"aiohttp zero-latency SSE on CPU {SERVER_CPU}, write mode "
            f"{args.write_mode!r}",
            "client_cpu": CLIENT_CPU,
            "duration_s_per_rate": args.duration,
            "prompt_tokens": PROMPT_TOKENS,
            "max_tokens": args.max_tokens,
            "endpoint": ROUTES[args.endpoint] + " (streaming)",
            "pass_rule": f">= {PASS_FRACTION:.0%} of rate x duration completed, achieved rate "
            f">= {PASS_FRACTION:.0%} of target, no errors, exit 0",
            "cpu": "client user+sys from getrusage(RUSAGE_CHILDREN); *_net excludes the CPU "
            "the client used before its first request (start-up), measured by the server "
            "from /proc at that request",
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "total_wall_s": round(time.perf_counter() - started, 1),
        },
        "tools": results,
        "ratios_perfops_over_peer": compare(results),
    }
    if args.keep:
        report["setup"]["outputs"] = str(work)
    text = json.dumps(report, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
