"""Chaos Toolkit interop: a perfops experiment as a Chaos Toolkit experiment, and a perfops run
as a Chaos Toolkit journal. Pure functions over plain dicts; nothing here does I/O.

:func:`to_chaostoolkit` writes an experiment that ``chaos validate`` accepts and ``chaos run``
runs (checked against chaostoolkit 1.21.4 / chaostoolkit-lib 1.45.1). It is a fault-injection
run, not an SLO-judged one: Chaos Toolkit has no load generator and no notion of burn rate, so
the perfops hypothesis (SLO burn rates, goodput, error ratio over the experiment's own requests)
stays with ``perfops chaos run``, which the ``perfops`` extension names. What maps how:

- ``steady-state-hypothesis``: an ``http`` probe ``GET {api}/models`` (tolerance 200) of the
  service under load, plus each ``kind: http`` probe of the hypothesis (tolerance: its
  ``expect_status``, as one status or a list of accepted ones). ``promql`` and ``lake`` probes,
  SLOs, goodput and error-ratio floors are not exported (listed in the extension).
- ``method``: each fault is two ``http`` actions, as perfops' fault plugins make them. A
  ``sim.*`` fault: ``POST {admin}/admin/faults`` on the target service's sim admin API
  (``scheme://host:port`` of its endpoint) with the fault's params, ``kind``, ``duration``
  and a client-chosen ``id`` (``sim.crash``: ``restart_after`` defaults to the duration), and
  ``DELETE {admin}/admin/faults/{id}``. A ``proxy.*`` fault (a toxic of ``perfops chaos
  proxy``): ``POST {api}/proxies/{proxy}/toxics`` with the toxic's fields, ``kind``, ``name``
  = the id and ``expires_in`` = the duration, and ``DELETE .../toxics/{id}``; ``api`` and
  ``proxy`` (default ``proxy``) are the step's params. Both actions run in the background
  (chaoslib gives each background activity its own thread, which sleeps its
  ``pauses.before`` first), so ``pauses.before`` is the absolute offset from the start of the
  method: ``start`` for the injection, ``start + duration`` for the revert, and faults
  overlap exactly as in perfops. The sim and the proxy also end the fault by themselves after
  ``duration``, so a killed ``chaos`` process cannot leave it in. The latest revert pauses
  ``after`` until ``load.duration``, so the method spans the experiment window and CTK's
  after-hypothesis comes where perfops' recovery check does. Offsets are approximate by the
  time chaoslib takes to start its threads (milliseconds).
- Fault ids: ``${perfops_run}-{index}-{name}``. ``perfops_run`` is a dynamic configuration
  value (Python's ``secrets.token_hex(4)``, drawn when ``chaos run`` starts; ``--var
  perfops_run=...`` pins it): the sim never reuses the id of a fault that has ended, so a
  fixed id would make the experiment runnable once per sim lifetime. The same id in the
  injection and its revert is what lets the revert find the fault without passing outputs
  between activities (which Chaos Toolkit cannot do).
- ``rollbacks``: the revert ``DELETE`` of every fault again, then the experiment's own
  ``http`` rollback actions; ``runtime.rollbacks.strategy: always`` makes Chaos Toolkit play
  them after a failure or an interruption too (its default skips them). The sim answers 200
  for a fault that has ended and 404 for an id it never saw (and then refuses that id
  forever, so a background injection that fires after the rollback cannot bring it back).
- Chaos Toolkit's ``http`` provider never fails an action on its status code (it only logs a
  warning when the activity has no ``tolerance``): a refused injection (400, 409) is a
  "succeeded" run with that status in its output. Actions here carry a ``tolerance`` of the
  statuses they expect, which Chaos Toolkit ignores for actions except to silence that
  warning, and which documents what success looks like.
- Not exported: ``process.*`` faults (local processes; no HTTP API) and ``proxy.*`` faults
  without ``params.api``; :func:`unsupported_steps` lists them (and the extension's
  ``skipped``), so a caller can warn.
- ``configuration``: ``api_<service>`` and ``admin_<service>`` per service, literals from
  ``endpoints``; a service missing from ``endpoints`` reads ``PERFOPS_<SERVICE>_API`` and
  ``PERFOPS_<SERVICE>_ADMIN`` from the environment when ``chaos run`` starts. ``--var`` can
  retarget any of them.
- Also not exported: the load plan, stop conditions (Chaos Toolkit has no rolling SLO guard) and
  the experiment's weight; the ``perfops`` extension carries the whole perfops spec verbatim.

:func:`journal_to_chaostoolkit` writes a perfops run (``ExperimentResult.as_dict()``) as a
Chaos Toolkit journal. Status: passed and deviated are ``completed`` (``deviated`` says which),
aborted is ``aborted``, interrupted is ``interrupted``, anything else ``failed``. Note that
Chaos Toolkit itself reports a before-hypothesis that is not met as ``completed`` without
running the method; perfops' ``aborted`` is kept so that a refused start does not read as a
completed run. Each perfops check is a probe run whose output is the measured value; each
fault injected (or that failed to inject) is a ``run[]`` entry, each revert a ``rollbacks[]``
entry. Phase times are not in the result, so the before, during and after checks are stamped
at ``started + baseline``, that plus ``load.duration`` and ``ended``.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from perfops.config.experiment import (
    Experiment,
    FaultStep,
    HttpProbe,
    LakeProbe,
    PromqlProbe,
    RollbackAction,
)
from perfops.errors import UsageError

__all__ = [
    "CTK_JOURNAL_VERSION",
    "RUN_KEY",
    "ctk_fault_id",
    "ctk_status",
    "journal_to_chaostoolkit",
    "to_chaostoolkit",
    "unsupported_steps",
]

CTK_JOURNAL_VERSION = "perfops-export"  # the journal's `chaoslib-version`
RUN_KEY = "perfops_run"  # the configuration key of the run-unique fault-id prefix
_SIM = "sim."
_PROXY = "proxy."
_DEFAULT_PROXY = "proxy"  # as `perfops chaos proxy --name` defaults
_TIMEOUT_S = 10
_ID_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_]+")
_JSON = {"Content-Type": "application/json"}  # chaoslib sends a JSON body only with exactly this


# -- the experiment ------------------------------------------------------------------------


def to_chaostoolkit(
    exp: Experiment,
    *,
    endpoints: Mapping[str, str],
    perfops_bin: str = "perfops",
    config_path: str | None = None,
) -> dict[str, Any]:
    """``exp`` as a Chaos Toolkit experiment (a JSON-able dict); see the module docstring.

    ``endpoints`` maps a service name to its OpenAI base URL (``http://127.0.0.1:8000/v1``);
    ``perfops_bin`` and ``config_path`` only shape the ``perfops chaos run`` command the
    ``perfops`` extension names as the SLO-judged way to run the same experiment."""
    keys = _service_keys(exp)
    method: list[dict[str, Any]] = []
    rollbacks: list[dict[str, Any]] = []
    last_end, last_revert = 0.0, None
    for index, step in enumerate(exp.method):
        if _skip_reason(step) is not None:
            continue
        fault_id = ctk_fault_id(step, index)
        inject = _inject(exp, step, index, keys, fault_id)
        inject["background"] = True
        if step.start > 0:
            inject["pauses"] = {"before": step.start}
        end = step.start + step.duration
        revert = _revert(exp, step, index, keys, fault_id, verb="revert")
        revert["background"] = True
        revert["pauses"] = {"before": round(end, 6)}
        method += [inject, revert]
        rollbacks.append(_revert(exp, step, index, keys, fault_id, verb="roll back"))
        if end >= last_end:
            last_end, last_revert = end, revert
    if last_revert is not None and exp.load.duration > last_end:
        last_revert["pauses"]["after"] = round(exp.load.duration - last_end, 6)
    rollbacks += [_rollback_action(i, r) for i, r in enumerate(exp.rollbacks)]

    judge = [perfops_bin, *(["-c", config_path] if config_path else []), "chaos", "run"]
    return {
        "version": "1.0.0",
        "title": exp.title,
        "description": exp.description
        or f"perfops experiment {exp.title!r}, exported for Chaos Toolkit",
        "tags": ["perfops", *[t for t in exp.tags if t.strip()]],
        "configuration": {
            RUN_KEY: {
                "type": "probe",
                "name": "a run-unique prefix for the fault ids",
                "provider": {
                    "type": "python",
                    "module": "secrets",
                    "func": "token_hex",
                    "arguments": {"nbytes": 4},
                },
            },
            **_endpoint_config(keys, endpoints),
        },
        "steady-state-hypothesis": {
            "title": f"{exp.load.service} answers (its SLOs are judged by perfops chaos run)",
            "probes": _hypothesis_probes(exp, keys),
        },
        "method": method,
        "rollbacks": rollbacks,
        "runtime": {"rollbacks": {"strategy": "always"}},
        "extensions": [
            {
                "name": "perfops",
                "judged_by": [*judge, "EXPERIMENT.yaml"],
                "not_exported": _not_exported(exp),
                "skipped": unsupported_steps(exp),
                "experiment": exp.model_dump(mode="json"),
            }
        ],
    }


def unsupported_steps(exp: Experiment) -> list[str]:
    """One line per fault of ``exp`` that :func:`to_chaostoolkit` leaves out, and why."""
    out = []
    for i, step in enumerate(exp.method):
        reason = _skip_reason(step)
        if reason is not None:
            out.append(f"method[{i}] {step.kind} on {_target(exp, step)}: not exported ({reason})")
    return out


def ctk_fault_id(step: FaultStep, index: int, run: str | None = None) -> str:
    """The id (sim fault id, proxy toxic name) of ``exp.method[index]`` in the export:
    ``{run}-{index}-{name}``, ``run`` defaulting to the ``${perfops_run}`` reference."""
    name = _ID_CHARS.sub("-", step.name or step.kind.split(".", 1)[-1]).strip("-")[:40]
    return f"{run if run is not None else _ref(RUN_KEY)}-{index}-{name or 'fault'}"


def _skip_reason(step: FaultStep) -> str | None:
    """Why ``step`` cannot be driven over HTTP by Chaos Toolkit; None when it can."""
    if step.kind.startswith(_SIM):
        return None
    if step.kind.startswith(_PROXY):
        api = step.params.get("api")
        if isinstance(api, str) and api.strip():
            return None
        return "no params.api: the fault proxy's control API URL is not in the experiment"
    return "no HTTP API to drive it from Chaos Toolkit; run it with perfops chaos run"


def _ref(key: str) -> str:
    return "${" + key + "}"


def _target(exp: Experiment, step: FaultStep) -> str:
    return step.target or exp.load.service


def _label(step: FaultStep, index: int) -> str:
    """The fault's name as the perfops runner reports it (``FaultRun.name``)."""
    return step.name or f"{step.kind}#{index}"


def _service_keys(exp: Experiment) -> dict[str, str]:
    """Service name -> a configuration-key-safe name, unique."""
    services = [exp.load.service]
    services += [_target(exp, s) for s in exp.method if _target(exp, s) not in services]
    keys: dict[str, str] = {}
    for service in services:
        key = _KEY_CHARS.sub("_", service).strip("_") or "service"
        n = 2
        while key in keys.values():
            key = f"{key.rstrip('0123456789_')}_{n}"
            n += 1
        keys[service] = key
    return keys


def _endpoint_config(keys: Mapping[str, str], endpoints: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for service, key in keys.items():
        endpoint = endpoints.get(service)
        if endpoint is None:
            env = f"PERFOPS_{key.upper()}"
            out[f"api_{key}"] = {"type": "env", "key": f"{env}_API"}
            out[f"admin_{key}"] = {"type": "env", "key": f"{env}_ADMIN"}
            continue
        parts = urlsplit(endpoint)
        if not parts.scheme or not parts.netloc:
            raise UsageError(
                f"endpoint {endpoint!r} of service {service!r} is not an absolute URL",
                hint="pass the OpenAI base URL, e.g. http://127.0.0.1:8000/v1",
            )
        out[f"api_{key}"] = endpoint.rstrip("/")
        out[f"admin_{key}"] = f"{parts.scheme}://{parts.netloc}"
    return out


def _hypothesis_probes(exp: Experiment, keys: Mapping[str, str]) -> list[dict[str, Any]]:
    service = exp.load.service
    probes: list[dict[str, Any]] = [
        {
            "type": "probe",
            "name": f"{service} serves the OpenAI API",
            "tolerance": 200,
            "provider": {
                "type": "http",
                "url": f"{_ref('api_' + keys[service])}/models",
                "timeout": _TIMEOUT_S,
            },
        }
    ]
    for i, probe in enumerate(exp.hypothesis.probes):
        if not isinstance(probe, HttpProbe):
            continue
        statuses = list(probe.expect_status)
        probes.append(
            {
                "type": "probe",
                "name": probe.name or f"http probe #{i}",
                # an int is compared with the output's status; a list is "one of" them
                "tolerance": statuses[0] if len(statuses) == 1 else statuses,
                "provider": {
                    "type": "http",
                    "url": probe.url,
                    "method": probe.method,
                    "timeout": probe.timeout,
                },
            }
        )
    return probes


def _inject(
    exp: Experiment, step: FaultStep, index: int, keys: Mapping[str, str], fault_id: str
) -> dict[str, Any]:
    """The action injecting ``step`` under ``fault_id``, as the perfops fault plugin does."""
    if step.kind.startswith(_SIM):
        url = f"{_ref('admin_' + keys[_target(exp, step)])}/admin/faults"
        body = {**step.params, "kind": step.kind.removeprefix(_SIM), "id": fault_id}
        body["duration"] = step.duration
        if body["kind"] == "crash":
            body.setdefault("restart_after", step.duration)
        accepted = [200, 201]  # 201 injected; 200 the same fault already in force
    else:
        api, proxy = _proxy_of(step)
        url = f"{api}/proxies/{quote(proxy, safe='')}/toxics"
        body = {k: v for k, v in step.params.items() if k not in ("api", "proxy")}
        body.update(kind=step.kind.removeprefix(_PROXY), name=fault_id)
        body["expires_in"] = step.duration
        accepted = [200, 201, 409]  # 409: a toxic of that name is already there
    return {
        "type": "action",
        "name": f"inject #{index} {step.name or step.kind} on {_target(exp, step)}",
        "provider": {
            "type": "http",
            "url": url,
            "method": "POST",
            "headers": dict(_JSON),
            "arguments": body,
            "timeout": _TIMEOUT_S,
        },
        "tolerance": accepted,
    }


def _revert(
    exp: Experiment,
    step: FaultStep,
    index: int,
    keys: Mapping[str, str],
    fault_id: str,
    *,
    verb: str,
) -> dict[str, Any]:
    """The action reverting ``step``: in the method (``revert``) or a rollback."""
    if step.kind.startswith(_SIM):
        url = f"{_ref('admin_' + keys[_target(exp, step)])}/admin/faults/{fault_id}"
        accepted = [200, 404]  # 200 reverted (or had expired); 404 never injected
    else:
        api, proxy = _proxy_of(step)
        url = f"{api}/proxies/{quote(proxy, safe='')}/toxics/{fault_id}"
        accepted = [200, 204, 404]  # 204 removed; 404 expired or never added
    return {
        "type": "action",
        "name": f"{verb} #{index} {step.name or step.kind} on {_target(exp, step)}",
        "provider": {"type": "http", "url": url, "method": "DELETE", "timeout": _TIMEOUT_S},
        "tolerance": accepted,
    }


def _proxy_of(step: FaultStep) -> tuple[str, str]:
    """(control API base URL, proxy name) of a ``proxy.*`` step."""
    return str(step.params["api"]).rstrip("/"), str(step.params.get("proxy", _DEFAULT_PROXY))


def _rollback_action(index: int, action: RollbackAction) -> dict[str, Any]:
    provider: dict[str, Any] = {
        "type": "http",
        "url": action.url,
        "method": action.method,
        "timeout": _TIMEOUT_S,
    }
    if action.body is not None:
        provider["headers"] = dict(_JSON)
        provider["arguments"] = action.body
    name = f"rollback #{index} {action.method} {action.url}"
    return {"type": "action", "name": name, "provider": provider}


def _not_exported(exp: Experiment) -> list[str]:
    hyp = exp.hypothesis
    out = [f"hypothesis.slos: {h.slo} burn rate <= {h.max_burn_rate:g}" for h in hyp.slos]
    if hyp.min_goodput is not None:
        out.append(f"hypothesis.min_goodput: {hyp.min_goodput:g}")
    if hyp.max_error_ratio is not None:
        out.append(f"hypothesis.max_error_ratio: {hyp.max_error_ratio:g}")
    out += [
        f"hypothesis.probes[{i}]: {p.kind} probe {p.name or ''}".rstrip()
        for i, p in enumerate(hyp.probes)
        if isinstance(p, PromqlProbe | LakeProbe)
    ]
    out.append(
        f"load: {exp.load.rate:g} req/s on {exp.load.service} for {exp.load.duration:g}s "
        f"(+{hyp.baseline:g}s baseline, +{hyp.recovery:g}s recovery)"
    )
    out += [f"stop[{i}]: {s.kind}" for i, s in enumerate(exp.stop)]
    return out


# -- the journal ---------------------------------------------------------------------------


def ctk_status(result: Mapping[str, Any]) -> str:
    """A perfops verdict as a Chaos Toolkit journal status."""
    status = result.get("status")
    if status in ("passed", "deviated"):
        return "completed"
    if status in ("aborted", "interrupted"):
        return str(status)
    return "failed"


def journal_to_chaostoolkit(
    exp: Experiment,
    result: Mapping[str, Any],
    *,
    started: float,
    ended: float,
    endpoints: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The perfops run ``result`` (``ExperimentResult.as_dict()``) of ``exp`` as a Chaos Toolkit
    journal; ``started``/``ended`` are epoch seconds. See the module docstring."""
    endpoints = endpoints or {}
    experiment = to_chaostoolkit(exp, endpoints=endpoints)
    keys = _service_keys(exp)
    t_before = min(started + exp.hypothesis.baseline, ended)
    t_during = min(t_before + exp.load.duration, ended)
    states = {
        "before": _state(exp, result.get("before"), t_before),
        "after": _state(exp, result.get("after"), ended),
        "during": [s for s in [_state(exp, result.get("during"), t_during)] if s is not None],
    }
    runs, reverts = [], []
    labels = {_label(step, i): i for i, step in enumerate(exp.method)}
    for n, fault in enumerate(result.get("faults") or []):
        index = labels.get(str(fault.get("name")), n)
        step = exp.method[index] if index < len(exp.method) else None
        fault_id = str(fault.get("fault_id"))
        injected, reverted = fault.get("injected_ns"), fault.get("reverted_ns")
        error = fault.get("error")
        if injected is None and error is None:
            continue  # never attempted (the run ended before its offset)
        planned = t_before + float(fault.get("start_s") or 0.0)
        at = injected / 1e9 if injected is not None else planned
        activity = _fault_activity(exp, step, index, keys, fault, fault_id, revert=False)
        runs.append(
            _run(activity, _fault_output(fault, injected=injected), at, failed=injected is None,
                 error=error)
        )  # fmt: skip
        if reverted is not None:
            activity = _fault_activity(exp, step, index, keys, fault, fault_id, revert=True)
            revert_failed = injected is not None and error is not None
            reverts.append(
                _run(activity, _fault_output(fault, reverted=reverted), reverted / 1e9,
                     failed=revert_failed, error=error)
            )  # fmt: skip
    runs.sort(key=lambda r: str(r["start"]))
    reverts.sort(key=lambda r: str(r["start"]))
    return {
        "chaoslib-version": CTK_JOURNAL_VERSION,
        "platform": platform.platform(),
        "node": platform.node(),
        "experiment": experiment,
        "start": _iso(started),
        "end": _iso(ended),
        "duration": round(ended - started, 6),
        "status": ctk_status(result),
        "deviated": result.get("status") == "deviated",
        "steady_states": states,
        "run": runs,
        "rollbacks": reverts,
        "perfops": {
            "run_id": result.get("run_id"),
            "status": result.get("status"),
            "reason": result.get("reason"),
            "requests": result.get("requests"),
            "impact": result.get("impact") or [],
        },
    }


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat()


def _run(
    activity: dict[str, Any],
    output: Any,
    at: float,
    *,
    failed: bool = False,
    error: Any = None,
    tolerance_met: bool | None = None,
) -> dict[str, Any]:
    run: dict[str, Any] = {
        "activity": activity,
        "output": output,
        "status": "failed" if failed else "succeeded",
        "start": _iso(at),
        "end": _iso(at),
        "duration": 0.0,
    }
    if failed:
        run["exception"] = [f"perfops: {error or 'failed'}\n"]
    if tolerance_met is not None:
        run["tolerance_met"] = tolerance_met
    return run


def _state(exp: Experiment, phase: Any, at: float) -> dict[str, Any] | None:
    if not isinstance(phase, Mapping):
        return None
    checks: Sequence[Mapping[str, Any]] = phase.get("checks") or []
    probes = [
        _run(_check_activity(exp, c), c.get("value"), at, tolerance_met=bool(c.get("met")))
        for c in checks
    ]
    return {"steady_state_met": bool(phase.get("met")), "probes": probes}


def _check_activity(exp: Experiment, check: Mapping[str, Any]) -> dict[str, Any]:
    """A perfops hypothesis check as the probe Chaos Toolkit would have run for it."""
    name, limit = str(check.get("name")), check.get("limit")
    activity: dict[str, Any] = {
        "type": "probe",
        "name": name,
        "provider": {
            "type": "python",
            "module": "perfops.chaos.steady",
            "func": "check_hypothesis",
            "arguments": {},
        },
        "x-perfops-limit": limit,
    }
    tolerance: Any = None
    probe = next((p for p in exp.hypothesis.probes if _probe_name(p) == name), None)
    if isinstance(probe, HttpProbe):
        tolerance = list(probe.expect_status)
    elif isinstance(probe, PromqlProbe | LakeProbe):
        if probe.min is not None and probe.max is not None:
            tolerance = {"type": "range", "range": [probe.min, probe.max]}
    elif isinstance(limit, int | float):
        if name.endswith("burn rate") or name == "error ratio":
            tolerance = {"type": "range", "range": [0, limit]}
        elif name == "goodput":
            tolerance = {"type": "range", "range": [limit, 1]}
    if tolerance is not None:
        activity["tolerance"] = tolerance
    return activity


def _probe_name(probe: HttpProbe | PromqlProbe | LakeProbe) -> str:
    """The check name the perfops runner gives a probe."""
    return probe.name or f"{probe.kind} probe"


def _fault_activity(
    exp: Experiment,
    step: FaultStep | None,
    index: int,
    keys: Mapping[str, str],
    fault: Mapping[str, Any],
    fault_id: str,
    *,
    revert: bool,
) -> dict[str, Any]:
    if step is not None and _skip_reason(step) is None:
        if revert:
            return _revert(exp, step, index, keys, fault_id, verb="roll back")
        return _inject(exp, step, index, keys, fault_id)
    verb = "roll back" if revert else "inject"
    what = (step.name or step.kind) if step is not None else fault.get("name")
    return {
        "type": "action",
        "name": f"{verb} #{index} {what} on {fault.get('target')}",
        "provider": {
            "type": "python",
            "module": "perfops.app.chaos",
            "func": "run_experiment",
            "arguments": {
                "kind": fault.get("kind"),
                "target": fault.get("target"),
                "params": dict(step.params) if step is not None else {},
                "duration": fault.get("duration_s"),
                "id": fault_id,
            },
        },
    }


def _fault_output(
    fault: Mapping[str, Any], *, injected: Any = None, reverted: Any = None
) -> dict[str, Any]:
    out = {k: fault.get(k) for k in ("fault_id", "kind", "target", "start_s", "duration_s")}
    if injected is not None:
        out["injected_at"] = _iso(injected / 1e9)
    if reverted is not None:
        out["reverted_at"] = _iso(reverted / 1e9)
    if fault.get("error"):
        out["error"] = fault.get("error")
    return out
