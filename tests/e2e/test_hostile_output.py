"""Scraped values a hostile exporter controls, and config values, reach the terminal as text:
rich markup shows as typed (``[/bold]x`` once crashed `metrics show` with a MarkupError),
and ANSI/OSC escapes and bidi controls show escaped (``\\x1b``, ``\\u202e``), never raw."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import run_cli

MARKUP = "[/bold]x"
OSC_LINK = "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
CLEAR = "\x1b[2J"
BIDI = "ab\u202ecd :warning:"
# What a reader must never receive raw: C0 controls (but newline), DEL, C1, bidi controls.
RAW = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


EXPOSITION = "# TYPE evil_gauge gauge\n" + "".join(
    f'evil_gauge{{v="{_label(v)}"}} {i}\n' for i, v in enumerate((MARKUP, OSC_LINK, CLEAR, BIDI))
)
# An HTTP reason phrase, which perfops reports as the target's last error; 0x9b is not UTF-8
# (and is the 8-bit CSI): it arrives as a lone surrogate.
REASON = f"{CLEAR}{MARKUP}\x9b"


class _Exporter(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = EXPOSITION.encode()
        if self.path != "/metrics":
            self.send_response(503, REASON)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def exporter() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Exporter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _assert_shown_safely(text: str) -> None:
    assert not RAW.search(text), repr(RAW.search(text))


WIDE = {"COLUMNS": "240"}  # one series per line, so each value is checked whole


def test_hostile_label_values_are_shown_escaped(tmp_path: Path, exporter: str) -> None:
    (tmp_path / "perfops.yaml").write_text(
        "apiVersion: perfops/v1\ntelemetry:\n  interval: 1s\n  targets:\n"
        f'    - {{name: evil, kind: prometheus, url: "{exporter}/metrics"}}\n'
        f'    - {{name: broken, kind: prometheus, url: "{exporter}/broken"}}\n'
    )
    collected = run_cli("collect", "--duration", "2s", cwd=tmp_path, env=WIDE)
    _assert_shown_safely(collected.stdout + collected.stderr)
    assert "HTTP 503 \\x1b[2J[/bold]x\\udc9b" in collected.stdout  # the live table's last error

    listed = run_cli("metrics", "ls", cwd=tmp_path, env=WIDE)
    assert listed.returncode == 0, listed.stderr
    assert "evil_gauge" in listed.stdout
    _assert_shown_safely(listed.stdout + listed.stderr)

    shown = run_cli("metrics", "show", "evil_gauge", cwd=tmp_path, env=WIDE)
    assert shown.returncode == 0, shown.stderr
    _assert_shown_safely(shown.stdout + shown.stderr)
    for visible in (
        "v=[/bold]x",
        "v=\\x1b]8;;http://evil.example/\\x1b\\click\\x1b]8;;\\x1b\\",
        "v=\\x1b[2J",
        "v=ab\\u202ecd :warning:",
    ):
        assert visible in shown.stdout

    as_json = run_cli("metrics", "show", "evil_gauge", "--json", cwd=tmp_path)
    values = {s["labels"]["v"] for s in json.loads(as_json.stdout)["series"]}
    assert values == {MARKUP, OSC_LINK, CLEAR, BIDI}  # stored as scraped; escaped when shown


def test_an_error_naming_a_hostile_value_is_printed_escaped(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(
        'apiVersion: perfops/v1\n"\\e[2J\\e]0;title\\a[/bold]\\u202e": 1\n'
    )
    result = run_cli("metrics", "ls", cwd=tmp_path)
    assert result.returncode == 2
    assert "\\x1b[2J\\x1b]0;title\\x07[/bold]\\u202e: unknown field" in result.stderr
    _assert_shown_safely(result.stdout + result.stderr)


def test_a_usage_error_quoting_a_hostile_argument_is_printed_escaped(tmp_path: Path) -> None:
    result = run_cli("metrics", "ls", "--x\u202eyz", cwd=tmp_path)
    assert result.returncode == 2
    assert "No such option: --x\\u202eyz" in result.stderr
    _assert_shown_safely(result.stdout + result.stderr)


HOSTILE_MODEL = f'{MARKUP}"}} or vector(1) or foo{{a="{CLEAR}\u202e'
CONFIG = f"""apiVersion: perfops/v1
services:
  - name: chat
    endpoint: http://127.0.0.1:9/v1
    model: {json.dumps(HOSTILE_MODEL)}
    gpu: {{type: H100-SXM}}
slos:
  - {{name: chat-avail, service: chat, sli: {{kind: availability}}, objective: 99.9,
     description: {json.dumps(HOSTILE_MODEL + " {{{{ $value }}}}")}}}
"""


def test_cost_report_shows_a_hostile_model_name(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(CONFIG)
    result = run_cli("cost", "report", "--by", "model", cwd=tmp_path, env=WIDE)
    assert result.returncode == 0, result.stderr
    assert '[/bold]x"} or vector(1) or foo{a="\\x1b[2J\\u202e' in result.stdout
    _assert_shown_safely(result.stdout + result.stderr)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_slo_rules_for_a_hostile_model_pass_promtool(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text(CONFIG)
    result = run_cli("slo", "rules", "--out", "gen", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    promtool = str(shutil.which("promtool"))
    for command in ("check", "test"):
        file = "rules.yml" if command == "check" else "rules_test.yml"
        checked = subprocess.run(
            [promtool, command, "rules", file], cwd=tmp_path / "gen",
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
