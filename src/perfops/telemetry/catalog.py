"""The canonical metric catalog: vendor metric names to canonical metrics, units and labels.

The mapping itself is data, ``catalog.yaml`` next to this module, which cites its sources and
states the conventions. This module loads and checks it, and applies it one series at a time::

    >>> catalog = load_catalog()
    >>> r = catalog.resolve("DCGM_FI_DEV_FB_USED", {"gpu": "0", "UUID": "GPU-1", "Hostname": "h"})
    >>> r.metric, r.scale, r.labels
    ('gpu.fb_used_bytes', 1048576.0, {'gpu': '0', 'uuid': 'GPU-1', 'hostname': 'h'})

Canonical sample names depend only on the canonical metric and its type: a gauge ``m``; a
counter ``m_total`` (and ``m_created``), whether or not the exporter wrote ``_total``; a
histogram ``m_bucket`` / ``m_sum`` / ``m_count`` (and ``m_created``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from perfops.config import Located, Path_, load_located
from perfops.errors import ConfigError, Problem

__all__ = [
    "DEFAULT_CATALOG_PATH",
    "Catalog",
    "MetricInfo",
    "Resolved",
    "load_catalog",
    "normalize_labels",
    "parse_catalog",
]

DEFAULT_CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
API_VERSION = "perfops/v1"
KIND = "MetricCatalog"
TYPES = ("gauge", "counter", "histogram")
UNITS = frozenset(
    ("percent", "ratio", "bytes", "watts", "joules", "celsius", "hertz", "seconds")
    + ("tokens", "requests", "count", "code")
)
# (raw unit, canonical unit) -> factor. Exact where the unit allows it (MiB is 2**20 bytes).
CONVERSIONS: Mapping[tuple[str, str], float] = {
    ("MiB", "bytes"): 1048576.0,
    ("mJ", "joules"): 0.001,
    ("MHz", "hertz"): 1e6,
    ("ratio", "percent"): 100.0,
    ("us", "seconds"): 1e-6,
    ("ms", "seconds"): 1e-3,
}
# Every source: dcgm-exporter wrote `Hostname` until PR #655 (2026-05), and `UUID` unless run
# with --use-old-namespace.
LABEL_RENAMES: Mapping[str, str] = {"Hostname": "hostname", "UUID": "uuid"}

_SUFFIXES = {
    "gauge": ("",),
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}
_SCALED = frozenset({"", "_total", "_sum"})  # buckets and counts are counts; _created is a time
_RESERVED = ("_total", "_bucket", "_sum", "_count", "_created", "_info")
_SHAPES = {
    "gauge": "scalar",
    "counter": "scalar",
    "histogram": "histogram",
    "gaugehistogram": "histogram",
    "summary": "summary",
    "info": "info",
    "stateset": "stateset",
}
_METRIC_RE = re.compile(r"([a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*")
_RAW_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_WORD_RE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """One canonical metric: its name, type, unit and meaning."""

    name: str  # "gpu.fb_used_bytes"
    type: str  # gauge | counter | histogram
    unit: str
    description: str
    fallbacks: tuple[str, ...] = ()  # stand-ins, best first, for when this one is absent

    @property
    def family(self) -> str:
        """The metric's family: "gpu", "llm" or "train"."""
        return self.name.split(".", 1)[0]

    def sample_names(self) -> tuple[str, ...]:
        """The canonical sample names this metric is stored under in the lake."""
        return tuple(self.name + suffix for suffix in _SUFFIXES[self.type])


@dataclass(frozen=True, slots=True)
class Resolved:
    """What the catalog makes of one raw series."""

    metric: str  # canonical SAMPLE name: "gpu.fb_used_bytes", "llm.ttft_seconds_bucket"
    family: str  # canonical metric: "llm.ttft_seconds"
    labels: dict[str, str]  # normalised; `le` scaled with the values when the unit converts
    scale: float  # multiply raw values by this
    source: str  # "dcgm" | "vllm" | "nim" | "tgi" | "triton"
    unit: str  # the canonical metric's unit (bucket and count values are counts)


@dataclass(frozen=True, slots=True)
class _Entry:
    raw: str
    info: MetricInfo
    source: str
    scale: float
    rename: Mapping[str, str]
    fixed: Mapping[str, str]
    replaced_by: str | None


@dataclass(frozen=True, slots=True)
class _Sample:
    entry: _Entry
    suffix: str  # canonical suffix


def normalize_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Drop empty values (Prometheus reads ``pod=""`` as no label) and rename ``Hostname`` ->
    ``hostname``, ``UUID`` -> ``uuid``; every other label is kept as it is."""
    return _relabel({k: v for k, v in labels.items() if v != ""}, LABEL_RENAMES, {})


def _relabel(
    labels: Mapping[str, str], rename: Mapping[str, str], fixed: Mapping[str, str]
) -> dict[str, str]:
    """Apply renames and constant labels; a raw label they collide with becomes exported_*."""
    out: dict[str, str] = {}
    ours: dict[str, str] = {}
    for key, value in labels.items():
        if key in rename:
            ours[rename[key]] = value
        else:
            out[key] = value
    ours.update(fixed)
    for key, value in ours.items():
        if key in out:
            out[f"exported_{key}"] = out.pop(key)
        out[key] = value
    return out


def _scale_le(le: str, scale: float) -> str:
    """Scale a bucket bound exactly in decimal: 15 (ms) x 0.001 gives "0.015", not 0.015000…1."""
    try:
        bound = Decimal(le)
    except InvalidOperation:
        return le
    return repr(float(bound * Decimal(repr(scale)))) if bound.is_finite() else le


def _raw_samples(raw: str, kind: str) -> dict[str, str]:
    """Raw sample names of one vendor metric -> the canonical suffix each maps to."""
    if kind == "gauge":
        return {raw: ""}
    if kind == "counter":  # with or without _total: Go/Rust exporters omit it, Python adds it
        base = raw.removesuffix("_total")
        return {base: "_total", f"{base}_total": "_total", f"{base}_created": "_created"}
    return {raw + suffix: suffix for suffix in _SUFFIXES["histogram"]}


def _compatible(kind: str, family_type: str | None, suffix: str) -> bool:
    """False when the exposition declares a different shape (a summary where we expect a
    histogram...). Counter/gauge mix-ups, untyped families and _created series pass."""
    if not family_type or suffix == "_created":
        return True
    shape = _SHAPES.get(family_type.lower())
    return shape is None or shape == _SHAPES[kind]


class Catalog:
    """The loaded catalog. Build it with :func:`load_catalog`."""

    def __init__(
        self,
        *,
        version: int,
        metrics: Iterable[MetricInfo],
        entries: Iterable[_Entry],
        outcomes: Iterable[str],
        good_outcomes: Iterable[str],
    ) -> None:
        self.version = version
        self.outcomes = tuple(outcomes)
        self.good_outcomes = frozenset(good_outcomes)
        self._metrics = {m.name: m for m in metrics}
        self._entries = {e.raw: e for e in entries}
        self._samples: dict[str, _Sample] = {}
        self._raw: dict[str, list[str]] = {name: [] for name in self._metrics}
        for entry in self._entries.values():
            self._raw[entry.info.name].append(entry.raw)
            for name, suffix in _raw_samples(entry.raw, entry.info.type).items():
                self._samples[name] = _Sample(entry, suffix)

    def resolve(
        self, sample_name: str, labels: Mapping[str, str], family_type: str | None = None
    ) -> Resolved | None:
        """The canonical form of one raw series, or None when the catalog does not map it
        (the caller keeps it under its raw name)."""
        found = self._samples.get(sample_name)
        if found is None:
            return None
        entry, suffix = found.entry, found.suffix
        if not _compatible(entry.info.type, family_type, suffix):
            return None
        out = _relabel(normalize_labels(labels), entry.rename, entry.fixed)
        if suffix == "_bucket" and entry.scale != 1.0 and "le" in out:
            out["le"] = _scale_le(out["le"], entry.scale)
        return Resolved(
            metric=entry.info.name + suffix,
            family=entry.info.name,
            labels=out,
            scale=entry.scale if suffix in _SCALED else 1.0,
            source=entry.source,
            unit=entry.info.unit,
        )

    def metric(self, name: str) -> MetricInfo:
        """A canonical metric by name; KeyError names the close matches."""
        try:
            return self._metrics[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._metrics, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"unknown canonical metric {name!r}{hint}") from None

    def metrics(self) -> list[MetricInfo]:
        """Every canonical metric, in catalog order."""
        return list(self._metrics.values())

    def fallbacks(self, name: str) -> list[str]:
        """Stand-ins for ``name``, best first, for when it is not collected
        (gpu.sm_active -> gpu.gr_engine_active)."""
        return list(self.metric(name).fallbacks)

    def first_available(self, name: str, available: Collection[str]) -> str | None:
        """``name`` if it is among the ``available`` canonical metrics, else its first
        available fallback, else None: how a consumer learns a metric is missing."""
        for candidate in (name, *self.metric(name).fallbacks):
            if candidate in available:
                return candidate
        return None

    def raw_names(self, metric: str) -> list[str]:
        """The vendor names that map to canonical ``metric``, as the catalog writes them."""
        self.metric(metric)
        return list(self._raw[metric])

    def superseded(self, sample_names: Collection[str]) -> frozenset[str]:
        """The deprecated raw samples among ``sample_names`` whose replacement is there too
        (vLLM exposes gpu_cache_usage_perc beside kv_cache_usage_perc for a release). Store
        them under their raw names only, or the canonical metric is counted twice."""
        out: set[str] = set()
        for entry in self._entries.values():
            if entry.replaced_by is None:
                continue
            new = self._entries[entry.replaced_by]
            if any(s in sample_names for s in _raw_samples(new.raw, new.info.type)):
                out.update(s for s in _raw_samples(entry.raw, entry.info.type) if s in sample_names)
        return frozenset(out)


def load_catalog(path: Path | None = None) -> Catalog:
    """Load a catalog file, the bundled ``catalog.yaml`` by default. A bad file raises
    ConfigError listing every problem with file:line:column and a hint."""
    file = DEFAULT_CATALOG_PATH if path is None else Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = Problem(
            str(file),
            "",
            f"cannot read the metric catalog: {exc}",
            "pass the path of a readable catalog YAML file",
        )
        raise ConfigError([problem], source=str(file)) from None
    return parse_catalog(text, source=str(file))


def parse_catalog(text: str, *, source: str = "catalog.yaml") -> Catalog:
    """Parse catalog YAML text; ``source`` names it in error messages."""
    return _Reader(load_located(text, source), source).catalog()


def _dotted(path: Path_) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif "." in part or ":" in part:
            text += f'["{part}"]'
        else:
            text += f".{part}" if text else part
    return text


class _Reader:
    """Checks the parsed file and builds the Catalog, collecting every problem first."""

    def __init__(self, located: Located, source: str) -> None:
        self.located = located
        self.source = source
        self.problems: list[Problem] = list(located.problems)

    def fail(
        self, path: Path_, message: str, hint: str | None = None, *, key: bool = False
    ) -> None:
        pos = self.located.position(path, key=key)
        where = f"{self.source}:{pos[0]}:{pos[1]}" if pos else self.source
        self.problems.append(Problem(where, _dotted(path), message, hint))

    def mapping(
        self,
        value: Any,
        path: Path_,
        allowed: Collection[str] | None = None,
        required: Collection[str] = (),
    ) -> dict[str, Any]:
        """``value`` as a mapping; ``allowed`` None lets any key through."""
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, got {type(value).__name__}")
            return {}
        for key in value:
            if allowed is not None and key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f'did you mean "{close[0]}"?' if close else f"allowed: {', '.join(allowed)}"
                self.fail((*path, key), "unknown field", hint, key=True)
        for key in required:
            if key not in value:
                self.fail(path, f"missing field {key!r}")
        return {str(k): v for k, v in value.items()}

    def text(self, value: Any, path: Path_, pattern: re.Pattern[str] | None = None) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "must be a non-empty string")
            return ""
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(path, f"{value!r} is not a valid name", f"it must match {pattern.pattern}")
        return value

    def words(self, value: Any, path: Path_) -> list[str]:
        if not isinstance(value, list):
            self.fail(path, "must be a list of strings")
            return []
        return [self.text(item, (*path, i)) for i, item in enumerate(value)]

    def labels(self, value: Any, path: Path_, *, values_are_names: bool) -> dict[str, str]:
        raw = self.mapping(value, path)
        for key in raw:
            self.text(key, (*path, key), _LABEL_RE)
        pattern = _LABEL_RE if values_are_names else None
        return {key: self.text(v, (*path, key), pattern) for key, v in raw.items()}

    def catalog(self) -> Catalog:
        top_keys = ("apiVersion", "kind", "version", "families", "outcomes", "metrics", "sources")
        top = self.mapping(self.located.data, (), top_keys, required=top_keys)
        if top.get("apiVersion", API_VERSION) != API_VERSION:
            self.fail(("apiVersion",), f"must be {API_VERSION!r}")
        if top.get("kind", KIND) != KIND:
            self.fail(("kind",), f"must be {KIND!r}")
        version = top.get("version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            self.fail(("version",), "must be a positive integer", "bump it on every change")
            version = 1
        families = self.mapping(top.get("families", {}), ("families",))
        for name, text in families.items():
            self.text(name, ("families", name), _WORD_RE)
            self.text(text, ("families", name))
        outcome = self.mapping(
            top.get("outcomes", {}), ("outcomes",), ("values", "good"), required=("values", "good")
        )
        values = self.words(outcome.get("values", []), ("outcomes", "values"))
        good = self.words(outcome.get("good", []), ("outcomes", "good"))
        for i, name in enumerate(good):
            if name not in values:
                self.fail(("outcomes", "good", i), f"{name!r} is not in outcomes.values")
        metrics = self.metrics(top.get("metrics", {}), families)
        entries = self.sources(top.get("sources", {}), metrics, values)
        if self.problems:
            raise ConfigError(self.problems, source=self.source)
        return Catalog(
            version=version,
            metrics=metrics.values(),
            entries=entries,
            outcomes=values,
            good_outcomes=good,
        )

    def metrics(self, value: Any, families: Mapping[str, Any]) -> dict[str, MetricInfo]:
        out: dict[str, MetricInfo] = {}
        raw = self.mapping(value, ("metrics",))
        for name, spec in raw.items():
            path: Path_ = ("metrics", name)
            match = _METRIC_RE.fullmatch(name)
            if not match or match.group(1) not in families:
                self.fail(
                    path,
                    f"{name!r} is not family.name with a family from `families`",
                    f"families: {', '.join(families)}",
                    key=True,
                )
            if name.endswith(_RESERVED):
                self.fail(
                    path,
                    "a canonical metric may not end in a sample suffix",
                    f"drop the {name.rsplit('_', 1)[-1]!r}: {', '.join(_RESERVED)} are "
                    "added to sample names by type",
                    key=True,
                )
            fields = self.mapping(
                spec,
                path,
                ("type", "unit", "description", "fallbacks"),
                required=("type", "unit", "description"),
            )
            kind = fields.get("type", "gauge")
            if kind not in TYPES:
                self.fail((*path, "type"), f"unknown type {kind!r}", f"one of {', '.join(TYPES)}")
                kind = "gauge"
            unit = fields.get("unit", "")
            if unit not in UNITS:
                self.fail(
                    (*path, "unit"), f"unknown unit {unit!r}", f"one of {', '.join(sorted(UNITS))}"
                )
            description = self.text(fields.get("description"), (*path, "description"))
            fallbacks = self.words(fields.get("fallbacks", []), (*path, "fallbacks"))
            out[name] = MetricInfo(name, kind, str(unit), description, tuple(fallbacks))
        for name, info in out.items():
            for i, other in enumerate(info.fallbacks):
                if other not in out or other == name:
                    self.fail(
                        ("metrics", name, "fallbacks", i),
                        f"{other!r} is not another canonical metric",
                    )
        return out

    def sources(
        self, value: Any, metrics: Mapping[str, MetricInfo], outcomes: Collection[str]
    ) -> list[_Entry]:
        entries: list[_Entry] = []
        owner: dict[str, str] = {}  # raw sample name -> the raw name that maps it
        paths: dict[str, Path_] = {}
        raw = self.mapping(value, ("sources",))
        for source, spec in raw.items():
            path: Path_ = ("sources", source)
            self.text(source, path, _WORD_RE)
            fields = self.mapping(spec, path, ("cite", "rename", "map"), required=("cite", "map"))
            self.text(fields.get("cite"), (*path, "cite"))
            rename = self.labels(fields.get("rename", {}), (*path, "rename"), values_are_names=True)
            table = fields.get("map", {})
            for raw_name, item in self.mapping(table, (*path, "map")).items():
                where: Path_ = (*path, "map", raw_name)
                entry = self.entry(raw_name, item, where, source, rename, metrics, outcomes)
                if entry is None:
                    continue
                samples = _raw_samples(raw_name, entry.info.type)
                clash = sorted({owner[s] for s in samples if s in owner})
                if clash:
                    self.fail(
                        where,
                        f"its samples are already mapped by {', '.join(clash)}",
                        "map each vendor name once",
                        key=True,
                    )
                    continue
                owner.update(dict.fromkeys(samples, raw_name))
                entries.append(entry)
                paths[raw_name] = where
        by_raw = {e.raw: e for e in entries}
        for entry in entries:
            new = by_raw.get(entry.replaced_by or "")
            if entry.replaced_by is not None and (
                new is None or new.info is not entry.info or new.source != entry.source
            ):
                self.fail(
                    (*paths[entry.raw], "replaced_by"),
                    f"{entry.replaced_by!r} is not a name of the same source mapped to "
                    f"{entry.info.name}",
                )
        return entries

    def entry(
        self,
        raw: str,
        item: Any,
        path: Path_,
        source: str,
        rename: Mapping[str, str],
        metrics: Mapping[str, MetricInfo],
        outcomes: Collection[str],
    ) -> _Entry | None:
        self.text(raw, path, _RAW_RE)
        allowed = ("metric", "unit", "rename", "set", "replaced_by", "cite")
        spec = (
            {"metric": item}
            if isinstance(item, str)
            else self.mapping(item, path, allowed, required=("metric",))
        )
        name = spec.get("metric")
        info = metrics.get(name) if isinstance(name, str) else None
        if info is None:
            close = difflib.get_close_matches(str(name), metrics, n=1)
            self.fail(
                path if isinstance(item, str) else (*path, "metric"),
                f"unknown canonical metric {name!r}",
                f'did you mean "{close[0]}"?' if close else "declare it under `metrics`",
            )
            return None
        unit = spec.get("unit", info.unit)
        scale = 1.0 if unit == info.unit else CONVERSIONS.get((str(unit), info.unit))
        if scale is None:
            known = ", ".join(f"{a}->{b}" for a, b in CONVERSIONS)
            self.fail(
                (*path, "unit"),
                f"no conversion from {unit!r} to {info.unit!r}",
                f"known conversions: {known}",
            )
            scale = 1.0
        fixed = self.labels(spec.get("set", {}), (*path, "set"), values_are_names=False)
        if "outcome" in fixed and fixed["outcome"] not in outcomes:
            self.fail(
                (*path, "set", "outcome"),
                f"{fixed['outcome']!r} is not an outcome",
                f"one of {', '.join(outcomes)}",
            )
        if "cite" in spec:
            self.text(spec["cite"], (*path, "cite"))
        replaced_by = spec.get("replaced_by")
        if replaced_by is not None:
            replaced_by = self.text(replaced_by, (*path, "replaced_by"), _RAW_RE)
        own = self.labels(spec.get("rename", {}), (*path, "rename"), values_are_names=True)
        return _Entry(raw, info, source, scale, {**rename, **own}, fixed, replaced_by)
