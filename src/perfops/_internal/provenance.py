"""Where a shown number comes from (one number, one source): a :class:`Figure` is the text
as shown, the raw value and its :class:`Source`, the function and arguments that computed it,
the SQL it ran where there is one, and the Delta version of each lake table it read, so that
any page, postmortem or report can cite it and anyone can read it again from the same lake."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Figure", "Source"]


@dataclass(frozen=True)
class Source:
    """Where a figure comes from: ``call`` (a function and its arguments), the SQL it ran
    (values written in) where there is one, and the version of each lake table it read."""

    call: str
    query: str | None = None
    tables: tuple[tuple[str, int], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"call": self.call, "query": self.query, "tables": dict(self.tables)}


@dataclass(frozen=True)
class Figure:
    """A number as shown (``text``), its raw ``value``, its :class:`Source`, and a dotted
    ``key`` naming it where a document lists its figures (``cost.total``)."""

    text: str
    source: Source
    value: float | int | str | None = None
    key: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = {"text": self.text, "value": self.value, "source": self.source.as_dict()}
        return {"key": self.key, **out} if self.key else out
