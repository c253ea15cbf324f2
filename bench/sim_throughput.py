"""How fast the simulator runs.

    python bench/sim_throughput.py [--seconds 8] [--streams 512] [--out bench/results/sim.json]

1. SSE chunks/s that one `perfops sim` process sustains on one core (pinned with
   sched_setaffinity), driven by a client process on the other core. The baseline, measured in
   the same run the same way, is a bare aiohttp server that streams the same pre-encoded chunks
   as fast as it can with no model: the ratio says what the model, metrics and routing cost.
   Target: >= 20,000 chunks/s, so a 2-core laptop emulates >= 50 streams of an 8B model at real
   speed (50 streams / 12 ms ITL = 4,200 chunks/s) with room to spare.
2. The virtual-time driver: simulated seconds per second for 64 GPUs (64 x 8B/H100 TP1) at
   100 req/s for 60 s, ~1k-token prompts and ~200-token answers, on one pinned core: the
   median of ``--repeats`` runs, per wall second and per CPU second of the process (on a
   shared machine the two differ by what the neighbours took; the load average is reported).
   Target: >= 100x real time, so a fleet-day plans in under 15 minutes. The baseline, in the
   same run and on the same workload, is the stepwise reference driver
   (``perfops.sim._stepwise``: one engine step per event, what the tests hold the fast
   driver to): the ratio says what running pure-decode stretches as one event saves, and the
   largest difference between the two drivers' request times is printed beside it.

    python bench/sim_throughput.py --virtual-only [--repeats 5] [--cpu N]   # part 2 alone
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


def virtual_speed(repeats: int, cpu: int) -> dict[str, object]:
    import statistics

    os.sched_setaffinity(0, {cpu})  # before NumPy starts any thread: they inherit it
    import numpy as np

    from perfops.sim import poisson_workload, serving_profile, simulate
    from perfops.sim._stepwise import simulate_stepwise

    workload = poisson_workload(100.0, 60.0, prompt_tokens=1000, output_tokens=200, seed=1)
    profile = serving_profile("H100-SXM", "llama-3.1-8b")
    simulate(workload[:300], profile, replicas=64, seed=0)  # warm caches and lazy imports
    load = [os.getloadavg()[0]]
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu_s = time.perf_counter(), time.process_time()
        result = simulate(workload, profile, replicas=64, seed=0)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu_s)
    wall, cpu_s = time.perf_counter(), time.process_time()
    reference = simulate_stepwise(workload, profile, replicas=64, seed=0)
    ref_wall, ref_cpu = time.perf_counter() - wall, time.process_time() - cpu_s
    load.append(os.getloadavg()[0])
    simulated = result.summary.duration_s
    a, b = result.timings, reference.timings
    speed_wall = simulated / statistics.median(walls)
    speed_cpu = simulated / statistics.median(cpus)
    return {
        "requests": len(workload),
        "completed": result.summary.completed,
        "simulated_s": round(simulated, 3),
        "pinned_cpu": cpu,
        "repeats": repeats,
        "wall_s_median": round(statistics.median(walls), 3),
        "cpu_s_median": round(statistics.median(cpus), 3),
        "simulated_s_per_wall_s": round(speed_wall, 1),
        "simulated_s_per_cpu_s": round(speed_cpu, 1),
        "loadavg_1m_before_after": [round(x, 2) for x in load],
        "target_100x_real_time_met": {"wall": speed_wall >= 100, "cpu": speed_cpu >= 100},
        "vs_step_by_step": {
            "driver": "perfops.sim._stepwise.simulate_stepwise, same workload and seed",
            "wall_s": round(ref_wall, 3),
            "cpu_s": round(ref_cpu, 3),
            "speedup_wall": round(ref_wall / statistics.median(walls), 1),
            "speedup_cpu": round(ref_cpu / statistics.median(cpus), 1),
            "same_replica_tokens_preemptions": bool(
                all(
                    np.array_equal(getattr(a, c), getattr(b, c))
                    for c in ("replica", "output_tokens", "preemptions", "rejected")
                )
            ),
            "max_abs_time_difference_s": max(
                float(np.nanmax(np.abs(a.first_token - b.first_token))),
                float(np.nanmax(np.abs(a.end - b.end))),
            ),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--streams", type=int, default=512)
    ap.add_argument("--out", type=Path, default=Path("bench/results/sim_throughput.json"))
    ap.add_argument("--virtual-only", action="store_true", help="only the virtual-time driver")
    ap.add_argument("--repeats", type=int, default=5, help="virtual-time runs (median)")
    ap.add_argument("--cpu", type=int, default=(os.cpu_count() or 1) - 1, help="core to pin")
    args = ap.parse_args()
    if args.virtual_only:
        print(json.dumps({"virtual": virtual_speed(args.repeats, args.cpu)}, indent=2))
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
        "virtual": virtual_speed(args.repeats, args.cpu),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
