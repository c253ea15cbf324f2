"""Values on the terminal: what the CLI prints of the lake, the config or a server's error
goes through here, so that no value can inject rich markup (``[/bold]x`` would raise a
MarkupError), an emoji code, or control and bidi characters (shown escaped, ``\\x1b``).

Values reach rich as :class:`rich.text.Text` (:func:`rich_text`), never inside a markup
string: rich's markup escaping is lossy around backslashes and leaves ``:emoji:`` codes.

Rich is imported lazily: only renderers use it, and ``perfops --help`` stays fast.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, TextIO

import typer

from perfops._internal.escape import terminal_text

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["VisibleStream", "echo", "rich_text", "terminal_text"]


def rich_text(value: object, style: str = "") -> Text:
    """``value`` as a rich Text for a cell, a title or ``Text.assemble``: never parsed for
    markup or emoji, controls shown escaped."""
    from rich.text import Text

    return Text(terminal_text(str(value)), style=style)


def echo(message: str, *, err: bool = False, nl: bool = True) -> None:
    """``typer.echo`` of a message that may hold values, controls shown escaped."""
    typer.echo(terminal_text(message), err=err, nl=nl)


class VisibleStream(io.TextIOBase):
    """A text stream writing to ``stream`` with controls shown escaped: for text that others
    format and print, such as click's usage errors (they quote the offending argument)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(terminal_text(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()
