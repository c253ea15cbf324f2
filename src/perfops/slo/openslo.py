"""OpenSLO v1 documents to perfops.yaml ``slos:`` entries (``perfops slo import``).

Reads a multi-document YAML stream of ``apiVersion: openslo/v1`` objects (SLO, SLI,
AlertPolicy, AlertCondition, Service, DataSource, AlertNotificationTarget) and returns plain
dicts that validate as :class:`perfops.config.models.SLO`, plus warnings naming every piece
that could not be carried over. Mapping:

* ``ratioMetric`` good|bad / total with a query -> ``{kind: ratio, total, good|bad}``;
  ``raw`` ratios and gauge ratios (``counter: false``) are skipped with a warning.
* ``thresholdMetric`` -> ``{kind: latency, source: histogram}`` only when the query names a
  known serving-engine latency histogram in seconds and ``op`` is lt/lte; else skipped.
* ``objectives[].target`` 0.995 -> ``objective: 99.5``; ``targetPercent`` as is; several
  objectives give one perfops SLO each, named ``<name>-<displayName or index>``.
* rolling ``timeWindow`` ``28d`` -> ``window: 28d``; calendar ``1w``/``1M`` -> week/month.
* AlertPolicy burn-rate conditions are replaced by perfops' multiwindow window set
  (OpenSLO has one lookback window per condition, no short/long pair); other condition
  kinds are reported.

Structural problems (bad YAML, unsupported apiVersion or kind, missing fields, unknown
indicatorRef) raise :class:`ConfigError` listing each as ``file:line:col``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import yaml

from perfops._internal.escape import yaml_comment, yaml_dump
from perfops.errors import ConfigError, Problem

__all__ = ["import_openslo", "render_slos_yaml"]

API_VERSION = "openslo/v1"
_KINDS = ("SLO", "SLI", "AlertPolicy", "AlertCondition", "AlertNotificationTarget", "Service")
_IGNORED_KINDS = ("AlertNotificationTarget", "Service", "DataSource")
_DEFAULT_ALERTING = "google-30d"
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NAME = re.compile(r"^[a-z0-9]([a-z0-9_.-]{0,62}[a-z0-9])?$")
_RANGE = re.compile(r"\[\d+[smhdwy]\]")
_SHORTHAND = re.compile(r"^(\d+)([mhdwMQY])$")
# Latency histograms (in seconds) perfops knows, by metric-name fragment.
_LATENCY_METRICS = (
    ("time_to_first_token", "ttft"),
    ("inter_token_latency", "itl"),
    ("time_per_output_token", "tpot"),
    ("mean_time_per_token", "tpot"),
    ("e2e_request_latency", "e2e"),
    ("request_duration", "e2e"),
)


@dataclass
class _Doc:
    data: dict[str, Any]
    node: yaml.Node


def _find(node: yaml.Node, path: tuple[str | int, ...]) -> yaml.Node:
    """The deepest node along ``path`` (its value node when a key is missing further on)."""
    for part in path:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            nxt = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            nxt = node.value[part] if part < len(node.value) else None
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
    return node


class _Ctx:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def where(self, doc: _Doc, path: tuple[str | int, ...]) -> str:
        mark = _find(doc.node, path).start_mark
        return f"{self.source}:{mark.line + 1}:{mark.column + 1}"

    def problem(
        self, doc: _Doc, path: tuple[str | int, ...], message: str, hint: str | None = None
    ) -> None:
        self.problems.append(Problem(self.where(doc, path), _dotted(path), message, hint))

    def warn(self, doc: _Doc, path: tuple[str | int, ...], message: str) -> None:
        self.warnings.append(f"{self.where(doc, path)} {message}")


def _dotted(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _parse(text: str, ctx: _Ctx) -> list[_Doc]:
    loader = _Loader(text)
    docs: list[_Doc] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            items = (
                list(zip(data, node.value, strict=True))
                if isinstance(node, yaml.SequenceNode) and isinstance(data, list)
                else [(data, node)]
            )
            for item, item_node in items:
                if item is None:
                    continue
                doc = _Doc(item if isinstance(item, dict) else {}, item_node)
                if not isinstance(item, dict):
                    ctx.problem(
                        doc, (), "expected an OpenSLO object (a mapping with apiVersion and kind)"
                    )
                    continue
                docs.append(doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{ctx.source}:{mark.line + 1}:{mark.column + 1}" if mark else ctx.source
        what = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        raise ConfigError(
            [
                Problem(
                    where,
                    "",
                    f"YAML syntax error: {what}",
                    "check the indentation and quoting on this line and the one before",
                )
            ],
            source=ctx.source,
        ) from None
    finally:
        loader.dispose()
    return docs


def _sanitize(value: str) -> str:
    text = re.sub(r"[^a-z0-9_.-]+", "-", value.strip().lower())
    return text.strip("-_.")[:64].strip("-_.")


def _query(metric: Any) -> str | None:
    """The PromQL of a ``{metricSource: {spec: {query|promql}}}`` block, if there is one."""
    if not isinstance(metric, dict):
        return None
    source = metric.get("metricSource")
    spec = source.get("spec") if isinstance(source, dict) else None
    if not isinstance(spec, dict):
        return None
    for key in ("query", "promql"):
        if isinstance(spec.get(key), str) and spec[key].strip():
            return str(spec[key]).strip()
    prom = spec.get("prometheus")
    if isinstance(prom, dict) and isinstance(prom.get("promql"), str):
        return str(prom["promql"]).strip()
    return None


def _sli(
    ctx: _Ctx, doc: _Doc, path: tuple[str | int, ...], spec: dict[str, Any], obj: dict[str, Any]
) -> dict[str, Any] | None:
    """The perfops SLI for an OpenSLO SLI spec and one objective, or None with a warning."""
    ratio, threshold = spec.get("ratioMetric"), spec.get("thresholdMetric")
    if isinstance(ratio, dict):
        rpath = (*path, "ratioMetric")
        if "raw" in ratio:
            ctx.warn(doc, rpath, "raw ratioMetric skipped: perfops ratio SLIs need good|bad/total")
            return None
        if ratio.get("counter") is False:
            ctx.warn(doc, rpath, "ratioMetric with counter: false skipped: perfops rates counters")
            return None
        total = _query(ratio.get("total"))
        good, bad = _query(ratio.get("good")), _query(ratio.get("bad"))
        if total is None or (good is None) == (bad is None):
            ctx.warn(
                doc,
                rpath,
                "ratioMetric skipped: needs a total query and exactly one good or bad query "
                "(metricSource.spec.query)",
            )
            return None
        for query in (total, good, bad):
            if query and "{{.window}}" not in query and _RANGE.search(query):
                ctx.warn(
                    doc,
                    rpath,
                    f"query {query!r} has a fixed range: perfops wraps a plain selector in "
                    "sum(rate(...[window])); write [{{.window}}] or a bare selector",
                )
        out: dict[str, Any] = {"kind": "ratio", "total": total}
        out["good" if good is not None else "bad"] = good if good is not None else bad
        return out
    if isinstance(threshold, dict):
        tpath = (*path, "thresholdMetric")
        query = _query(threshold) or ""
        metric = next((m for frag, m in _LATENCY_METRICS if frag in query), None)
        op, value = obj.get("op"), obj.get("value")
        if metric is None or "_seconds" not in query:
            ctx.warn(
                doc,
                tpath,
                f"thresholdMetric skipped: query {query!r} is not a known latency histogram in "
                "seconds; write a ratio SLI with the histogram's bucket{le} and count",
            )
            return None
        if op not in ("lt", "lte") or isinstance(value, bool) or not isinstance(value, int | float):
            ctx.warn(
                doc, tpath, "thresholdMetric skipped: perfops latency SLIs need op lt|lte and value"
            )
            return None
        if value <= 0:
            ctx.warn(doc, tpath, "thresholdMetric skipped: value must be a positive latency")
            return None
        return {
            "kind": "latency",
            "metric": metric,
            "threshold": float(value),
            "source": "histogram",
        }
    ctx.warn(doc, path, "SLI skipped: neither ratioMetric nor thresholdMetric")
    return None


def _window(ctx: _Ctx, doc: _Doc, spec: dict[str, Any]) -> str | None:
    """The perfops window ("28d", "week", "month"), or None (skip, with a warning)."""
    windows = spec.get("timeWindow")
    if not isinstance(windows, list) or not windows or not isinstance(windows[0], dict):
        ctx.warn(doc, ("spec",), "no timeWindow: using the perfops default window (28d)")
        return "28d"
    if len(windows) > 1:
        ctx.warn(doc, ("spec", "timeWindow", 1), "only the first timeWindow is imported")
    window = windows[0]
    path: tuple[str | int, ...] = ("spec", "timeWindow", 0)
    duration = str(window.get("duration", "")).strip()
    match = _SHORTHAND.match(duration)
    if match is None:
        ctx.warn(doc, (*path, "duration"), f"timeWindow duration {duration!r} not understood")
        return None
    count, unit = int(match.group(1)), match.group(2)
    rolling = window.get("isRolling", "calendar" not in window) is not False
    if not rolling:
        if (count, unit) in ((1, "w"), (7, "d")):
            return "week"
        if (count, unit) == (1, "M"):
            return "month"
        ctx.warn(
            doc,
            path,
            f"calendar window {duration} skipped: perfops calendar windows are week|month",
        )
        return None
    approx = {"M": 30, "Q": 90, "Y": 365}
    if unit in approx:
        days = count * approx[unit]
        ctx.warn(doc, (*path, "duration"), f"rolling {duration} imported as {days}d")
        return f"{days}d"
    return duration


def _objective(ctx: _Ctx, doc: _Doc, path: tuple[str | int, ...], obj: dict[str, Any]) -> float:
    if "targetPercent" in obj:
        value, scale = obj["targetPercent"], 1.0
    elif "target" in obj:
        value, scale = obj["target"], 100.0
    else:
        ctx.problem(doc, path, "objective has neither target nor targetPercent")
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        ctx.problem(doc, path, f"target {value!r} is not a number")
        return math.nan
    pct = round(float(value) * scale, 10)
    if not 0 < pct < 100:
        ctx.problem(
            doc,
            path,
            f"target {value!r} is out of range",
            "target is in (0, 1), targetPercent in (0, 100)",
        )
        return math.nan
    return pct


def _alerting(ctx: _Ctx, doc: _Doc, spec: dict[str, Any], policies: dict[str, _Doc]) -> None:
    """Warn about the SLO's alert policies: perfops alerts from its own window set."""
    for i, ref in enumerate(spec.get("alertPolicies") or []):
        path: tuple[str | int, ...] = ("spec", "alertPolicies", i)
        ppath: tuple[str | int, ...]
        if isinstance(ref, str):
            pdoc = policies.get(ref)
            if pdoc is None:
                ctx.warn(doc, path, f"AlertPolicy {ref!r} not found in the input; ignored")
                continue
            pspec, ppath = pdoc.data.get("spec") or {}, ("spec",)
        elif isinstance(ref, dict):
            pdoc, pspec, ppath = doc, ref.get("spec") or {}, (*path, "spec")
        else:
            continue
        for j, cond in enumerate(pspec.get("conditions") or []):
            cpath = (*ppath, "conditions", j)
            inner = (cond.get("spec") or {}).get("condition") if isinstance(cond, dict) else None
            if isinstance(cond, dict) and "conditionRef" in cond:
                ctx.warn(pdoc, cpath, "conditionRef not resolved; perfops uses its window set")
            elif isinstance(inner, dict) and inner.get("kind") == "burnrate":
                ctx.warn(
                    pdoc,
                    cpath,
                    f"burnrate condition (threshold {inner.get('threshold')} over "
                    f"{inner.get('lookbackWindow')}) replaced by the multiwindow "
                    f"'{_DEFAULT_ALERTING}' window set",
                )
            else:
                kind = inner.get("kind") if isinstance(inner, dict) else None
                ctx.warn(pdoc, cpath, f"alert condition kind {kind!r} not supported; ignored")


def _slo_entries(
    ctx: _Ctx, doc: _Doc, slis: dict[str, _Doc], policies: dict[str, _Doc]
) -> list[dict[str, Any]]:
    meta, spec = doc.data.get("metadata"), doc.data.get("spec")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        ctx.problem(doc, ("metadata",), "SLO needs metadata.name")
        return []
    if not isinstance(spec, dict):
        ctx.problem(doc, ("spec",), "SLO needs a spec")
        return []
    name = meta["name"]
    slug = _sanitize(name)
    if slug != name:
        ctx.warn(doc, ("metadata", "name"), f"SLO name {name!r} renamed to {slug!r}")
    raw_service = spec.get("service")
    if not isinstance(raw_service, str) or not _sanitize(raw_service):
        ctx.problem(doc, ("spec", "service"), "SLO needs spec.service", "name the perfops service")
        return []
    service = _sanitize(raw_service)
    if service != raw_service:
        ctx.warn(doc, ("spec", "service"), f"service {raw_service!r} renamed to {service!r}")

    # The SLI: inline indicator (metadata + spec) or indicatorRef to an SLI document.
    sli_doc = doc
    sli_path: tuple[str | int, ...] = ("spec", "indicator", "spec")
    if isinstance(spec.get("indicator"), dict):
        sli_spec = spec["indicator"].get("spec")
    elif isinstance(spec.get("indicatorRef"), str):
        ref = spec["indicatorRef"]
        if ref not in slis:
            known = ", ".join(sorted(slis)) or "none"
            ctx.problem(
                doc,
                ("spec", "indicatorRef"),
                f"indicatorRef {ref!r} names no SLI in the input",
                f"known SLIs: {known}",
            )
            return []
        sli_doc, sli_path = slis[ref], ("spec",)
        sli_spec = sli_doc.data.get("spec")
    else:
        ctx.problem(doc, ("spec",), "SLO needs spec.indicator or spec.indicatorRef")
        return []
    if not isinstance(sli_spec, dict):
        ctx.problem(sli_doc, sli_path, "SLI needs a spec")
        return []

    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        ctx.problem(doc, ("spec", "objectives"), "SLO needs at least one objective")
        return []
    method = spec.get("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        ctx.warn(
            doc,
            ("spec", "budgetingMethod"),
            f"budgetingMethod {method} imported as Occurrences (perfops counts events)",
        )
    window = _window(ctx, doc, spec)
    _alerting(ctx, doc, spec, policies)
    description = spec.get("description") or meta.get("displayName") or ""

    entries: list[dict[str, Any]] = []
    for i, obj in enumerate(objectives):
        opath: tuple[str | int, ...] = ("spec", "objectives", i)
        if not isinstance(obj, dict):
            ctx.problem(doc, opath, "objective must be a mapping")
            continue
        if "indicator" in obj or "indicatorRef" in obj:
            ctx.warn(doc, opath, "composite objective (own indicator) skipped")
            continue
        objective = _objective(ctx, doc, opath, obj)
        sli = _sli(ctx, sli_doc, sli_path, sli_spec, obj)
        if sli is None or window is None or math.isnan(objective):
            continue
        if sli["kind"] == "ratio" and ("op" in obj or "value" in obj):
            ctx.warn(doc, opath, "op/value ignored on a ratioMetric objective")
        entry_name = slug
        if len(objectives) > 1:
            suffix = _sanitize(str(obj.get("displayName") or "")) or str(i)
            entry_name = f"{slug}-{suffix}"[:64].strip("-_.")
        entry: dict[str, Any] = {"name": entry_name, "service": service}
        if description:
            entry["description"] = str(description)
        entry |= {
            "sli": sli,
            "objective": objective,
            "window": window,
            "alerting": _DEFAULT_ALERTING,
        }
        entries.append(entry)
    return entries


def import_openslo(
    text: str, *, source: str = "openslo.yaml"
) -> tuple[list[dict[str, Any]], list[str]]:
    """perfops ``slos:`` entries (plain dicts) from OpenSLO v1 YAML, and warnings naming what
    could not be mapped. Raises ConfigError, with file:line:col, for malformed input."""
    ctx = _Ctx(source)
    docs = _parse(text, ctx)
    slis: dict[str, _Doc] = {}
    policies: dict[str, _Doc] = {}
    slos: list[_Doc] = []
    for doc in docs:
        api, kind = doc.data.get("apiVersion"), doc.data.get("kind")
        if api != API_VERSION:
            ctx.problem(
                doc,
                ("apiVersion",),
                f"unsupported apiVersion {api!r}",
                f"perfops imports {API_VERSION} only; upgrade older documents first",
            )
            continue
        if kind in _IGNORED_KINDS or kind == "AlertCondition":
            continue
        if kind not in _KINDS:
            ctx.problem(
                doc,
                ("kind",),
                f"unsupported kind {kind!r}",
                f"use one of: {', '.join(_KINDS)}, DataSource",
            )
            continue
        name = (doc.data.get("metadata") or {}).get("name")
        if kind == "SLI" and isinstance(name, str):
            slis[name] = doc
        elif kind == "AlertPolicy" and isinstance(name, str):
            policies[name] = doc
        elif kind == "SLO":
            slos.append(doc)
    entries: list[dict[str, Any]] = []
    if not ctx.problems:
        for doc in slos:
            entries.extend(_slo_entries(ctx, doc, slis, policies))
    seen: set[str] = set()
    for entry in entries:
        if entry["name"] in seen:
            ctx.problems.append(
                Problem(source, "", f"two SLOs import as {entry['name']!r}", "rename one of them")
            )
        seen.add(entry["name"])
    if ctx.problems:
        raise ConfigError(ctx.problems, source=source)
    if not entries:
        ctx.warnings.append(f"{source}: no SLO could be imported")
    return entries, ctx.warnings


def render_slos_yaml(entries: list[dict[str, Any]], *, source: str = "openslo.yaml") -> str:
    """A ``slos:`` YAML block to paste into perfops.yaml, headed by a comment naming ``source``."""
    header = (
        yaml_comment(f"Imported from {source} by `perfops slo import`.")
        + "\n# Review the warnings it printed; alerting uses perfops' multiwindow burn-rate sets.\n"
    )
    return header + yaml_dump({"slos": entries}, width=100)
