"""The CLI's renderers of values: rich tables and titles, echoed lines and click's usage
errors show hostile values as typed, with controls and bidi characters escaped."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from perfops.cli._terminal import VisibleStream, echo, rich_text

HOSTILE = [
    "[/bold]x",
    "[red]not red[/]",
    ":warning: :smile:",
    "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "\x1b[2J\x9b31m",
    "ab\u202ecd\u2066",
    "back\\[slash",
]
RAW = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _render(*cells: str | Text, title: Text | None = None) -> str:
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False, color_system=None)
    table = Table("value", title=title)
    for cell in cells:
        table.add_row(cell)
    console.print(table)
    return out.getvalue()


def _visible(value: str) -> str:
    return value.translate({0x1B: "\\x1b", 0x9B: "\\x9b", 0x202E: "\\u202e", 0x2066: "\\u2066"})


@pytest.mark.parametrize("value", HOSTILE)
def test_a_rich_text_cell_or_title_shows_the_value_as_typed(value: str) -> None:
    shown = _render(rich_text(value), title=rich_text(value))
    assert not RAW.search(shown)
    assert shown.count(_visible(value)) == 2  # title and cell, parsed for neither markup nor emoji


@pytest.mark.parametrize("value", HOSTILE)
def test_rich_text_assembles_with_styled_text(value: str) -> None:
    shown = _render(Text.assemble(rich_text(value, "bold"), "\n", ("dim part", "dim")))
    assert not RAW.search(shown)
    assert _visible(value) in shown


def test_a_raw_value_in_markup_is_what_crashed() -> None:
    from rich.errors import MarkupError

    with pytest.raises(MarkupError):
        _render("[/bold]x")


def test_echo_and_the_visible_stream_escape_controls(capsys: pytest.CaptureFixture[str]) -> None:
    echo("error: \x1b[2J\u202e", err=True)
    assert capsys.readouterr().err == "error: \\x1b[2J\\u202e\n"
    out = io.StringIO()
    stream = VisibleStream(out)
    stream.write("No such option: --\x1b]0;t\x07\n")
    stream.flush()
    assert out.getvalue() == "No such option: --\\x1b]0;t\\x07\n"
    assert stream.isatty() is False
