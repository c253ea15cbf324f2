"""`perfops report` as a user runs it: over a lake filled by a real load test on `perfops sim`
(the HTML in real Chromium, the PDF read back with pypdf, the deck with python-pptx, the
JSON's figures against the lake's own rows), over a fresh lake, and with bad arguments."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable
from tests._servers import load_tested_workspace
from tests.conftest import run_cli

CHROMIUM = "/usr/bin/chromium"
SECTIONS = ("Executive summary", "SLO scorecard", "Performance and capacity", "Cost",
            "Reliability evidence", "Changes and ROI", "Recommendations",
            "Appendix: sources of the figures")  # fmt: skip
EXTRA = """slos:
  - name: chat-ttft
    service: chat
    sli: {kind: latency, metric: ttft, threshold: 500ms}
    objective: 99
pricing:
  currency: USD
  energy_per_kwh: 0.10
  gpus:
    - {gpu: H100-SXM, hourly: 3.60}
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two replicas, their DCGM and engine metrics scraped during a 3 s load test."""
    return load_tested_workspace(tmp_path_factory.mktemp("report"), EXTRA)


@pytest.fixture(scope="module")
def written(workspace: Path) -> dict[str, Any]:
    result = run_cli(
        "report", "--period", "1h", "--out", "out/report.html", "--pdf", "out/report.pdf",
        "--deck", "out/deck.pptx", "--json", "out/report.json", cwd=workspace, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = workspace / "out"
    return {
        "stdout": result.stdout,
        "html": out / "report.html",
        "pdf": out / "report.pdf",
        "deck": out / "deck.pptx",
        "json": json.loads((out / "report.json").read_text()),
    }


def _lake_requests(workspace: Path) -> int:
    table = DeltaTable(str(workspace / ".perfops" / "lake" / "requests")).to_pyarrow_table()
    return int(pc.sum(pc.is_valid(table.column("scheduled_ns"))).as_py())


def test_the_cli_names_what_it_wrote_and_the_top_recommendation(written: dict[str, Any]) -> None:
    for key in ("html", "pdf", "deck"):
        assert str(Path("out") / written[key].name) in written["stdout"]
    recs = written["json"]["recommendations"]
    if recs:
        assert recs[0]["title"] in written["stdout"]
        assert recs[0]["impact"]["text"] in written["stdout"]


def test_request_count_and_cost_figures_match_the_lake(
    written: dict[str, Any], workspace: Path
) -> None:
    figures = written["json"]["figures"]
    assert figures["performance.chat.requests"]["value"] == _lake_requests(workspace)
    rows = [r for r in written["json"]["sections"] if r["id"] == "cost"][0]
    service_total = figures["cost.service.chat.total"]["value"]
    assert service_total is not None
    assert float(service_total) > 0
    lake = workspace / ".perfops" / "lake"
    versions = figures["cost.total"]["source"]["tables"]
    assert versions == {t: DeltaTable(str(lake / t)).version() for t in versions}
    assert rows["tiles"][0]["key"] == "cost.total"


def test_every_figure_is_shown_in_the_html_with_its_footnote(written: dict[str, Any]) -> None:
    html = written["html"].read_text()
    for key, fig in written["json"]["figures"].items():
        assert fig["text"] in html, key
        assert f"<code>{key}</code>" in html, key
    assert "<script" not in html
    assert re.findall(r'(?:src|href)="(?!#)[^"]*"', html) == []
    assert "@import" not in html
    assert re.findall(r"url\((?!#)", html) == []


def test_pdf_has_every_section_page_numbers_and_bookmarks(written: dict[str, Any]) -> None:
    from pypdf import PdfReader

    pdf = PdfReader(written["pdf"])
    pages = len(pdf.pages)
    assert pages >= 3
    text = "\n".join(p.extract_text() for p in pdf.pages)
    for title in SECTIONS:
        assert title in text, title
    assert f"Page 1 of {pages}" in text
    assert f"Page {pages} of {pages}" in text

    def titles(outline: list[Any]) -> list[str]:
        out: list[str] = []
        for item in outline:
            out += titles(item) if isinstance(item, list) else [item.title]
        return out

    assert set(SECTIONS) <= set(titles(pdf.outline))
    fonts = set()
    for page in pdf.pages:
        for font in (page["/Resources"].get_object().get("/Font") or {}).get_object().values():
            font = font.get_object()
            for desc in font.get("/DescendantFonts") or [font]:
                descriptor = desc.get_object().get("/FontDescriptor")
                files = descriptor.get_object().keys() if descriptor else ()
                if {"/FontFile", "/FontFile2", "/FontFile3"} & set(files):
                    fonts.add(str(font["/BaseFont"]))
    assert fonts, "no font embedded"


def test_the_deck_opens_with_at_most_eight_slides(written: dict[str, Any]) -> None:
    from pptx import Presentation

    deck = Presentation(str(written["deck"]))
    slides = list(deck.slides)
    assert 1 <= len(slides) <= 8
    summary = written["json"]["figures"]["cost.total"]["text"]
    shown = "\n".join(
        s.text_frame.text for slide in slides for s in slide.shapes if s.has_text_frame
    )
    assert "Performance and cost review" in shown
    assert summary in shown or any(
        summary in (slide.notes_slide.notes_text_frame.text if slide.has_notes_slide else "")
        for slide in slides
    )


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Chromium is not installed")
def test_the_html_renders_in_chromium_offline(written: dict[str, Any], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url = written["html"].resolve().as_uri()
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: r.url != url and requests.append(r.url))
            page.goto(url)
            headings = page.locator("h2").all_inner_texts()
            charts = page.locator("figure.chart svg").count()
            box = page.locator("figure.chart svg").first.bounding_box() if charts else None
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert requests == []
    assert [h for h in headings if h in SECTIONS] == list(SECTIONS)
    assert charts >= 1
    assert box is not None
    assert box["width"] > 300
    assert box["height"] > 80


def test_a_fresh_lake_gives_a_report_that_says_what_is_missing(tmp_path: Path) -> None:
    init = run_cli("init", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    result = run_cli("report", "--json", "-", "--out", "r.html", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    missing = {s["id"]: s["missing"] for s in doc["sections"]}
    for section in ("performance", "cost", "reliability", "changes"):
        assert missing[section], section
    assert "What is missing" in (tmp_path / "r.html").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--period", "month:2026-13"), "month:YYYY-MM"),
        (("--period", "0s"), "is empty"),
        (("--period", "soon"), "--period 'soon'"),
        (("--service", "chta"), "chat"),
    ],
)
def test_bad_arguments_are_usage_errors(
    workspace: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_cli("report", *args, "--out", "x.html", cwd=workspace)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
