"""Identifiers: time-sortable run ids and stable series ids."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

from perfops._internal.escape import exposition_label_value

__all__ = ["new_id", "series_id"]

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _base32(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(now_ns: int, prefix: str = "") -> str:
    """A ULID-like id: 48 bits of milliseconds then 80 random bits; sorts by creation time."""
    millis = now_ns // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    return f"{prefix}{_base32(millis, 10)}{_base32(rand, 16)}"


def series_id(metric: str, labels: Mapping[str, str]) -> int:
    """A stable signed 64-bit id for a series: the same metric and labels give the same id,
    in every process and every version (blake2b of the canonical Prometheus form, values
    escaped as the text format escapes them, so that no value can mimic another label)."""
    pairs = (f'{k}="{exposition_label_value(labels[k])}"' for k in sorted(labels))
    canon = metric + "{" + ",".join(pairs) + "}"
    digest = hashlib.blake2b(canon.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
