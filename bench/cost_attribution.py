"""Cost attribution of one month of hourly GPU usage, against a straightforward per-row loop.

    python bench/cost_attribution.py [--gpus 1000] [--hours 720] [--services 50]

The fleet: ``--gpus`` GPUs of four types, each hour held by one of ``--services`` services or
by nobody (10%), with DCGM activity per hour (5% missing). Attribution runs on the usage
basis with idle shared by weight, two shared costs, daily buckets: the work `perfops cost`
does for a month. The input is columnar (:class:`UsageColumns`), as the store hands it over
from Arrow; building it from Python ``UsageRow`` objects is timed apart.

The baseline is the plain way: a Python loop over the rows accumulating Decimal costs per
(day, service), then idle and shared costs split with Decimal arithmetic. Both must agree on
the bill to the cent. Target: the attribution in under 2 s on this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import numpy as np

from perfops.finops import (
    DAY_MS,
    HOUR_MS,
    Attribution,
    Owner,
    SharedItem,
    UsageColumns,
    UsageRow,
    attribute,
)

T = TypeVar("T")
T0 = 1_764_547_200_000  # 2025-12-01T00:00Z
PRICES = {
    "H100-SXM": Decimal("6.88"),
    "H200": Decimal("7.912"),
    "A100-80GB": Decimal("3.43"),
    "L40S": Decimal("1.861"),
}
SHARED = (
    SharedItem("control-plane", Decimal("12000")),
    SharedItem("vector-db", Decimal("2.5"), per="hour", services=("svc-0", "svc-1")),
)


def fleet(gpus: int, hours: int, services: int) -> UsageColumns:
    rng = np.random.default_rng(7)
    n = gpus * hours
    gpu_type = np.repeat(np.arange(gpus) % len(PRICES), hours)
    home = np.repeat(np.arange(gpus) % services, hours)  # each GPU mostly serves one service
    owner = np.where(rng.random(n) < 0.1, -1, home)
    activity = rng.beta(4, 3, n)
    activity[rng.random(n) < 0.05] = np.nan
    start = T0 + np.tile(np.arange(hours, dtype=np.int64) * HOUR_MS, gpus)
    return UsageColumns(
        start_ms=start,
        end_ms=start + HOUR_MS,
        gpu_type=gpu_type.astype(np.int64),
        owner=owner.astype(np.int64),
        activity=activity,
        gpu_types=tuple(PRICES),
        owners=tuple(Owner(f"svc-{i}", f"model-{i % 7}", f"team-{i % 5}") for i in range(services)),
    )


def as_rows(cols: UsageColumns) -> list[UsageRow]:
    types, owners = cols.gpu_types, cols.owners
    out = []
    for s, e, t, o, a in zip(
        cols.start_ms.tolist(),
        cols.end_ms.tolist(),
        cols.gpu_type.tolist(),
        cols.owner.tolist(),
        cols.activity.tolist(),
        strict=True,
    ):
        who = owners[o] if o >= 0 else None
        out.append(
            UsageRow(
                s, e, "", types[t], who and who.service, who and who.model, who and who.team,
                None, None if a != a else a,
            )
        )  # fmt: skip
    return out


def baseline(rows: list[UsageRow]) -> dict[tuple[int, str], Decimal]:
    """The plain way: Decimal per row, dicts per (day, service), shares by Decimal division.

    Returns each (day, service) line's exact cost.
    """
    work: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    idle: dict[int, Decimal] = defaultdict(Decimal)
    hour = Decimal(HOUR_MS)
    for r in rows:
        day = (r.start_ms - T0) // DAY_MS
        cost = PRICES[r.gpu_type] * (r.end_ms - r.start_ms) / hour
        if r.service is None:
            idle[day] += cost
            continue
        busy = Decimal(1) if r.activity is None else Decimal(repr(r.activity))
        work[day, r.service] += cost * busy
        idle[day] += cost * (1 - busy)
    lines: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for day, amount in idle.items():
        day_work = {k: v for k, v in work.items() if k[0] == day}
        total = sum(day_work.values())
        for key, value in day_work.items():
            lines[key] += value + amount * value / total
    days = max(k[0] for k in lines) + 1
    for item in SHARED:
        per_day = item.amount * 24 / (730 if item.per == "month" else 1)
        for day in range(days):
            keys = [
                k for k in lines if k[0] == day and (not item.services or k[1] in item.services)
            ]
            total = sum(lines[k] for k in keys)
            for key in keys:
                lines[key] += per_day * lines[key] / total
    return lines


def timed(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpus", type=int, default=1000)
    ap.add_argument("--hours", type=int, default=720)
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default="bench/results/cost_attribution.json")
    args = ap.parse_args()
    cols = fleet(args.gpus, args.hours, args.services)

    def run() -> Attribution:
        return attribute(cols, PRICES.__getitem__, shared=SHARED, basis="usage", idle="weighted")

    ours_s, result = timed(run, args.repeat)
    rows = as_rows(cols)
    from_rows_s, _ = timed(lambda: UsageColumns.from_rows(rows), 1)
    base_s, base_lines = timed(lambda: baseline(rows), 1)
    paid = result.paid
    cent = Decimal("0.01")
    exact = sum(base_lines.values(), Decimal(0))
    rounded_alone = sum((v.quantize(cent) for v in base_lines.values()), Decimal(0))
    worst = max(
        abs(line.total - base_lines[(line.start_ms - T0) // DAY_MS, line.service])
        for line in result.lines
    )
    report = {
        "rows": len(cols),
        "gpus": args.gpus,
        "hours": args.hours,
        "services": args.services,
        "lines": len(result.lines),
        "attribute_s": round(ours_s, 3),
        "from_python_rows_s": round(from_rows_s, 3),
        "baseline_loop_s": round(base_s, 3),
        "speedup_x": round(base_s / ours_s, 1),
        "target_under_2s": ours_s < 2.0,
        "bill": str(paid),
        "lines_add_up_to_bill": sum(line.total for line in result.lines) == paid,
        "bill_equals_baseline_exact_bill": paid == exact.quantize(cent),
        "max_line_difference_from_baseline": str(worst.quantize(Decimal("0.0001"))),
        "baseline_lines_rounded_alone_drift": str(rounded_alone - exact.quantize(cent)),
    }
    print(f"{'':28}{'seconds':>10}")
    for key in ("attribute_s", "from_python_rows_s", "baseline_loop_s"):
        print(f"{key:28}{report[key]:>10}")
    print(f"speedup {report['speedup_x']}x over the per-row loop; bill {paid}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
