"""The scrape limits of perfops.yaml reach each target: its own, else telemetry's."""

from __future__ import annotations

from perfops.app.collect import targets_from_config
from perfops.config import SCRAPE_BODY_BYTES, SCRAPE_SAMPLES, parse_config

SPEC = """\
apiVersion: perfops/v1
services:
  - name: chat
    endpoint: http://127.0.0.1:8000/v1
    model: m
    gpu: {type: H100}
    metrics: [http://127.0.0.1:8001/metrics]
telemetry:
  %s
  targets:
    - {name: big, kind: dcgm, url: "http://127.0.0.1:9400/metrics", max_body_bytes: 32MiB,
       max_samples: 900000}
    - {name: plain, kind: dcgm, url: "http://127.0.0.1:9401/metrics"}
"""


def limits(telemetry: str) -> dict[str, tuple[int, int]]:
    config = parse_config(SPEC % telemetry)
    return {t.name: (t.max_body_bytes, t.max_samples) for t in targets_from_config(config)}


def test_each_target_gets_its_own_limits_else_telemetrys() -> None:
    assert limits("max_body_bytes: 1MB\n  max_samples: 5000") == {
        "big": (32 * 1024 * 1024, 900_000),
        "plain": (1_000_000, 5000),
        "chat-vllm": (1_000_000, 5000),
    }


def test_the_defaults_are_the_scrape_defaults() -> None:
    assert limits("interval: 15s")["plain"] == (SCRAPE_BODY_BYTES, SCRAPE_SAMPLES)
