"""The dashboard page in real headless Chromium (Playwright driving /usr/bin/chromium): every
panel group draws data, filters and ranges change it, the fault is a band on the TTFT chart,
hostile text stays text, and a point written after load appears by itself.

Screenshots of each group land in the test's temporary folder (printed with -s)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfops.store import SeriesInfo
from perfops.web import DashboardThread, running_dashboard

from .conftest import Lake

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="Chromium is not installed (`make debs` installs it)"
)
GROUPS = ("overview", "gpu", "engine", "slos", "cost", "events")


@pytest.fixture(scope="module")
def dash(lake: Lake) -> Iterator[DashboardThread]:
    with running_dashboard(lake.rt) as d:
        yield d


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


class Page:
    """A page of the dashboard, with what the browser reported."""

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(url)
        self.loaded(0)

    def loaded(self, before: int) -> dict[str, Any]:
        """The page's state once it finished loading (page.wait_for_function would evaluate a
        string, which the page's Content-Security-Policy forbids, as it should)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = self.page.evaluate("window.__perfops ? window.__perfops.loads : 0")
            if state > before:
                return self.state()
            time.sleep(0.1)
        raise AssertionError(f"the page did not load: {self.state()} {self.errors}")

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.page.evaluate("JSON.parse(JSON.stringify(window.__perfops))")
        return state

    def click(self, selector: str) -> dict[str, Any]:
        before = self.state()["loads"]
        self.page.click(selector)
        return self.loaded(before)

    def select(self, name: str, value: str) -> dict[str, Any]:
        before = self.state()["loads"]
        self.page.select_option(f"#f-{name}", value)
        return self.loaded(before)


@pytest.fixture
def page(browser: Any, dash: DashboardThread) -> Iterator[Page]:
    p = Page(browser, dash.url + "#range=15m")
    yield p
    p.page.close()


def test_every_group_draws_data_with_no_console_error(
    browser: Any, dash: DashboardThread, lake: Lake, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each group over a custom range around the run (so the screenshots show it)."""
    shots = tmp_path_factory.mktemp("dashboard-screenshots")
    # a range around the run, ending 10 s after the revert (collect ran through the fault), not
    # at "now": on a busy machine this test may run minutes after the lake was filled, and
    # "GPUs up" counts the GPUs reporting in the last minute of the range
    start, end = lake.fault_ms[0] - 10_000, lake.fault_ms[1] + 10_000
    page = Page(browser, dash.url + f"#start={start}&end={end}")
    for group in GROUPS:
        state = page.click(f"nav button[data-group={group}]")
        drawn = {k: c["points"] for k, c in state["charts"].items()}
        if group == "overview":
            assert state["overview"]["gpus_up"] >= 2
            assert drawn["overview:requests_rate"] > 0
            assert drawn["overview:latency"] > 0
        elif group in ("gpu", "engine"):
            assert drawn[f"{group}:{'gpu_util' if group == 'gpu' else 'latency'}"] > 0
            if group == "engine":
                assert drawn["engine:engine_latency"] > 0
            assert sum(1 for n in drawn.values() if n > 0) >= 4, drawn
        elif group == "slos":
            assert drawn["slos:chat-ttft:sli"] > 0
            assert drawn["slos:chat-ttft:burn"] > 0
            assert state["misses"]["chat-ttft"]["missed"] > 0
        elif group == "cost":
            assert state["cost"]["rows"]
            assert drawn["cost:0"] > 0
        else:
            assert page.page.locator("main table tr").count() == len(state["events"]) + 1
        page.page.screenshot(path=str(shots / f"{group}.png"), full_page=True)
    print(f"screenshots in {shots}")  # noqa: T201
    assert page.errors == []
    page.page.close()


def test_the_fault_is_a_band_on_the_ttft_chart_at_its_time(page: Page, lake: Lake) -> None:
    state = page.click("nav button[data-group=engine]")
    chart = state["charts"]["engine:latency"]
    assert any(s["name"].startswith("TTFT") for s in chart["series"])
    (band,) = [b for b in chart["bands"] if b["kind"] == "fault"]
    assert (band["start_ms"], band["end_ms"]) == lake.fault_ms
    assert band["x1"] > band["x0"]
    # the band sits where the chart puts the fault's time
    x = page.page.evaluate(
        "(t) => { const c = document.querySelector('[data-chart=\"engine:latency\"] .uplot');"
        " return c ? c.getBoundingClientRect().width : 0 }",
        lake.fault_ms[0],
    )
    assert 0 < band["x0"] < x


def test_service_filter_and_time_range_change_the_data(page: Page, lake: Lake) -> None:
    state = page.click("nav button[data-group=gpu]")
    every = state["charts"]["gpu:gpu_util"]["series"]
    state = page.select("service", "chat")
    chat = state["charts"]["gpu:gpu_util"]["series"]
    assert 0 < len(chat) < len(every)
    assert all(lake.hostile not in s["name"] for s in chat)
    state = page.select("service", "batch")
    assert state["charts"]["gpu:gpu_util"]["points"] == 0
    page.select("service", "")
    narrow = page.state()["charts"]["gpu:gpu_util"]["bucket_ms"]
    state = page.click("#ranges button[data-range='24h']")
    assert state["charts"]["gpu:gpu_util"]["bucket_ms"] > narrow


def test_hostile_text_is_shown_as_text_and_runs_nothing(page: Page, lake: Lake) -> None:
    page.click("nav button[data-group=gpu]")
    assert lake.hostile in page.page.inner_text("[data-chart='gpu:gpu_util']")
    page.click("nav button[data-group=events]")
    assert lake.hostile in page.page.inner_text("main")
    assert lake.hostile in page.page.inner_text("#f-host")
    assert page.page.locator("img").count() == 0
    assert page.dialogs == []
    assert page.errors == []


def test_a_point_written_after_load_appears_within_10_s(page: Page, lake: Lake) -> None:
    page.click("nav button[data-group=gpu]")
    now_ms = lake.rt.clock.now_ns() // 1_000_000
    live = SeriesInfo(
        "gpu.util", {"gpu": "9", "hostname": lake.hostile, "service": lake.hostile}, "test", "DCGM"
    )
    lake.rt.store.timeseries.append_points([(live, now_ms, 77.0)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        chart = page.state()["charts"]["gpu:gpu_util"]
        bucket, series = chart["bucket_ms"], chart["series"]
        if any(t == now_ms - now_ms % bucket and v == 77.0 for s in series
               for t, v in zip(s["t"], s["v"], strict=True)):  # fmt: skip
            break
        time.sleep(0.25)
    else:
        pytest.fail("the point written after load did not appear within 10 s")
    assert page.errors == []


def test_the_demos_screenshot_is_a_png_of_the_overview(
    dash: DashboardThread, lake: Lake, tmp_path: Path
) -> None:
    from perfops.web import find_chromium, screenshot

    chromium = find_chromium()
    assert chromium is not None
    # a range around the run, ending 10 s after the revert (collect ran through the fault), not
    # at "now": on a busy machine this test may run minutes after the lake was filled, and
    # "GPUs up" counts the GPUs reporting in the last minute of the range
    start, end = lake.fault_ms[0] - 10_000, lake.fault_ms[1] + 10_000
    png = tmp_path / "overview.png"
    assert screenshot(f"{dash.url}#start={start}&end={end}", png, chromium=chromium)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"overview screenshot: {png}")  # noqa: T201
