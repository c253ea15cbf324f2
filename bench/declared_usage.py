"""Cost attribution of a service charged the GPUs it declares, as GPU counts grow.

    python bench/declared_usage.py [--gpus 100000] [--days 1 30]

A service with no GPU telemetry is charged the GPUs perfops.yaml declares for it. Its usage is
one row per hour standing for all its GPUs, so the time and memory of `perfops cost report`
grow with hours, not with GPUs. For each span the script times ``declared_usage`` plus
``attribute`` (allocation basis, daily buckets) and records the peak of memory Python
allocated, then checks the bill: GPUs x hours x price, to the cent. For contrast it times the
old shape, one row per GPU and hour, at a hundredth of the GPUs (one row per GPU at the full
count took 17 s and 913 MB for one day). Target: a 100,000-GPU service's day in well under a
second and a few MB.
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from perfops.finops import DAY_MS, Declared, UsageRow, attribute, declared_usage

PRICE = {"H100-SXM": Decimal("6.88")}


def measure(gpus: int, days: int, *, per_gpu: bool = False) -> dict[str, object]:
    """Declared usage of ``gpus`` H100s for ``days``, attributed: seconds, peak MB, bill."""
    tracemalloc.start()
    t0 = time.perf_counter()
    rows: list[UsageRow] = declared_usage([Declared("chat", "H100-SXM", gpus)], 0, days * DAY_MS)
    if per_gpu:  # the old shape: one row per GPU and hour
        rows = [replace(r, gpu=f"chat/{i}", gpus=1) for r in rows for i in range(gpus)]
    result = attribute(rows, PRICE.__getitem__)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    expected = PRICE["H100-SXM"] * gpus * 24 * days
    return {
        "gpus": gpus,
        "days": days,
        "shape": "one row per GPU-hour" if per_gpu else "one row per hour",
        "rows": len(rows),
        "seconds": round(seconds, 4),
        "peak_mb": round(peak / 1e6, 2),
        "bill": str(result.paid),
        "bill_exact": result.paid == expected,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpus", type=int, default=100_000)
    ap.add_argument("--days", type=int, nargs="+", default=[1, 30])
    ap.add_argument("--out", default="bench/results/declared_usage.json")
    args = ap.parse_args()
    report = [measure(args.gpus, days) for days in args.days]
    report.append(measure(args.gpus // 100, 1, per_gpu=True))
    print(f"{'GPUs':>8} {'days':>5} {'shape':<22} {'rows':>9} {'seconds':>9} {'peak MB':>8} exact")
    for r in report:
        print(
            f"{r['gpus']:>8,} {r['days']:>5} {r['shape']:<22} {r['rows']:>9,} "
            f"{r['seconds']:>9} {r['peak_mb']:>8} {r['bill_exact']}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
