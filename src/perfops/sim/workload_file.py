"""Workload files for the virtual-time driver: JSONL requests or an Azure LLM trace CSV.

JSONL, one request a line: ``{"arrival_s": 0.12, "prompt_tokens": 812, "output_tokens": 140}``
(optional ``"prefix_group"`` and ``"prefix_tokens"`` share a prompt prefix between requests).
CSV in the Azure LLM inference trace format: ``TIMESTAMP,ContextTokens,GeneratedTokens``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from perfops.errors import ConfigError, Problem
from perfops.sim.profiles import serving_profile
from perfops.sim.virtual import WorkloadRequest, simulate

__all__ = ["read_workload", "run_file"]


def _problem(path: Path, line: int, message: str, hint: str) -> ConfigError:
    where = f"{path}:{line}" if line else str(path)
    return ConfigError([Problem(where, "", message, hint)], source=str(path))


def _positive_int(value: Any, name: str, path: Path, line: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _problem(
            path,
            line,
            f"{name} must be a whole number, got {value!r}",
            f"write {name} as an integer >= 1",
        )
    try:
        number = int(value)
    except ValueError:
        raise _problem(
            path,
            line,
            f"{name} must be a whole number, got {value!r}",
            f"write {name} as an integer >= 1",
        ) from None
    if number < 1:
        raise _problem(path, line, f"{name} must be >= 1, got {number}", "drop or fix the row")
    return number


def _jsonl(path: Path, text: str) -> list[WorkloadRequest]:
    out = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _problem(path, n, f"not JSON: {exc.msg}", "one JSON object per line") from None
        if not isinstance(row, dict) or "arrival_s" not in row:
            raise _problem(
                path,
                n,
                "needs arrival_s, prompt_tokens and output_tokens",
                'e.g. {"arrival_s": 0.5, "prompt_tokens": 800, "output_tokens": 150}',
            )
        arrival = row["arrival_s"]
        if not isinstance(arrival, int | float) or arrival < 0:
            raise _problem(
                path,
                n,
                f"arrival_s must be a number >= 0, got {arrival!r}",
                "seconds from the start of the run",
            )
        prompt = _positive_int(row.get("prompt_tokens"), "prompt_tokens", path, n)
        hashes: tuple[int, ...] = ()
        if "prefix_group" in row:
            blocks = min(int(row.get("prefix_tokens", prompt)), prompt) // 16
            hashes = tuple(hash((row["prefix_group"], b)) for b in range(blocks))
        out.append(
            WorkloadRequest(
                float(arrival),
                prompt,
                _positive_int(row.get("output_tokens"), "output_tokens", path, n),
                hashes,
            )
        )
    return out


def _azure_csv(path: Path, text: str) -> list[WorkloadRequest]:
    rows = list(csv.DictReader(text.splitlines()))
    out, start = [], None
    for n, row in enumerate(rows, start=2):
        try:
            stamp = dt.datetime.fromisoformat(row["TIMESTAMP"].strip()[:26])
        except (KeyError, ValueError):
            raise _problem(
                path,
                n,
                f"bad TIMESTAMP {row.get('TIMESTAMP')!r}",
                "the Azure trace format is TIMESTAMP,ContextTokens,GeneratedTokens",
            ) from None
        start = start or stamp
        out.append(
            WorkloadRequest(
                (stamp - start).total_seconds(),
                _positive_int(row.get("ContextTokens"), "ContextTokens", path, n),
                _positive_int(row.get("GeneratedTokens"), "GeneratedTokens", path, n),
            )
        )
    return out


def read_workload(path: Path, *, speed: float = 1.0) -> list[WorkloadRequest]:
    """Requests from ``path``; arrival times divided by ``speed``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _problem(path, 0, f"cannot read: {exc.strerror}", "check the path") from None
    requests = _azure_csv(path, text) if path.suffix == ".csv" else _jsonl(path, text)
    if speed <= 0:
        raise ConfigError([Problem("--speed", "", f"must be > 0, got {speed}")])
    if speed != 1.0:
        requests = [
            WorkloadRequest(r.arrival / speed, r.prompt_tokens, r.output_tokens, r.block_hashes)
            for r in requests
        ]
    return requests


def run_file(
    requests: list[WorkloadRequest],
    *,
    gpu: str,
    model: str,
    tensor_parallel: int,
    replicas: int,
    seed: int,
) -> dict[str, Any]:
    """Simulate ``requests`` and summarise them in milliseconds."""
    profile = serving_profile(gpu, model, tensor_parallel)
    t = time.perf_counter()
    result = simulate(requests, profile, replicas=replicas, seed=seed)
    wall = time.perf_counter() - t
    s = result.summary

    def ms(p: Any) -> dict[str, float]:
        return {k: round(getattr(p, k) * 1000, 3) for k in ("p50", "p90", "p99", "mean")}

    return {
        "deployment": f"{replicas} x {profile.name}",
        "requests": s.requests,
        "completed": s.completed,
        "rejected": s.rejected,
        "simulated_s": s.duration_s,
        "wall_s": wall,
        "requests_per_s": s.request_throughput,
        "output_tokens_per_s": s.output_throughput,
        "latency_ms": {
            "ttft": ms(s.ttft),
            "itl": ms(s.itl),
            "tpot": ms(s.tpot),
            "e2e": ms(s.e2e),
            "queue": ms(s.queue_time),
        },
        "preemptions": s.preemptions,
        "prefix_cache_hit_rate": s.prefix_cache_hit_rate,
        "gpu_busy_fraction": s.gpu_busy_fraction,
        "definitions": {
            "ttft": "first token - arrival",
            "itl": "gaps between tokens, token-weighted",
            "tpot": "(e2e - ttft) / (output_tokens - 1)",
            "e2e": "last token - arrival",
        },
    }
