"""The dashboard's JSON API over a lake filled by a real run: each figure equals its owner's,
downsampling bounds, live updates, events, and the guard (token, read-only, headers)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests._servers import served_until_ctrl_c
from tests.conftest import run_cli

from perfops.app.cost import cost_report
from perfops.app.slo import slo_statuses
from perfops.web import DashboardThread, running_dashboard

from .conftest import Lake

pytestmark = pytest.mark.timeout(360)  # the first test here may be the one that fills the lake


def _get(
    url: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], Any]:
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        body = err.read()
        return err.code, dict(err.headers), json.loads(body) if body[:1] == b"{" else None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def dash(lake: Lake) -> Iterator[DashboardThread]:
    with running_dashboard(lake.rt) as d:
        yield d


def _window(body: dict[str, Any]) -> str:
    return f"start={body['start_ms']}&end={body['end_ms']}"


def test_overview_figures_are_their_owners(dash: DashboardThread, lake: Lake) -> None:
    status, headers, body = _get(dash.url + "api/overview?range=15m")
    assert status == 200
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    data = body["data"]
    mine = {s.name: s for s in slo_statuses(lake.rt, lake.rt.config.slos)}
    for slo in data["slos"]:  # as `perfops slo status` (its clock moved a little since)
        assert slo["total"] == pytest.approx(mine[slo["name"]].total, abs=5)
        assert slo["state"] in ("ok", "burning", "page", "no data")
    ttft = next(s for s in data["slos"] if s["name"] == "chat-ttft")
    assert ttft["total"] > 0
    assert ttft["good"] < ttft["total"]
    report = cost_report(lake.rt, body["start_ms"], body["end_ms"])
    assert Decimal(data["cost"]) == report.total
    assert data["gpus_up"] >= 2
    assert data["load_requests"] > 0
    assert data["latency_p95_ms"]["ttft"] > 0


def test_panels_never_ship_more_buckets_than_pixels(dash: DashboardThread) -> None:
    for width in (60, 300):
        status, _, body = _get(dash.url + f"api/panel/gpu_util?range=15m&width={width}")
        assert status == 200
        series = body["data"]["series"]
        assert series
        assert all(len(s["t"]) <= width for s in series)
        assert 900_000 / body["bucket_ms"] <= width
    _, _, wide = _get(dash.url + "api/panel/gpu_util?range=15m&width=2000")
    _, _, narrow = _get(dash.url + "api/panel/gpu_util?range=15m&width=60")
    assert wide["bucket_ms"] < narrow["bucket_ms"]


def test_live_updates_send_only_new_buckets(dash: DashboardThread) -> None:
    _, _, full = _get(dash.url + "api/panel/requests_rate?range=15m&width=900")
    (line,) = full["data"]["series"]
    since = line["t"][-2]
    _, _, part = _get(dash.url + f"api/panel/requests_rate?{_window(full)}&width=900&since={since}")
    (fresh,) = part["data"]["series"]
    assert fresh["t"] == line["t"][-2:]


def test_fault_is_a_band_at_its_time(dash: DashboardThread, lake: Lake) -> None:
    _, _, body = _get(dash.url + "api/events?range=15m")
    faults = [e for e in body["data"] if e["kind"] == "fault"]
    assert [(f["start_ms"], f["end_ms"]) for f in faults] == [lake.fault_ms]
    assert any(e["kind"] == "run:chaos" for e in body["data"])


def test_service_filter_and_range_change_the_answer(dash: DashboardThread, lake: Lake) -> None:
    _, _, every = _get(dash.url + "api/panel/gpu_util?range=15m")
    _, _, chat = _get(dash.url + "api/panel/gpu_util?range=15m&service=chat")
    _, _, batch = _get(dash.url + "api/panel/gpu_util?range=15m&service=batch")
    names = [s["name"] for s in every["data"]["series"]]
    assert any(lake.hostile in n for n in names)
    assert 0 < len(chat["data"]["series"]) < len(names)
    assert batch["data"]["series"] == []


def test_bad_requests_are_400_with_a_hint(dash: DashboardThread) -> None:
    status, _, body = _get(dash.url + "api/panel/nope?range=15m")
    assert status == 400
    assert "panels are" in body["hint"]
    status, _, body = _get(dash.url + "api/overview?range=2y")
    assert status == 400
    assert "15m" in body["hint"]
    status, _, _ = _get(dash.url + "api/overview?start=10&end=5")
    assert status == 400


def test_read_only(dash: DashboardThread) -> None:
    for method in ("POST", "PUT", "DELETE"):
        status, _, _ = _get(dash.url + "api/overview", method=method)
        assert status == 405


def test_token_guards_every_route(lake: Lake) -> None:
    secret = "s3cret-token-for-the-test"
    with running_dashboard(lake.rt, token=secret) as d:
        status, headers, _ = _get(d.url + "api/meta")
        assert status == 401
        status, _, body = _get(d.url + "api/meta", {"Authorization": f"Bearer {secret}"})
        assert status == 200
        assert secret not in json.dumps(body)
        status, headers, _ = _get(d.url + f"?token={secret}&x=1")
        assert status == 302
        assert secret not in headers["Location"]
        cookie = headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        status, _, _ = _get(d.url + "api/meta", {"Cookie": cookie.split(";")[0]})
        assert status == 200
        status, _, _ = _get(d.url + "api/meta?token=wrong")
        assert status == 401


def test_non_loopback_bind_needs_a_token(lake: Lake) -> None:
    result = run_cli("dashboard", "--host", "0.0.0.0", "--port", "0", cwd=lake.workspace)
    assert result.returncode == 2
    assert "without a token" in result.stderr
    assert "--token-env" in result.stderr
    result = run_cli("dashboard", "--host", "0.0.0.0", "--token-env", "NOPE_UNSET",
                     cwd=lake.workspace)  # fmt: skip
    assert result.returncode == 2
    assert "NOPE_UNSET" in result.stderr


def test_slo_drill_down_lists_the_requests_that_missed(dash: DashboardThread, lake: Lake) -> None:
    _, _, slos = _get(dash.url + "api/slos?range=15m")
    ttft = next(s for s in slos["data"]["slos"] if s["name"] == "chat-ttft")
    assert ttft["worst"]
    assert all(w["sli_pct"] < 95 for w in ttft["worst"])
    _, _, body = _get(dash.url + "api/slos/chat-ttft/misses?range=15m")
    data = body["data"]
    assert data["missed"] == ttft["total"] - ttft["good"]  # the same checks as slo status
    lo, hi = lake.fault_ms
    slow = [r for r in data["requests"] if r["error"] is None]
    assert all(r["ttft_ms"] > 250 for r in slow)
    assert any(lo - 1000 <= r["scheduled_ms"] <= hi for r in slow)
    _, _, other = _get(dash.url + "api/slos/chat-availability/misses?range=15m")
    assert other["data"]["note"]
    status, _, _ = _get(dash.url + "api/slos/nope/misses?range=15m")
    assert status == 400


def test_the_command_serves_until_ctrl_c(lake: Lake) -> None:
    with served_until_ctrl_c(lake.workspace, "dashboard", "--port", "0",
                             url=r"http://127\.0\.0\.1:\d+/") as served:  # fmt: skip
        status, _, body = _get(served.url + "api/meta")
        assert status == 200
        assert body["workspace"] == "dash-test"
    assert served.returncode == 0, served.output
    assert "stopped" in served.output


def test_many_gpus_ship_an_envelope_and_a_heatmap(tmp_path: Path) -> None:
    from perfops.app import open_runtime
    from perfops.store import SeriesInfo

    (tmp_path / "perfops.yaml").write_text("apiVersion: perfops/v1\n")
    rt = open_runtime(tmp_path / "perfops.yaml")
    now = rt.clock.now_ns() // 1_000_000
    gpus = [
        SeriesInfo("gpu.util", {"gpu": str(g % 8), "hostname": f"n{g // 8}"}) for g in range(16)
    ]
    points = [
        (gpus[g], now - 60_000 + k * 15_000, float(g + k)) for g in range(16) for k in range(4)
    ]
    rt.store.timeseries.append_points(points)
    with running_dashboard(rt) as d:
        _, _, body = _get(d.url + "api/panel/gpu_util?range=15m&width=900")
    (envelope,) = body["data"]["series"]
    assert envelope["name"] == "16 series"
    assert min(envelope["lo"]) == 0.0
    assert max(envelope["hi"]) == 18.0
    heat = body["data"]["heat"]
    assert len(heat["rows"]) == 16
    assert sorted(heat["names"])[0] == "hostname=n0, gpu=0"
    assert sum(v is not None for row in heat["rows"] for v in row) == 64


def test_engine_histogram_percentiles_see_the_fault(dash: DashboardThread, lake: Lake) -> None:
    """The engines' TTFT histogram, read per 1 s bucket around the run: the 0.6 s first-token
    fault lifts the p95 estimate past 0.5 s (vLLM's bucket holding 0.6 s starts there), while
    before the fault it stays under 0.25 s; every estimate rests on observed requests."""
    start, end = lake.fault_ms[0] - 8_000, lake.fault_ms[1] + 8_000
    _, _, body = _get(dash.url + f"api/panel/engine_latency?start={start}&end={end}&width=1000")
    data = body["data"]
    assert (data["source"], data["bucket_ms"], data["unit"]) == ("histograms", 1_000, "ms")
    ttft = next(s for s in data["series"] if s["name"] == "TTFT p95")
    assert ttft["metric"] == "llm.ttft_seconds_bucket"
    assert sum(ttft["observations"]) > 0
    points = [(t, v) for t, v in zip(ttft["t"], ttft["v"], strict=True) if v is not None]
    during = [v for t, v in points if lake.fault_ms[0] <= t <= lake.fault_ms[1] + 1_000]
    before = [v for t, v in points if t + 1_000 <= lake.fault_ms[0]]
    assert during, points
    assert max(during) >= 500, points
    assert before, points
    assert min(before) < 250, points
    query = f"start={start}&end={end}&service=batch"
    _, _, batch = _get(dash.url + f"api/panel/engine_latency?{query}")
    assert all(s["t"] == [] for s in batch["data"]["series"])
