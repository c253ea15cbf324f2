"""Strict JSON: non-finite numbers become null at any depth, and nothing writes bare NaN."""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass

import pytest

from perfops._internal import strict_json


def strict_loads(text: str) -> object:
    def refuse(name: str) -> object:
        raise ValueError(f"bare {name} in JSON")

    return json.loads(text, parse_constant=refuse)


@dataclass
class _Opaque:
    x: float

    def __str__(self) -> str:
        return f"opaque {self.x}"


def test_non_finite_numbers_become_null_at_any_depth() -> None:
    value = {
        "nan": math.nan,
        "inf": math.inf,
        "list": [1.5, -math.inf, {"deep": (math.nan, 2)}],
        "kept": 0.25,
        "int": 3,
    }
    text = strict_json.dumps(value, indent=2)
    assert strict_loads(text) == {
        "nan": None,
        "inf": None,
        "list": [1.5, None, {"deep": [None, 2]}],
        "kept": 0.25,
        "int": 3,
    }
    out = io.StringIO()
    strict_json.dump(value, out)
    assert strict_loads(out.getvalue()) == strict_loads(text)


def test_objects_json_cannot_write_go_through_default_and_stay_finite() -> None:
    assert strict_loads(strict_json.dumps({"o": _Opaque(math.nan)})) == {"o": "opaque nan"}
    as_pairs = strict_json.dumps(_Opaque(math.inf), default=lambda o: {"x": o.x})
    assert strict_loads(as_pairs) == {"x": None}
    with pytest.raises(TypeError):
        strict_json.dumps(_Opaque(1.0), default=None)
