"""Action items of postmortems: the task-list items under a postmortem's ``## Action items``
heading, ``- [ ] action (owner, YYYY-MM-DD)`` open and ``- [x] ...`` done (GitHub's task-list
syntax, which the postmortem template suggests), each with the file and line it is on.

Items still holding the template's placeholder (nothing written yet) are not action items;
lines inside fenced code blocks are not read.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from perfops.respond.postmortem import HUMAN

__all__ = ["ActionItem", "parse_action_items"]

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\[([ xX])\][ \t]+(\S.*?)\s*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_PARENS = re.compile(r"\(([^()]*)\)")
_DATE = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
_TITLE = "action items"


@dataclass(frozen=True)
class ActionItem:
    """One item: its ``text`` as written, whether it is ``done``, the ``owner`` and ``due``
    date read from a trailing ``(owner, YYYY-MM-DD)`` when there is one, and where it is
    (``path``, 1-based ``line``; ``title``: the postmortem's first heading)."""

    text: str
    done: bool
    path: str
    line: int
    title: str = ""
    owner: str | None = None
    due: dt.date | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _owner_due(text: str) -> tuple[str | None, dt.date | None]:
    """The owner and due date of the item's last parenthesis, ``(alice, 2026-12-20)``."""
    found = _PARENS.findall(text)
    if not found:
        return None, None
    parts = [p.strip() for p in found[-1].split(",") if p.strip()]
    due = next((d for p in parts if (m := _DATE.search(p)) and (d := _date(m[1]))), None)
    owners = [p for p in parts if not _DATE.search(p)]
    return (owners[0] if owners else None), due


def _blocks(lines: list[str]) -> list[bool]:
    """For each line, whether it is inside (or opens or closes) a fenced code block."""
    inside: list[bool] = []
    fence = ""
    for line in lines:
        opened = _FENCE.match(line)
        if fence:
            inside.append(True)
            if opened and opened[1][0] == fence[0] and len(opened[1]) >= len(fence):
                fence = ""
        else:
            inside.append(bool(opened))
            fence = opened[1] if opened else ""
    return inside


def parse_action_items(text: str, path: str) -> list[ActionItem]:
    """The task-list items under every ``Action items`` heading of the Markdown ``text``
    (up to the next heading of the same or a higher level), as found in file ``path``."""
    lines = text.splitlines()
    title, level, out = "", 0, []
    for number, (line, code) in enumerate(zip(lines, _blocks(lines), strict=True), 1):
        heading = None if code else _HEADING.match(line)
        if heading:
            depth, words = len(heading[1]), heading[2].strip()
            title = title or words
            if level and depth <= level:
                level = 0
            if words.lower().rstrip(":") == _TITLE:
                level = depth
            continue
        item = None if code or not level else _ITEM.match(line)
        if item is None or HUMAN in item[2]:
            continue
        owner, due = _owner_due(item[2])
        out.append(ActionItem(item[2], item[1] != " ", path, number, title, owner, due))
    return out
