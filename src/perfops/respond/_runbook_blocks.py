"""Generated blocks inside a runbook's Markdown, and merging new ones into an edited file.

A block is ``<!-- perfops:begin NAME sha256:DIGEST -->`` ... ``<!-- perfops:end NAME -->``;
DIGEST is the start of the SHA-256 of the body as written, so a block edited by hand since is
told from one perfops wrote. Text outside the blocks is the humans': it is never rewritten.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

__all__ = [
    "Merged",
    "block",
    "digest",
    "edited_blocks",
    "merge",
    "neutralize",
    "parse_blocks",
    "strip_markers",
]

_BEGIN = re.compile(r"^<!-- perfops:begin (?P<name>[a-z_]+)(?: sha256:(?P<digest>[0-9a-f]+))? -->$")
_END = "<!-- perfops:end {name} -->"
_MARKER = re.compile(r"^<!-- perfops:(?:begin|end) [^\n]*-->\n?", re.MULTILINE)


def digest(body: str) -> str:
    return hashlib.sha256(body.strip().encode()).hexdigest()[:16]


def neutralize(text: str) -> str:
    """``text`` (from perfops.yaml, the lake) unable to open or close a block."""
    return text.replace("<!-- perfops:", "<!-- perfops :")


def block(name: str, body: str) -> str:
    body = body.strip("\n")
    return f"<!-- perfops:begin {name} sha256:{digest(body)} -->\n{body}\n{_END.format(name=name)}"


@dataclass(frozen=True, slots=True)
class _Block:
    name: str
    digest: str | None
    body: str
    start: int  # character offsets of the whole block in the text
    end: int

    @property
    def edited(self) -> bool:
        return self.digest is None or digest(self.body) != self.digest


def parse_blocks(text: str) -> list[_Block]:
    """The generated blocks of ``text``, in order; an unclosed block is not one."""
    out, pos = [], 0
    for m in re.finditer(r"^<!-- perfops:begin [^\n]*-->$", text, re.MULTILINE):
        if m.start() < pos:
            continue
        begin = _BEGIN.match(m.group(0))
        if begin is None:
            continue
        end = text.find(_END.format(name=begin["name"]), m.end())
        if end < 0:
            continue
        close = end + len(_END.format(name=begin["name"]))
        body = text[m.end() + 1 : end].rstrip("\n")
        out.append(_Block(begin["name"], begin["digest"], body, m.start(), close))
        pos = close
    return out


def edited_blocks(text: str) -> list[str]:
    """The generated blocks of ``text`` edited by hand since perfops wrote them."""
    return [b.name for b in parse_blocks(text) if b.edited]


@dataclass
class Merged:
    text: str
    edited: dict[str, str] = field(default_factory=dict)  # hand-edited blocks: name -> old body
    added: list[str] = field(default_factory=list)  # blocks the file lacked, appended


def merge(text: str, sections: dict[str, str], *, force: bool = False) -> Merged:
    """``text`` with each block named in ``sections`` given its new body. A block edited by
    hand is left as it is unless ``force`` (either way it is reported in ``edited`` with its
    old body); a block the file lacks is appended at the end."""
    found = {b.name: b for b in parse_blocks(text)}
    merged = Merged(text)
    pieces, cursor = [], 0
    for b in sorted(found.values(), key=lambda b: b.start):
        if b.name not in sections:
            continue
        if b.edited:
            merged.edited[b.name] = b.body
            if not force:
                continue
        pieces += [text[cursor : b.start], block(b.name, sections[b.name])]
        cursor = b.end
    pieces.append(text[cursor:])
    out = "".join(pieces)
    for name, body in sections.items():
        if name not in found:
            out = out.rstrip("\n") + "\n\n" + block(name, body) + "\n"
            merged.added.append(name)
    merged.text = out
    return merged


def strip_markers(text: str) -> str:
    """The Markdown without its block markers (for showing it)."""
    return _MARKER.sub("", text)
