"""`perfops report` over 30 days of 64 GPUs and 10 services: the time to HTML and PDF (and
the deck), split by section, against `perfops cost report` over the same lake and period,
measured in the same run (the report reads the bill once more per day for its chart, the
previous period's bill, the SLOs, the load tests and the panels, so a ratio near a few bills
is what a sound build costs).

    python bench/report.py [--days 30] [--gpus 64] [--services 10] [--interval 60]
                           [--out bench/results/report.json] [--keep DIR]

The lake is :mod:`tests.report_lake` (DCGM and engine series, load tests, incidents,
capacity searches, a drill and chaos runs; compacted, so the hourly rollups exist), built
once (not timed). Target: HTML + PDF <= 10 s for 30 days x 64 GPUs x 10 services.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.report_lake

from tests.report_lake import LakeSpec, build_lake  # noqa: E402

from perfops.app.cost import cost_report  # noqa: E402
from perfops.app.report import build_report  # noqa: E402
from perfops.report import deck, html, pdf  # noqa: E402

TARGET_S = 10.0
T = TypeVar("T")


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--gpus", type=int, default=64)
    ap.add_argument("--services", type=int, default=10)
    ap.add_argument("--interval", type=int, default=60)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--keep", type=Path, help="build the lake here and keep it")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="perfops-bench-report-"))
    try:
        spec = LakeSpec(
            days=args.days,
            gpus=args.gpus,
            services=args.services,
            interval_s=args.interval,
            spare=4,
            load_services=3,
            reconcile=False,
        )
        t0 = time.perf_counter()
        lake = build_lake(root, spec)
        built = time.perf_counter() - t0
        rt, period = lake.rt, f"{args.days}d"
        end = rt.clock.now_ns() // 1_000_000
        start = end - args.days * 86_400_000
        import matplotlib  # noqa: F401  (imported before timing: a process pays it once)
        import weasyprint  # noqa: F401

        _, bill_s = _timed(lambda: cost_report(rt, start, end))
        report, build_s = _timed(lambda: build_report(rt, period))
        page, html_s = _timed(lambda: html.render_html(report))
        data, pdf_s = _timed(lambda: pdf.pdf_bytes(page))
        _, deck_s = _timed(lambda: deck.write_deck(report, root / "deck.pptx"))
        total = build_s + html_s + pdf_s
        result = {
            "lake": {
                "days": args.days,
                "gpus": args.gpus,
                "services": args.services,
                "interval_s": args.interval,
                "samples": lake.samples,
                "requests": lake.requests,
                "build_s": round(built, 1),
            },  # fmt: skip
            "baseline_cost_report_s": round(bill_s, 3),
            "sections_s": {k: round(v, 3) for k, v in report.timings.items()},
            "figures_s": round(build_s, 3),
            "html_s": round(html_s, 3),
            "pdf_s": round(pdf_s, 3),
            "deck_s": round(deck_s, 3),
            "html_plus_pdf_s": round(total, 3),
            "ratio_to_cost_report": round(total / bill_s, 2),
            "pdf_pages": data.count(b"/Type /Page\n") or None,
            "target_s": TARGET_S,
            "met": total <= TARGET_S,
        }
        print(json.dumps(result, indent=2))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
