"""What `perfops dashboard` shows, as data: the scope a page asks for (time range, width in
pixels, filters), the time-series panels downsampled to that width, and the events drawn on
every chart. The web layer only serialises what these functions return.

Downsampling: a range is cut into at most ``width`` buckets (aligned to the epoch, from a
ladder of round sizes), each series shipping min, max and mean per bucket, so a chart never
receives more than ~2 points per pixel; ranges of two days or more use whole hours at least,
and whole-hour buckets read the hourly rollups when they are current
(:meth:`perfops.store.TimeSeries.query_buckets`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from perfops.app.metrics import owner_of
from perfops.app.runtime import Runtime
from perfops.errors import UsageError
from perfops.store import SeriesInfo

__all__ = [
    "PANELS",
    "Panel",
    "Scope",
    "bucket_for",
    "events_in",
    "filter_choices",
    "series_panel",
]

_LADDER_MS = (
    1_000, 5_000, 15_000, 30_000, 60_000, 300_000, 900_000, 1_800_000,
    3_600_000, 3 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000, 86_400_000,
)  # fmt: skip
_HOURLY_FROM_MS = 2 * 86_400_000
MAX_SERIES = 12
"""more series than this in one panel ship as one envelope (mean, min, max over series)"""
_HOST_KEYS = ("hostname", "Hostname", "host", "instance")
_GPU_KEYS = ("gpu", "uuid", "UUID")


def bucket_for(start_ms: int, end_ms: int, width_px: int) -> int:
    """The smallest bucket of the ladder that cuts the range into at most ``width_px``."""
    span = max(1, end_ms - start_ms)
    for size in _LADDER_MS:
        if math.ceil(span / size) <= max(1, width_px):
            return size
    return math.ceil(span / max(1, width_px) / 86_400_000) * 86_400_000


@dataclass(frozen=True, kw_only=True)
class Scope:
    """What a page asks for: ``[start_ms, end_ms)``, its chart width, and the filters."""

    start_ms: int
    end_ms: int
    width_px: int = 1000
    service: str | None = None
    team: str | None = None
    model: str | None = None
    host: str | None = None
    gpu: str | None = None
    since_ms: int | None = None  # live updates: only buckets from this time on

    def __post_init__(self) -> None:
        if self.end_ms <= self.start_ms:
            raise UsageError(
                f"the time range [{self.start_ms}, {self.end_ms}) ms is empty",
                hint="pick a range whose end is after its start",
            )
        if not 50 <= self.width_px <= 10_000:
            raise UsageError(f"width {self.width_px} px is outside 50..10000")

    @property
    def bucket_ms(self) -> int:
        """The ladder's bucket for the width; whole hours from two days on, so that long
        ranges read the hourly rollups (168 points a series for a week)."""
        size = bucket_for(self.start_ms, self.end_ms, self.width_px)
        if self.end_ms - self.start_ms >= _HOURLY_FROM_MS:
            return max(size, 3_600_000)
        return size

    @property
    def query_start_ms(self) -> int:
        """The start of the first bucket to read: the range's, or the live update's."""
        start = self.start_ms if self.since_ms is None else max(self.start_ms, self.since_ms)
        return start - start % self.bucket_ms

    def admits(self, labels: Mapping[str, str], rt: Runtime) -> bool:
        """Whether a series with ``labels`` passes the filters (service, team and model via
        the series' owning service, as `perfops metrics kpis` attributes it)."""
        if self.service or self.team or self.model:
            svc = owner_of(labels, rt.config)
            model = svc.model if svc else labels.get("model_name")
            if self.service and (svc is None or svc.name != self.service):
                return False
            if self.team and (svc is None or svc.team != self.team):
                return False
            if self.model and model != self.model:
                return False
        if self.host and _first(labels, _HOST_KEYS) != self.host:
            return False
        return not (self.gpu and _first(labels, _GPU_KEYS) != self.gpu)


def _first(labels: Mapping[str, str], keys: Sequence[str]) -> str | None:
    return next((labels[k] for k in keys if k in labels), None)


@dataclass(frozen=True)
class Panel:
    """A time-series chart of one canonical metric (the first of ``metrics`` with data)."""

    group: Literal["overview", "gpu", "engine"]
    title: str
    metrics: tuple[str, ...]
    unit: str
    kind: Literal["gauge", "counter"] = "gauge"
    combine: Literal["each", "sum"] = "each"  # one line per series, or their sum
    scale: float = 1.0


PANELS: dict[str, Panel] = {
    "requests_rate": Panel("overview", "Requests/s", ("llm.requests_total",), "req/s",
                           "counter", "sum"),
    "tokens_rate": Panel("overview", "Output tokens/s", ("llm.generation_tokens_total",),
                         "tok/s", "counter", "sum"),
    "gpu_util": Panel("gpu", "GPU utilisation", ("gpu.util",), "%"),
    "sm_active": Panel("gpu", "SM active", ("gpu.sm_active", "gpu.sm_occupancy",
                       "gpu.gr_engine_active"), "%", scale=100.0),
    "tensor_active": Panel("gpu", "Tensor active", ("gpu.tensor_active",), "%", scale=100.0),
    "dram_active": Panel("gpu", "DRAM active", ("gpu.dram_active",), "%", scale=100.0),
    "power": Panel("gpu", "Power", ("gpu.power_watts",), "W"),
    "temp": Panel("gpu", "Temperature", ("gpu.temp_celsius",), "°C"),
    "sm_clock": Panel("gpu", "SM clock", ("gpu.sm_clock_hz",), "MHz", scale=1e-6),
    "fb_used": Panel("gpu", "Framebuffer used", ("gpu.fb_used_bytes",), "GiB", scale=2**-30),
    "xid": Panel("gpu", "XID errors", ("gpu.xid",), "xid"),
    "throttle": Panel("gpu", "Clock event reasons", ("gpu.clocks_event_reasons",), "bits"),
    "running": Panel("engine", "Requests running", ("llm.requests_running",), "req"),
    "waiting": Panel("engine", "Requests waiting", ("llm.requests_waiting",), "req"),
    "kv_cache": Panel("engine", "KV-cache usage", ("llm.kv_cache_usage",), "%", scale=100.0),
    "preemptions": Panel("engine", "Preemptions/s", ("llm.preemptions_total",), "1/s",
                         "counter", "sum"),
    "prefix_hits": Panel("engine", "Prefix-cache hits/s", ("llm.prefix_cache_hits_total",),
                         "1/s", "counter", "sum"),
}  # fmt: skip


def _selected(rt: Runtime, panel: Panel, scope: Scope) -> tuple[str, dict[int, SeriesInfo]]:
    """The metric the panel shows (the first of its metrics with a series) and its series
    that pass the filters."""
    for metric in panel.metrics:
        found = rt.store.timeseries.series(metric)
        if found:
            return metric, {s: i for s, i in found.items() if scope.admits(i.labels, rt)}
    return panel.metrics[0], {}


_NAME_KEYS = ("service", "hostname", "gpu", "job", "model_name", "outcome", "instance")


def _names(infos: Mapping[int, SeriesInfo]) -> dict[int, str]:
    """A short name per series: the fewest labels (the usual identifying ones first: service,
    host, GPU, job ...) whose values tell the series apart."""
    keys = sorted({k for i in infos.values() for k in i.labels})
    varying = [k for k in keys if len({i.labels.get(k) for i in infos.values()}) > 1]
    ordered = [k for k in _NAME_KEYS if k in varying] + [k for k in varying if k not in _NAME_KEYS]
    chosen: list[str] = []
    for key in ordered:
        if _distinct(infos, chosen) == len(infos):
            break
        if _distinct(infos, [*chosen, key]) > _distinct(infos, chosen):
            chosen.append(key)
    return {
        sid: ", ".join(f"{k}={i.labels[k]}" for k in chosen if k in i.labels) or i.metric
        for sid, i in infos.items()
    }


def _distinct(infos: Mapping[int, SeriesInfo], keys: Sequence[str]) -> int:
    return len({tuple(i.labels.get(k) for k in keys) for i in infos.values()})


def series_panel(rt: Runtime, panel_id: str, scope: Scope) -> dict[str, Any]:
    """Panel ``panel_id`` over ``scope``: per line its bucket times (ms), means, mins and
    maxes (counters as rates per second), with the bucket size and the table read."""
    panel = PANELS.get(panel_id)
    if panel is None:
        raise UsageError(f"no panel {panel_id!r}", hint=f"panels are {sorted(PANELS)}")
    metric, infos = _selected(rt, panel, scope)
    bucket = scope.bucket_ms
    out: dict[str, Any] = {"panel": panel_id, "title": panel.title, "group": panel.group,
                           "unit": panel.unit, "metric": metric, "bucket_ms": bucket,
                           "source": None, "series": []}  # fmt: skip
    if not infos:
        return out
    table, out["source"] = rt.store.timeseries.query_buckets(
        metric, scope.query_start_ms, scope.end_ms, bucket, infos
    )
    per = _columns(table, panel, bucket)
    names = _names(infos)
    lines = [{"id": str(sid), "name": names[sid], **cols}
             for sid, cols in sorted(per.items(), key=lambda kv: names[kv[0]])]  # fmt: skip
    if panel.combine == "sum":
        lines = [_combined(lines, "sum", panel.title)] if lines else []
    elif len(lines) > MAX_SERIES:
        out["heat"] = _heat(lines)
        lines = [_combined(lines, "envelope", f"{len(lines)} series")]
    out["series"] = lines
    return out


def _shown(x: float) -> float:
    """A value as a chart shows it: 6 significant digits (the JSON is a third the size)."""
    return float(f"{x:.6g}")


def _columns(table: Any, panel: Panel, bucket_ms: int) -> dict[int, dict[str, list[Any]]]:
    """Per series: t, v (mean, or rate for counters), lo and hi, scaled to the panel's unit."""
    cols = {n: table.column(n).to_pylist() for n in table.column_names}
    per: dict[int, dict[str, list[Any]]] = {}
    for i, sid in enumerate(cols.get("series_id", [])):
        line = per.setdefault(sid, {"t": [], "v": [], "lo": [], "hi": []})
        line["t"].append(cols["t"][i])
        if panel.kind == "counter":
            rate = _shown(cols["increase"][i] / (bucket_ms / 1000) * panel.scale)
            line["v"].append(rate)
            line["lo"].append(rate)
            line["hi"].append(rate)
        else:
            line["v"].append(_shown(cols["mean"][i] * panel.scale))
            line["lo"].append(_shown(cols["min"][i] * panel.scale))
            line["hi"].append(_shown(cols["max"][i] * panel.scale))
    return per


def _combined(lines: list[dict[str, Any]], how: str, name: str) -> dict[str, Any]:
    """Many lines as one: their sum per bucket, or their envelope (mean of means, lowest low,
    highest high)."""
    acc: dict[int, list[list[float]]] = {}
    for line in lines:
        for t, v, lo, hi in zip(line["t"], line["v"], line["lo"], line["hi"], strict=True):
            slot = acc.setdefault(t, [[], [], []])
            slot[0].append(v)
            slot[1].append(lo)
            slot[2].append(hi)
    ts = sorted(acc)
    if how == "sum":
        sums = [sum(acc[t][0]) for t in ts]
        return {"id": how, "name": name, "t": ts, "v": sums, "lo": sums, "hi": sums}
    return {
        "id": how,
        "name": name,
        "t": ts,
        "v": [sum(acc[t][0]) / len(acc[t][0]) for t in ts],
        "lo": [min(acc[t][1]) for t in ts],
        "hi": [max(acc[t][2]) for t in ts],
    }


def _heat(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Many series as a heatmap: one row of bucket means per series, on the buckets' union."""
    ts = sorted({t for line in lines for t in line["t"]})
    rows = []
    for line in lines:
        at = dict(zip(line["t"], line["v"], strict=True))
        rows.append([at.get(t) for t in ts])
    return {"names": [line["name"] for line in lines], "t": ts, "rows": rows}


def filter_choices(rt: Runtime) -> dict[str, list[str]]:
    """The values each filter can take: services, teams and models of perfops.yaml, hosts
    and GPUs seen in the lake's GPU series."""
    gpus = rt.store.timeseries.series("gpu.util")
    return {
        "service": sorted(s.name for s in rt.config.services),
        "team": sorted({s.team for s in rt.config.services}),
        "model": sorted({s.model for s in rt.config.services}),
        "host": sorted({h for i in gpus.values() if (h := _first(i.labels, _HOST_KEYS))}),
        "gpu": sorted({g for i in gpus.values() if (g := _first(i.labels, _GPU_KEYS))}),
    }


def events_in(rt: Runtime, scope: Scope) -> list[dict[str, Any]]:
    """Every journal event in the range as a marker, faults as bands (injected to reverted,
    paired by fault id) and runs as bands, each naming its run."""
    lo, hi = scope.start_ms * 1_000_000, scope.end_ms * 1_000_000
    events = rt.store.journal.events(lo, hi, service=scope.service)
    out: list[dict[str, Any]] = []
    open_faults: dict[str, dict[str, Any]] = {}
    for e in events:
        fault = str(e.data.get("fault_id", "")) if isinstance(e.data, dict) else ""
        if e.kind == "fault_injected" and fault:
            band = {"kind": "fault", "start_ms": e.ts_ns // 1_000_000, "end_ms": None,
                    "title": e.title, "service": e.service, "run_id": e.run_id}  # fmt: skip
            open_faults[fault] = band
            out.append(band)
        elif e.kind == "fault_reverted" and fault in open_faults:
            open_faults.pop(fault)["end_ms"] = e.ts_ns // 1_000_000
        else:
            out.append({"kind": e.kind, "start_ms": e.ts_ns // 1_000_000, "end_ms": None,
                        "title": e.title, "service": e.service, "severity": e.severity,
                        "run_id": e.run_id})  # fmt: skip
    for band in open_faults.values():  # still in force, or its revert is past the range
        band["end_ms"] = scope.end_ms
    for run in rt.store.journal.runs():
        end = run.ended_ns or hi
        if run.started_ns < hi and end > lo and run.kind != "collect":
            out.append({"kind": f"run:{run.kind}", "start_ms": run.started_ns // 1_000_000,
                        "end_ms": end // 1_000_000, "title": f"{run.kind} run {run.status}",
                        "service": None, "run_id": run.run_id})  # fmt: skip
    return sorted(out, key=lambda ev: ev["start_ms"])
