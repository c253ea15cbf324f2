"""Exposition parse speed (a ratio in the same run) and end-to-end ingest speed.

    python bench/parse_ingest.py [--seconds 3] [--out bench/results/parse_ingest.json]

Parse: one realistic scrape body, an 8-GPU dcgm-exporter answer (the L4 fixture, a full
default-counter scrape with HELP/TYPE, replicated to GPUs 0-7 with their own UUID, PCI bus id
and device) followed by a vLLM v1 answer (the Qwen2.5 fixture). ``perfops.telemetry.exposition
.parse`` against ``prometheus_client.parser.text_string_to_metric_families`` with every sample
consumed, alternating, over many iterations; the median of each is reported (target: >= 5x).

Ingest: the same body served by a local aiohttp server on the other core, scraped by 8
targets in a loop on one core, through the catalog into the lake with group commits; samples
committed per second, counted from the lake at the end (target: >= 200,000/s).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from perfops.telemetry.exposition import parse

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
L4 = "dcgm-l4-single-gpu-kops.prom"
VLLM = "vllm-v1-qwen2.5-0.5b-idle-kops.prom"
GPUS = 8


def dcgm_8_gpus(text: str) -> str:
    """The single-L4 scrape as an 8-GPU node would answer: each sample once per GPU."""
    out = []
    for line in text.splitlines():
        if line.startswith("#") or not line:
            out.append(line)
        else:
            out.extend(_on_gpu(line, gpu) for gpu in range(GPUS))
    return "\n".join(out) + "\n"


def _on_gpu(line: str, gpu: int) -> str:
    return (
        line.replace('gpu="0"', f'gpu="{gpu}"')
        .replace("GPU-c2f76b33-7953-256e-8f33-", f"GPU-c2f76b33-7953-256e-8f3{gpu}-")
        .replace("00000000:31:00.0", f"00000000:{0x31 + gpu:02X}:00.0")
        .replace('device="nvidia0"', f'device="nvidia{gpu}"')
    )


def scrape_body(fixtures: Path = FIXTURES) -> str:
    return dcgm_8_gpus((fixtures / L4).read_text()) + (fixtures / VLLM).read_text()


def _ours(body: str) -> int:
    return len(parse(body))


def _prometheus_client(body: str) -> int:
    return sum(len(family.samples) for family in text_string_to_metric_families(body))


def _time_ms(fn: Callable[[str], int], body: str, runs: list[float]) -> None:
    t0 = time.perf_counter()
    fn(body)
    runs.append((time.perf_counter() - t0) * 1e3)


def parse_benchmark(body: str, *, seconds: float = 3.0) -> dict[str, object]:
    """Median parse time of each parser on ``body``, interleaved so both see the same noise."""
    samples = _ours(body)
    if samples != _prometheus_client(body):
        raise SystemExit("the parsers disagree on the sample count; run the unit tests")
    ours: list[float] = []
    theirs: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(theirs) < 20:
        _time_ms(_prometheus_client, body, theirs)
        for _ in range(5):
            _time_ms(_ours, body, ours)
    ours_ms, theirs_ms = statistics.median(ours), statistics.median(theirs)
    return {
        "ours_ms": round(ours_ms, 3),
        "prometheus_client_ms": round(theirs_ms, 3),
        "speedup_x": round(theirs_ms / ours_ms, 2),
        "samples": samples,
        "bytes": len(body.encode()),
        "runs": {"ours": len(ours), "prometheus_client": len(theirs)},
    }


def cached_parse_benchmark(body: str, rounds: int = 300) -> dict[str, object]:
    """Parse of a target's next scrape: its line heads are in the target's LineCache (values
    changed, so every value is parsed again); median against prometheus_client on the same."""
    from perfops.telemetry.exposition import LineCache

    cache = LineCache()
    parse(body, line_cache=cache)
    bumped = body.replace(" 0\n", " 1\n")
    ours, theirs = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        parse(bumped, line_cache=cache)
        ours.append(time.perf_counter() - t)
        if len(theirs) < rounds // 5:
            t = time.perf_counter()
            for family in text_string_to_metric_families(bumped):
                for _sample in family.samples:
                    pass
            theirs.append(time.perf_counter() - t)
    mine, ref = statistics.median(ours), statistics.median(theirs)
    return {
        "ours_cached_ms": round(mine * 1000, 3),
        "prometheus_client_ms": round(ref * 1000, 3),
        "speedup_x": round(ref / mine, 2),
    }


_SERVER = """
import os, sys
from aiohttp import web
os.sched_setaffinity(0, {1})
body = open(sys.argv[2], "rb").read()
async def metrics(_):
    return web.Response(body=body, content_type="text/plain")
app = web.Application()
app.router.add_get("/metrics", metrics)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def ingest_benchmark(body: str, *, seconds: float = 8.0, targets: int = 8) -> dict[str, object]:
    """Scrape -> parse -> catalog -> committed lake rows, on one core (the server that answers
    the scrapes runs on the other). Every target is a distinct job, so its series are new to
    the lake on the first scrape and cached after."""
    import asyncio
    import os
    import shutil
    import socket
    import subprocess
    import tempfile

    import aiohttp

    from perfops._internal.clock import SystemClock
    from perfops.app.collect import LakeSink
    from perfops.store import Store
    from perfops.telemetry.catalog import load_catalog
    from perfops.telemetry.runner import CollectRunner, TargetSpec

    work = Path(tempfile.mkdtemp(prefix="perfops-ingest-"))
    (work / "body.prom").write_text(body)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(port), str(work / "body.prom")])
    os.sched_setaffinity(0, {0})
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        store = Store(work / "lake", clock=SystemClock())
        sink = LakeSink(store)
        specs = [
            TargetSpec(f"node-{i}", f"http://127.0.0.1:{port}/metrics", "dcgm", 10.0, 5.0)
            for i in range(targets)
        ]
        runner = CollectRunner(specs, load_catalog(), sink, concurrency=targets)

        async def run() -> float:
            async with aiohttp.ClientSession() as session:
                start = time.perf_counter()
                while time.perf_counter() - start < seconds:
                    await asyncio.gather(*(runner.scrape_once(session, t) for t in specs))
                sink.flush()
                return time.perf_counter() - start

        elapsed = asyncio.run(run())
        stored = store.read_query("SELECT count(*) AS n FROM samples").column("n")[0].as_py()
        return {
            "targets": targets,
            "seconds": round(elapsed, 2),
            "samples_committed": stored,
            "samples_per_s": round(stored / elapsed),
            "target_200k_met": stored / elapsed >= 200_000,
            "commits": sink.commits,
        }
    finally:
        server.terminate()
        server.communicate(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="time budget of the parse part")
    ap.add_argument("--out", type=Path, default=REPO / "bench/results/parse_ingest.json")
    args = ap.parse_args(argv)
    body = scrape_body()
    result = parse_benchmark(body, seconds=args.seconds)
    result["repeat_scrape"] = cached_parse_benchmark(body)
    result["ingest"] = ingest_benchmark(body)
    print(json.dumps(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
