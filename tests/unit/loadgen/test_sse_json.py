"""The client's chunk decoder is ``json.loads``: same values, same failures."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from perfops.loadgen.client import _loads

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20
)


def outcome(decode: Any, data: bytes) -> tuple[str, Any]:
    try:
        return "value", decode(data)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both are
        return "error", None


@given(st.dictionaries(st.text(min_size=1), values, min_size=1), st.sampled_from([", ", ","]))
def test_objects_decode_as_json_loads_decodes_them(obj: dict[str, Any], sep: str) -> None:
    data = json.dumps(obj, separators=(sep, ":"), ensure_ascii=False).encode()
    assert _loads(data) == json.loads(data)


@given(st.binary(max_size=40), st.sampled_from([b'{"', b"{", b"[", b""]))
def test_any_bytes_fail_where_json_loads_fails(tail: bytes, head: bytes) -> None:
    data = head + tail
    assert outcome(_loads, data) == outcome(json.loads, data)


def test_extra_data_and_bad_utf8_fail() -> None:
    for data in (b'{"a": 1} x', b'{"a": 1}{"b": 2}', b'{"a": "\xff"}', b'{"a": 1'):
        assert outcome(_loads, data)[0] == outcome(json.loads, data)[0] == "error"
