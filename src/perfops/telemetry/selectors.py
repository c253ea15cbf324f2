"""Which PromQL an import can read raw: a plain vector selector (``name``, ``name{...}`` or
``{...}``, no function, operator, range, ``offset`` or ``@``), and what a metric name is."""

from __future__ import annotations

import re

from perfops.errors import UsageError

__all__ = ["METRIC_NAME", "check_metric_name", "is_selector"]

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r"(?:[a-zA-Z_][a-zA-Z0-9_]*|\"(?:[^\"\\]|\\.)*\")"
_STRING = r"(?:\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|`[^`]*`)"
_MATCHER = rf"\s*(?:{_LABEL}\s*(?:=~|!~|!=|=)\s*{_STRING}|\"(?:[^\"\\]|\\.)*\")\s*"
_SELECTOR = re.compile(
    rf"\s*(?:{_NAME}\s*(?:\{{(?:{_MATCHER}(?:,{_MATCHER})*,?\s*)?\}})?"
    rf"|\{{{_MATCHER}(?:,{_MATCHER})*,?\s*\}})\s*"
)
# PromQL words that parse as something other than a metric name when they stand alone
_KEYWORDS = frozenset({"bool", "by", "ignoring", "group_left", "group_right", "offset", "on"})
_KEYWORDS |= {"without", "and", "or", "unless", "atan2", "inf", "nan", "sum", "min", "max"}
_KEYWORDS |= {"avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk"}
_KEYWORDS |= {"quantile", "limitk", "limit_ratio"}


def is_selector(query: str) -> bool:
    """True when ``query`` is one vector selector whose raw samples a range read returns."""
    if _SELECTOR.fullmatch(query) is None:
        return False
    name = re.match(rf"\s*({_NAME})", query)
    return name is None or name.group(1).lower() not in _KEYWORDS


def check_metric_name(name: str, option: str = "--as") -> str:
    """``name`` when it is a Prometheus metric name, else a UsageError naming ``option``."""
    if METRIC_NAME.fullmatch(name) is None:
        raise UsageError(
            f"{option} {name!r} is not a metric name",
            hint="letters, digits, '_' and ':', not starting with a digit, "
            "e.g. --as chat:requests:rate5m",
        )
    return name
