"""Strict JSON out: every JSON text perfops writes (``--json`` output, exported results,
journal columns, state files) goes through :func:`dumps` or :func:`dump`.

RFC 8259 has no NaN or Infinity, and strict parsers (``jq``, JavaScript's ``JSON.parse``, Go's
``encoding/json``) reject the bare ``NaN`` that Python's ``json`` writes by default. An
undefined ratio (a burn rate over no events, a percentile of no samples) is ``null``, and so
is an infinite one: :func:`jsonable` turns every non-finite float into ``None`` first, and the
encoder runs with ``allow_nan=False``, so a non-finite float that slipped past it is an error
here rather than a file another program cannot read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import IO, Any

__all__ = ["dump", "dumps", "jsonable"]


def jsonable(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, +-Infinity) replaced by ``None``, inside
    dicts, lists and tuples too (tuples become lists, as JSON writes them)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _fallback(default: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """``default`` (how an object JSON cannot write becomes one it can), its result made
    finite too."""
    if default is None:
        return None
    return lambda obj: jsonable(default(obj))


def dumps(
    value: Any,
    *,
    indent: int | None = None,
    default: Callable[[Any], Any] | None = str,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    """``value`` as strict JSON text: non-finite floats as ``null``; objects JSON cannot
    write go through ``default`` (``str`` unless told otherwise)."""
    return json.dumps(
        jsonable(value),
        indent=indent,
        default=_fallback(default),
        separators=separators,
        sort_keys=sort_keys,
        allow_nan=False,
    )


def dump(
    value: Any,
    out: IO[str],
    *,
    indent: int | None = None,
    default: Callable[[Any], Any] | None = str,
) -> None:
    """:func:`dumps` written to ``out``."""
    json.dump(jsonable(value), out, indent=indent, default=_fallback(default), allow_nan=False)
