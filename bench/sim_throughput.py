"""How fast the simulator runs.

    python bench/sim_throughput.py [--seconds 8] [--streams 512] [--out bench/results/sim.json]

1. SSE chunks/s that one `perfops sim` process sustains on one core (pinned with
   sched_setaffinity), driven by a client process on the other core. The baseline, measured in
   the same run the same way, is a bare aiohttp server that streams the same pre-encoded chunks
   as fast as it can with no model: the ratio says what the model, metrics and routing cost.
   Target: >= 20,000 chunks/s, so a 2-core laptop emulates >= 50 streams of an 8B model at real
   speed (50 streams / 12 ms ITL = 4,200 chunks/s) with room to spare.
2. The virtual-time driver: simulated seconds per wall second for 64 GPUs (64 x 8B/H100 TP1)
   at 100 req/s, ~1k-token prompts and ~200-token answers. Target: > 10x real time (a fleet-day
   in under 2.4 hours); on one idle 2.5 GHz vCPU it runs ~100x. The baseline, measured in the
   same run, is a plain driver that steps one engine a batch at a time (the reference the
   tests check the fast path against): the ratio says what planning decode runs as one event
   saves, whatever the machine.

    python bench/sim_throughput.py --virtual-only   # part 2 alone: no cores pinned, a few seconds
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import aiohttp

BARE_SERVER = textwrap.dedent("""
    import asyncio, os, sys
    from aiohttp import web
    os.sched_setaffinity(0, {0})
    CHUNK = (b'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m",'
             b'"choices":[{"index":0,"text":" the","logprobs":null,"finish_reason":null,'
             b'"stop_reason":null}]}\\n\\n')
    async def handle(request):
        body = await request.json()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for _ in range(body["max_tokens"]):
            await resp.write(CHUNK)
            await asyncio.sleep(0)
        await resp.write(b"data: [DONE]\\n\\n")
        return resp
    app = web.Application()
    app.router.add_post("/v1/completions", handle)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
""")

SIM_SERVER = textwrap.dedent("""
    import os, sys
    os.sched_setaffinity(0, {0})
    from perfops.cli._main import main
    sys.exit(main(["sim", "--replicas", "4", "--port", sys.argv[1], "--dcgm-port", sys.argv[2],
                   "--max-num-seqs", "256"]))
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drive(url: str, streams: int, seconds: float) -> float:
    """Keep ``streams`` streams open for ``seconds``; chunks/s received in the window."""
    os.sched_setaffinity(0, {1})
    count = 0
    deadline = time.perf_counter() + seconds
    body = {"model": "llama-3.1-8b", "prompt": "hi", "max_tokens": 400, "stream": True}

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            async with session.post(url, json=body) as resp:
                async for data in resp.content.iter_any():
                    count += data.count(b"data: {")
                    if time.perf_counter() >= deadline:
                        return

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.sleep(0)
        start = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(streams)))
        return count / (time.perf_counter() - start)


def serve_and_drive(
    code: str, args: list[str], port: int, streams: int, seconds: float, ready_path: str
) -> float:
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None:
                    err = proc.stderr.read() if proc.stderr else "server died"
                    raise RuntimeError(err) from None
                time.sleep(0.2)
        return asyncio.run(drive(f"http://127.0.0.1:{port}{ready_path}", streams, seconds))
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def virtual_speed() -> dict[str, object]:
    from perfops.sim import poisson_workload, serving_profile, simulate

    duration = 60.0
    workload = poisson_workload(100.0, duration, prompt_tokens=1000, output_tokens=200, seed=1)
    profile = serving_profile("H100-SXM", "llama-3.1-8b")
    start = time.perf_counter()
    result = simulate(workload, profile, replicas=64, seed=0)
    wall = time.perf_counter() - start
    speed = result.summary.duration_s / wall
    return {
        "requests": len(workload),
        "completed": result.summary.completed,
        "simulated_s": result.summary.duration_s,
        "wall_s": round(wall, 3),
        "simulated_s_per_wall_s": round(speed, 1),
        "target_10x_real_time_met": speed > 10,
        "vs_step_by_step": fast_path_vs_steps(),
    }


def fast_path_vs_steps() -> dict[str, float]:
    """One replica at 8 req/s for 60 s: `simulate` against a driver stepping batch by batch."""
    from perfops.sim import poisson_workload, serving_profile, simulate

    workload = poisson_workload(8.0, 60.0, prompt_tokens=1000, output_tokens=200, seed=1)
    profile = serving_profile("H100-SXM", "llama-3.1-8b")
    start = time.perf_counter()
    simulate(workload, profile, seed=11)
    fast = time.perf_counter() - start
    start = time.perf_counter()
    step_by_step(workload, profile, seed=11)
    plain = time.perf_counter() - start
    return {
        "requests": len(workload),
        "fast_wall_s": round(fast, 3),
        "step_by_step_wall_s": round(plain, 3),
        "speedup": round(plain / fast, 1),
    }


def step_by_step(workload: list[Any], profile: Any, seed: int) -> int:
    """The plain driver: submit what has arrived, run one engine step, repeat."""
    import numpy as np

    from perfops.sim import Engine, Request

    engine = Engine(profile, rng=np.random.default_rng([seed, 0]))
    now, i, done = 0.0, 0, 0
    while i < len(workload) or engine.has_work:
        if not engine.has_work:
            now = max(now, workload[i].arrival)
        while i < len(workload) and workload[i].arrival <= now:
            w = workload[i]
            engine.submit(Request(str(i), w.prompt_tokens, w.output_tokens, w.arrival))
            i += 1
        step = engine.step(now)
        done += len(step.finished)
        now = step.end
    return done


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--streams", type=int, default=512)
    ap.add_argument("--out", type=Path, default=Path("bench/results/sim_throughput.json"))
    ap.add_argument("--virtual-only", action="store_true", help="only the virtual-time driver")
    args = ap.parse_args()
    if args.virtual_only:
        print(json.dumps({"virtual": virtual_speed()}, indent=2))
        return
    bare_port, sim_port = free_port(), free_port()
    bare = serve_and_drive(
        BARE_SERVER, [str(bare_port)], bare_port, args.streams, args.seconds, "/v1/completions"
    )
    sim = serve_and_drive(
        SIM_SERVER,
        [str(sim_port), str(free_port())],
        sim_port,
        args.streams,
        args.seconds,
        "/v1/completions",
    )
    result = {
        "sse": {
            "streams": args.streams,
            "sim_chunks_per_s": round(sim),
            "bare_aiohttp_chunks_per_s": round(bare),
            "sim_vs_bare": round(sim / bare, 2),
            "target_20000_met": sim >= 20_000,
        },
        "virtual": virtual_speed(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
