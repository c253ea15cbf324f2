"""perfops' histogram quantile (the dashboard's engine percentiles) agrees with Prometheus'
``histogram_quantile``, evaluated by the real promtool on the same buckets.

Seeded random histograms cover the cases that matter: vLLM's TTFT bounds, ranks in the first,
a middle and the ``+Inf`` bucket, empty buckets, a non-monotonic scrape (a count that dips), a
negative first bound, no observations (NaN), and q of 0 and 1. promtool compares each answer
with ours (its own float tolerance); a wrong rule in ours fails the whole file.
"""

from __future__ import annotations

import math
import random
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from perfops._internal.histogram_quantile import histogram_quantile

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed")

VLLM_TTFT = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
             7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)  # fmt: skip
QS = (0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0)


def _cases() -> list[list[tuple[float, float]]]:
    rng = random.Random(7)
    cases: list[list[tuple[float, float]]] = []
    for _ in range(12):
        counts = [rng.choice((0, 0, 1, 3, 17, 250)) for _ in VLLM_TTFT]
        cum, run = [], 0.0
        for c in counts:
            run += c
            cum.append(run)
        tail = run + rng.choice((0, 0, 2, 40))
        cases.append([*zip(VLLM_TTFT, cum, strict=True), (math.inf, tail)])
    cases.append([(0.1, 5), (0.25, 4), (0.5, 9), (math.inf, 9)])  # a dip: raised to 5
    cases.append([(-1.0, 3), (0.0, 3), (1.0, 10), (math.inf, 10)])  # a negative first bound
    cases.append([(0.5, 0), (1.0, 0), (math.inf, 0)])  # no observations: NaN
    cases.append([(0.5, 10), (math.inf, 10)])  # two buckets
    cases.append([(0.5, 0), (math.inf, 10)])  # everything beyond the last finite bound
    return cases


def _value(x: float) -> str:
    return repr(x) if math.isfinite(x) else "+Inf"


def test_histogram_quantile_agrees_with_promtool(tmp_path: Path) -> None:
    cases = _cases()
    series = [
        {"series": f'h_bucket{{case="{i}",le="{_value(le)}"}}', "values": f"{count:g}x2"}
        for i, buckets in enumerate(cases)
        for le, count in buckets
    ]
    tests = []
    for q in QS:
        ours = [histogram_quantile(q, buckets) for buckets in cases]
        mine = f"histogram_quantile({q}, h_bucket)"
        # promtool never finds NaN equal to NaN: the numbers are the answers equal to
        # themselves, the NaN answers those unequal to themselves
        tests.append(
            {
                "expr": f"{mine} == {mine}",
                "eval_time": "1m",
                "exp_samples": [
                    {"labels": f'{{case="{i}"}}', "value": x}
                    for i, x in enumerate(ours)
                    if not math.isnan(x)
                ],
            }
        )
        tests.append(
            {
                "expr": f"count by (case) ({mine} != {mine})",
                "eval_time": "1m",
                "exp_samples": [
                    {"labels": f'{{case="{i}"}}', "value": 1}
                    for i, x in enumerate(ours)
                    if math.isnan(x)
                ],
            }
        )
    assert any(t["exp_samples"] for t in tests[1::2])  # the NaN rules are exercised
    doc = {"tests": [{"interval": "1m", "input_series": series, "promql_expr_test": tests}]}
    path = tmp_path / "quantiles_test.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert PROMTOOL is not None
    out = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True,
                         timeout=120, check=False)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_rules_outside_the_histogram() -> None:
    buckets = [(0.5, 3.0), (math.inf, 4.0)]
    assert histogram_quantile(-0.1, buckets) == -math.inf
    assert histogram_quantile(1.5, buckets) == math.inf
    assert math.isnan(histogram_quantile(math.nan, buckets))
    assert math.isnan(histogram_quantile(0.5, [(0.5, 3.0), (1.0, 4.0)]))  # no +Inf bucket
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.5 * 2 / 3)
