"""The live numbers of an incident's status updates (and of anything else that shows an
incident's impact): each affected SLO's SLI and error budget consumed, from
:func:`perfops.app.slo.slo_statuses`; the requests and tokens served since the incident
opened and those outside the SLOs, from :func:`perfops.app._usage.served_work` and the
SLOs' own event counts (:func:`perfops.app.slo.counts_for`). Nothing is recomputed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from perfops.app._usage import served_work
from perfops.app.runtime import Runtime
from perfops.app.slo import counts_for, slo_statuses
from perfops.config import SLO
from perfops.errors import PerfopsError
from perfops.respond import incident as lifecycle

__all__ = ["Impact", "SloFigure", "incident_figures", "incident_impact"]

_NS_PER_MS = 1_000_000


@dataclass(frozen=True)
class SloFigure:
    """One affected SLO now: SLI over its period, objective, share of its error budget
    consumed (%), and its bad events since the incident opened."""

    name: str
    service: str
    sli_pct: float | None
    objective_pct: float
    budget_consumed_pct: float | None
    bad_events: float | None
    no_data: str | None


@dataclass(frozen=True)
class Impact:
    """Traffic of the affected services over ``[since_ns, until_ns)``: requests and tokens
    served (engine counters, else load-test records), tokens outside the SLOs (served minus
    SLO-compliant, None when not measured), and at least how many requests missed an SLO
    (the most bad events of any affected request-based SLO; None when none says)."""

    since_ns: int
    until_ns: int
    requests: int
    tokens: int
    tokens_bad: int | None
    requests_bad: int | None


def _bad_events(rt: Runtime, slo: SLO, start_ms: int, end_ms: int) -> float | None:
    try:
        counts = counts_for(rt, slo)
    except PerfopsError:  # an SLO that cannot be evaluated says so in its status
        return None
    if counts is None:
        return None
    good, total = counts(start_ms, end_ms)
    return total - good


def incident_impact(
    rt: Runtime, services: Sequence[str], slos: Sequence[SLO], start_ns: int, end_ns: int
) -> Impact:
    """:class:`Impact` of ``services`` (and ``slos``' bad events) over the window."""
    window = (start_ns // _NS_PER_MS, max(end_ns // _NS_PER_MS, start_ns // _NS_PER_MS + 1))
    work = served_work(rt, [window])
    mine = [w for (_, name), w in work.items() if name in services]
    tokens = sum(w.tokens for w in mine)
    measured = [w.slo_tokens for w in mine if w.slo_tokens is not None]
    bad = [
        b
        for slo in slos
        if slo.sli.kind != "gpu_health" and (b := _bad_events(rt, slo, *window)) is not None
    ]
    return Impact(
        start_ns, end_ns, sum(w.requests for w in mine), tokens,
        tokens - sum(measured) if measured else None,
        round(max(bad)) if bad else None,
    )  # fmt: skip


def _slo_figures(rt: Runtime, slos: Sequence[SLO], since_ns: int, at_ns: int) -> list[SloFigure]:
    out = []
    start_ms, end_ms = since_ns // _NS_PER_MS, at_ns // _NS_PER_MS
    for slo, status in zip(slos, slo_statuses(rt, slos, at_ms=end_ms), strict=True):
        budget = status.budget
        out.append(
            SloFigure(
                slo.name, slo.service, status.sli_pct, slo.objective,
                100.0 * budget.consumed if budget is not None else None,
                _bad_events(rt, slo, start_ms, max(end_ms, start_ms + 1)),
                status.no_data or status.error,
            )
        )  # fmt: skip
    return out


def incident_figures(
    rt: Runtime, inc: lifecycle.Incident, at_ns: int | None = None
) -> dict[str, Any]:
    """The template context's numbers for ``inc`` as of ``at_ns`` (now): ``slos`` (a list
    of :class:`SloFigure` as dicts) and ``impact`` (:class:`Impact` as a dict) since the
    incident opened (until it resolved, once it has)."""
    now = rt.clock.now_ns() if at_ns is None else at_ns
    until = min(now, inc.resolved_ns) if inc.resolved_ns is not None else now
    slos = [s for s in rt.config.slos if s.name in inc.slos]
    if not slos:  # no SLO named: the services' SLOs
        slos = [s for s in rt.config.slos if s.service in inc.services]
    return {
        "slos": [asdict(f) for f in _slo_figures(rt, slos, inc.opened_ns, until)],
        "impact": asdict(incident_impact(rt, inc.services, slos, inc.opened_ns, until)),
    }
