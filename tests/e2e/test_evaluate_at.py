"""`--at TIME` on `slo status`, `slo history` and `metrics show`: a figure evaluated as of a
past time is the same after more data arrives (and after compaction), so it can be reproduced
later; a time still to come, or before the lake's first data, is a usage error."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

from tests._servers import sim_fleet, sim_service_yaml
from tests.conftest import run_cli

TELEMETRY = "telemetry: {interval: 1s, timeout: 500ms}\n"
SLOS = """slos:
  - {name: chat-ttft, service: chat, objective: 99,
     sli: {kind: latency, metric: ttft, threshold: 60ms}}
  - {name: chat-avail, service: chat, objective: 99.5, sli: {kind: availability}}
"""
LOAD = ("load", "run", "--service", "chat", "--rate", "6", "--duration", "4s",
        "--max-tokens", "8")  # fmt: skip


def _load_while_collecting(cwd: Path) -> None:
    """A load test with `perfops collect` scraping the replica each second meanwhile, so the
    engine's counters (the availability SLI) grow in the lake."""
    collect = subprocess.Popen(
        [sys.executable, "-m", "perfops", "collect", "--duration", "10s", "--json"],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        run = run_cli(*LOAD, cwd=cwd, timeout=120)
        assert run.returncode == 0, run.stderr
    finally:
        _, err = collect.communicate(timeout=120)
    assert collect.returncode == 0, err


def _figures(cwd: Path, at: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, args in {
        "status": ("slo", "status", "--json"),
        "ttft": ("slo", "history", "chat-ttft", "--json"),
        "avail": ("slo", "history", "chat-avail", "--json"),
        "requests": ("metrics", "show", "llm.requests_total", "--since", "1h", "--json"),
    }.items():
        result = run_cli(*args, *at, cwd=cwd, timeout=120)
        assert result.returncode == 0, (args, result.stderr)
        out[key] = json.loads(result.stdout)
    return out


def test_the_same_at_gives_the_same_figures_after_more_data(tmp_path: Path) -> None:
    with sim_fleet(replicas=1) as fleet:
        (tmp_path / "perfops.yaml").write_text(sim_service_yaml(fleet, extra=TELEMETRY + SLOS))
        _load_while_collecting(tmp_path)
        at_ms = time.time_ns() // 1_000_000  # after everything the first run recorded
        time.sleep(0.01)  # the next run's first record is later than at_ms
        stamp = dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC).isoformat()
        unix = f"{at_ms / 1000:.3f}"
        before = _figures(tmp_path, ["--at", unix])
        assert before == _figures(tmp_path, ["--at", stamp])  # the two spellings agree
        _load_while_collecting(tmp_path)
    assert run_cli("store", "compact", cwd=tmp_path).returncode == 0
    assert _figures(tmp_path, ["--at", unix]) == before
    status = {s["name"]: s for s in before["status"]}  # type: ignore[attr-defined]
    assert status["chat-ttft"]["total"] > 0
    assert status["chat-avail"]["total"] > 0
    assert {s["at"] for s in status.values()} == {
        dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{at_ms % 1000:03d}Z"
    }
    now = {s["name"]: s for s in _figures(tmp_path, [])["status"]}  # type: ignore[attr-defined]
    for name in ("chat-ttft", "chat-avail"):  # the second run counts without --at
        assert now[name]["total"] > status[name]["total"]
    relative = run_cli("slo", "status", "--at", "-1s", "--json", cwd=tmp_path)
    assert relative.returncode == 0, relative.stderr


def test_at_outside_the_data_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(
        "apiVersion: perfops/v1\nservices:\n  - {name: chat, endpoint: http://127.0.0.1:9/v1,"
        " model: m, gpu: {type: H100-SXM}}\n" + SLOS
    )
    empty = run_cli("slo", "status", "--at", "1h", cwd=tmp_path)
    assert empty.returncode == 2
    assert "before the lake's first data" in empty.stderr
    from perfops.store import SeriesInfo, Store

    store = Store(tmp_path / ".perfops" / "lake")
    first_ms = time.time_ns() // 1_000_000 - 600_000
    store.timeseries.append_points(
        [(SeriesInfo("llm.requests_total", {"service": "chat"}), first_ms, 1.0)]
    )
    for args, message in (
        (("slo", "status", "--at", "20m"), "before the lake's first data"),
        (("slo", "history", "chat-ttft", "--at", "-1h"), "before the lake's first data"),
        (("metrics", "show", "llm.requests_total", "--at", "2999-01-01T00:00:00Z"), "future"),
        (("slo", "status", "--at", f"{time.time() + 3600:.0f}"), "in the future"),
        (("slo", "status", "--at", "yesterday"), "--at: cannot read the time"),
    ):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    inside = run_cli("metrics", "show", "llm.requests_total", "--at", "5m", "--json", cwd=tmp_path)
    assert inside.returncode == 0, inside.stderr
    assert json.loads(inside.stdout)["series"][0]["last"] == 1.0
