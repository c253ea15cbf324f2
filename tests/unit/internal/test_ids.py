"""Series ids: no label value can make one series' id equal another's, and ids of series
whose values need no escaping are those earlier versions computed (lakes keep their ids)."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from perfops._internal.ids import series_id


def test_a_value_cannot_mimic_another_label() -> None:
    assert series_id("m", {"a": 'x",b="y'}) != series_id("m", {"a": "x", "b": "y"})
    assert series_id("m", {"a": "x\\", "b": "y"}) != series_id("m", {"a": 'x\\",b=\\"y'})
    assert series_id("m", {"a": "x\ny"}) != series_id("m", {"a": "x\\ny"})


def _unescaped_id(metric: str, labels: dict[str, str]) -> int:
    """The id as perfops computed it before values were escaped."""
    canon = metric + "{" + ",".join(f'{k}="{labels[k]}"' for k in sorted(labels)) + "}"
    return int.from_bytes(
        hashlib.blake2b(canon.encode(), digest_size=8).digest(), "big", signed=True
    )


plain_values = st.text().filter(lambda v: not set(v) & {'"', "\\", "\n"})


@given(st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), plain_values, max_size=4))
def test_ids_of_plain_values_did_not_change(labels: dict[str, str]) -> None:
    assert series_id("gpu.util", labels) == _unescaped_id("gpu.util", labels)
