"""Turning a scrape into lake rows: canonical names, normalised labels, stable series ids.

A scrape's samples are keyed by ``(sample name, label text)`` exactly as written; the first time
a key is seen it is resolved through the catalog (canonical name, unit scale, labels) and given
its series id, and every later scrape of that series costs one dict lookup.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from perfops._internal.ids import series_id
from perfops.telemetry.catalog import Catalog, normalize_labels
from perfops.telemetry.exposition import Exposition, parse_labels

__all__ = ["STALE_NAN", "Rows", "Series", "SeriesMapper", "is_stale_marker"]

# Prometheus' staleness marker: a NaN with this exact bit pattern, written when a series
# disappears from its target's scrape or the target goes down.
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]


def is_stale_marker(value: float) -> bool:
    return math.isnan(value) and struct.pack("<d", value) == struct.pack("<d", STALE_NAN)


@dataclass(frozen=True, slots=True)
class Series:
    """A series as the lake records it (the store's SeriesInfo has the same fields)."""

    metric: str
    labels: Mapping[str, str]
    source: str
    raw_name: str


@dataclass(slots=True)
class _Known:
    sid: int
    metric: str
    scale: float


@dataclass(slots=True)
class Rows:
    """Columnar rows of one scrape, plus the series seen for the first time. ``stamped``: some
    timestamps came with the samples (not the scrape's time), so the same sample can be read
    again by a later scrape or a restarted collector and the lake must skip what it holds."""

    ts: list[int] = field(default_factory=list)
    series_ids: list[int] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    new_series: list[Series] = field(default_factory=list)
    stamped: bool = False

    def __len__(self) -> int:
        return len(self.values)

    def add(self, ts: int, sid: int, metric: str, value: float) -> None:
        self.ts.append(ts)
        self.series_ids.append(sid)
        self.metrics.append(metric)
        self.values.append(value)


class SeriesMapper:
    """Maps one target's samples to lake rows; remembers its series between scrapes."""

    def __init__(self, catalog: Catalog, *, source: str, target_labels: Mapping[str, str]) -> None:
        self.catalog = catalog
        self.source = source
        self.target_labels = dict(target_labels)
        self._known: dict[tuple[str, str], _Known] = {}
        self.last_seen: dict[int, str] = {}  # series id -> metric, of the previous scrape
        # The previous scrape's shape: when a target answers the same series in the same
        # order (the usual case), its rows reuse the ids and names and only scale the values.
        self._shape: tuple[list[str], list[str]] | None = None
        self._shape_rows: tuple[list[int], list[str], list[float]] = ([], [], [])

    def _resolve(
        self, exp: Exposition, name: str, label_text: str, superseded: frozenset[str]
    ) -> tuple[_Known, Series]:
        labels = parse_labels(label_text)
        family = exp.family_of(name)
        found = (
            None
            if name in superseded
            else self.catalog.resolve(name, labels, family.type if family else None)
        )
        if found is None:  # not in the catalog (or an old name beside its replacement): raw
            metric, scale, out, source = name, 1.0, normalize_labels(labels), self.source
        else:
            metric, scale, out, source = found.metric, found.scale, dict(found.labels), found.source
        for key, value in self.target_labels.items():
            out.setdefault(key, value)  # like Prometheus' honor_labels: the target's labels win
        known = _Known(series_id(metric, out), metric, scale)
        return known, Series(metric, out, source, name)

    def rows(self, exp: Exposition, scrape_ms: int) -> Rows:
        """Rows for every sample of ``exp``; samples without a timestamp get ``scrape_ms``."""
        shape = self._shape
        if shape is not None and shape[0] == exp.names and shape[1] == exp.label_texts:
            return self._same_shape(exp, scrape_ms)
        rows = self._rows(exp, scrape_ms)
        n = len(exp)
        self._shape = (exp.names, exp.label_texts)
        self._shape_rows = (
            rows.series_ids[:n],
            rows.metrics[:n],
            [self._known[k].scale for k in zip(exp.names, exp.label_texts, strict=True)],
        )
        return rows

    def _same_shape(self, exp: Exposition, scrape_ms: int) -> Rows:
        ids, metrics, scales = self._shape_rows
        stamps = exp.timestamps_ms
        stamped = stamps.count(None) != len(stamps)
        ts = [scrape_ms if t is None else t for t in stamps] if stamped else [scrape_ms] * len(ids)
        values = [v * s for v, s in zip(exp.values, scales, strict=True)]
        return Rows(ts, list(ids), list(metrics), values, stamped=stamped)

    def _rows(self, exp: Exposition, scrape_ms: int) -> Rows:
        out = Rows()
        known = self._known
        seen: dict[int, str] = {}
        superseded: frozenset[str] | None = None
        for name, text, value, ts in zip(
            exp.names, exp.label_texts, exp.values, exp.timestamps_ms, strict=True
        ):
            entry = known.get((name, text))
            if entry is None:
                if superseded is None:  # deprecated vLLM names shown beside their successors
                    superseded = self.catalog.superseded(set(exp.names))
                entry, series = self._resolve(exp, name, text, superseded)
                known[(name, text)] = entry
                out.new_series.append(series)
            out.add(
                scrape_ms if ts is None else ts,
                entry.sid,
                entry.metric,
                value * entry.scale if entry.scale != 1.0 else value,
            )
            seen[entry.sid] = entry.metric
        for sid, metric in self.last_seen.items():
            if sid not in seen:  # gone from this scrape: mark it stale, as Prometheus does
                out.add(scrape_ms, sid, metric, STALE_NAN)
        self.last_seen = seen
        out.stamped = any(t is not None for t in exp.timestamps_ms)
        return out

    def all_stale(self, scrape_ms: int) -> Rows:
        """Staleness markers for every series of the last scrape (the target went down)."""
        out = Rows()
        for sid, metric in self.last_seen.items():
            out.add(scrape_ms, sid, metric, STALE_NAN)
        self.last_seen = {}
        return out
