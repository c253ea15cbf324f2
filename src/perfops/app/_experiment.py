"""What a chaos experiment or drill observes and does around its faults: the load it runs,
its requests judged per SLO as they finish, its probes, its own rollback actions.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence

from perfops import __version__
from perfops._internal import strict_json
from perfops.app.load import LoadOptions, WorkloadSource
from perfops.app.runtime import Runtime
from perfops.app.slo import request_limits
from perfops.chaos.steady import Check, HypothesisResult, Outcome, check_hypothesis
from perfops.config.experiment import ErrorStop, Experiment, HttpProbe, LakeProbe, PromqlProbe
from perfops.errors import PerfopsError
from perfops.loadgen.arrivals import ArrivalSpec
from perfops.loadgen.client import Target
from perfops.loadgen.records import RequestRecord
from perfops.loadgen.slo import parse_slo
from perfops.loadgen.summary import meets, meets_limits
from perfops.loadgen.workload import LengthSpec
from perfops.slo.rules import period_s
from perfops.store import EventRecord

__all__ = [
    "Outcomes",
    "gpu_cost_per_s",
    "hypothesis",
    "load_options",
    "platform_info",
    "probe",
    "rollback_actions",
]

Say = Callable[[str], None]


def load_options(rt: Runtime, exp: Experiment, seconds: float, seed: int) -> LoadOptions:

    svc = rt.config.service(exp.load.service)
    key = os.environ.get(svc.api_key_env) if svc.api_key_env else None
    plan = exp.load
    return LoadOptions(
        target=Target(svc.endpoint, svc.model, "completions", key, timeout_s=30.0),
        workload=WorkloadSource(
            LengthSpec(kind="fixed", value=plan.prompt_tokens),
            LengthSpec(kind="fixed", value=plan.max_tokens),
        ),
        arrival=ArrivalSpec(kind="poisson", rate=plan.rate),
        duration_s=seconds,
        max_requests=int(plan.rate * seconds * 2) + 20,
        slo=tuple(parse_slo(plan.slo)),
        seed=seed,
        gpus=svc.gpu.count,
        service=svc.name,
    )


class Outcomes:
    """Requests as they finish, judged per SLO of the hypothesis and stop conditions."""

    def __init__(self, rt: Runtime, exp: Experiment) -> None:
        names = {h.slo for h in exp.hypothesis.slos}
        names |= {s.slo for s in exp.stop if not isinstance(s, ErrorStop)}
        slos = [s for s in rt.config.slos if s.name in names]
        self.objectives = {s.name: s.objective for s in slos}
        self.period_s = {s.name: period_s(s) for s in slos}
        self.limits = {s.name: request_limits(s) for s in slos}
        self.thresholds = parse_slo(exp.load.slo)
        self.items: list[Outcome] = []

    def add(self, rec: RequestRecord) -> None:
        slo_good = {n: meets_limits(rec, limits) for n, limits in self.limits.items()}
        # goodput: every per-request threshold of the load, else every SLO it watches
        good = meets(rec, self.thresholds) if self.thresholds else rec.ok and all(slo_good.values())
        self.items.append(Outcome(rec.scheduled_ns, not rec.ok, good, slo_good))

    def between(self, start_ns: int, end_ns: int) -> list[Outcome]:
        return [o for o in self.items if start_ns <= o.scheduled_ns < end_ns]


async def probe(rt: Runtime, probe: HttpProbe | PromqlProbe | LakeProbe) -> Check:
    name = probe.name or f"{probe.kind} probe"
    try:
        if isinstance(probe, HttpProbe):
            status = await asyncio.to_thread(_http_status, probe.url, probe.method, probe.timeout)
            expected = probe.expect_status
            return Check(name, float(status), float(expected[0]), status in expected)
        if isinstance(probe, PromqlProbe):
            value = await asyncio.to_thread(_promql, probe.url, probe.query)
        else:
            table = rt.store.read_query(probe.sql)
            value = float(table.column(0)[0].as_py()) if table.num_rows else float("nan")
    except Exception as exc:  # a probe that cannot run is a broken hypothesis, not a crash
        return Check(f"{name} ({type(exc).__name__}: {exc})", None, 0.0, False)
    ok = value == value and (probe.min is None or value >= probe.min)
    ok = ok and (probe.max is None or value <= probe.max)
    limit = probe.max if probe.max is not None else probe.min if probe.min is not None else 0.0
    return Check(name, value, limit, ok)


def _http_status(url: str, method: str, timeout: float) -> int:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _promql(base: str, query: str) -> float:
    from urllib.parse import urlencode

    url = f"{base.rstrip('/')}/api/v1/query?{urlencode({'query': query})}"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
        data = json.load(response)
    result = data["data"]["result"]
    return float(result[0]["value"][1]) if result else float("nan")


async def hypothesis(
    rt: Runtime, exp: Experiment, outcomes: Outcomes, items: Sequence[Outcome]
) -> HypothesisResult:
    probes = [await probe(rt, p) for p in exp.hypothesis.probes]
    return check_hypothesis(items, exp.hypothesis, outcomes.objectives, probes)


def gpu_cost_per_s(rt: Runtime, service: str) -> float | None:
    """What the service's declared GPUs cost per second, when a price is known."""
    try:
        from perfops.app.cost import workspace_prices

        svc = rt.config.service(service)
        return float(workspace_prices(rt).hourly(svc.gpu.type)) * svc.gpu.count / 3600
    except PerfopsError:
        return None


def rollback_actions(rt: Runtime, exp: Experiment, run_id: str, say: Say) -> None:
    """The experiment's own rollbacks, after its faults are reverted; each one's outcome is
    an event, and one failing does not keep the others from running."""
    for action in exp.rollbacks:
        body = None if action.body is None else strict_json.dumps(action.body).encode()
        request = urllib.request.Request(
            action.url, data=body, method=action.method,
            headers={"Content-Type": "application/json"} if body else {},
        )  # fmt: skip
        error = None
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code}"
        except OSError as exc:
            status, error = 0, str(exc)
        say(f"  rollback {action.method} {action.url}: " + (error or f"HTTP {status}"))
        rt.store.journal.append_events(
            [EventRecord(rt.clock.now_ns(), "rollback", f"{action.method} {action.url}",
                         severity="info" if error is None else "warning", run_id=run_id,
                         data={"status": status, "error": error})]
        )  # fmt: skip


def platform_info() -> dict[str, str]:
    return {
        "perfops": __version__,
        "python": platform.python_version(),
        "system": platform.platform(),
        "node": platform.node(),
    }
