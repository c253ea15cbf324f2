"""The demo's respond step: runbooks, a rollback drill, the incident its page alert opens
through the Alertmanager webhook, the status updates, the postmortem and the runbook's
mitigations ranked by the drill's evidence.

The alert goes to the receiver exactly as Alertmanager would send it for the SLO's page rule
(webhook payload version 4, grouped by ``escalation.group_by``, fingerprinted as
Alertmanager fingerprints a label set), firing from the drill's detection and resolved at
its measured restore. The receiver itself is served by the caller (the web layer sits above
this one): ``receiver`` is a context manager factory that yields its webhook URL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from perfops.app.runtime import Runtime
from perfops.config import SLO
from perfops.errors import PerfopsError
from perfops.respond import runbook as rbk

__all__ = ["Receiver", "respond_step"]

Say = Callable[[str], None]
Receiver = Callable[[Runtime], AbstractContextManager[str]]
"""Serves the Alertmanager receiver over a Runtime until the block ends; yields its URL."""

_DRILL = """# The candidate adds 0.6 s to every first token of {service}; the drill watches {slo}'s
# burn rate over 2 s, rolls back on its own and measures how long the SLO took to recover.
apiVersion: perfops/v1
kind: Drill
title: a release with a slow first token
slo: {slo}
load: {{service: {service}, rate: 8, duration: 15s, prompt_tokens: 64, max_tokens: 8}}
deploy: {{kind: sim.ttft_latency, params: {{seconds: 0.6}}}}
deploy_after: 2s
window: 2s
"""


def respond_step(
    rt: Runtime, directory: Path, say: Say, receiver: Receiver, targets: Sequence[Any]
) -> dict[str, object]:
    """Runbooks; a rollback drill, scraped by ``targets`` meanwhile, whose detection pages
    through the webhook; status updates; the postmortem; the ranked mitigations."""
    from perfops.app.incident import incident_state, resolve_incident, update_incident
    from perfops.app.runbook import generate_runbooks

    slo = _latency_slo(rt)
    written = generate_runbooks(rt)
    say(f"runbooks (`perfops runbook generate`): {len(written)} in {rt.config.runbooks.dir}")
    with receiver(rt) as url:
        pager = _Pager(rt, directory, slo, url, say)
        drill = asyncio.run(_drill(rt, directory, slo, targets, pager, say))
        if pager.incident_id is None:
            raise PerfopsError(f"the drill's detection paged nobody: no rollback event of "
                               f"{drill.run_id} was seen",
                               hint="run the demo again")  # fmt: skip
        incident_id = pager.incident_id
        why = (f"the candidate release (drill {drill.run_id}) slowed the first token; rolled "
               f"back {_s(drill.time_to_detect_s)} after it went out")  # fmt: skip
        update_incident(rt, incident_id, status="identified", by="demo", message=why)
        restored = _restored_ns(rt, drill)
        resolved = _post(url, alertmanager_payload(rt, slo, pager.detected_ns, restored))
    say(f"Alertmanager notification (resolved) -> POST {url}: updated "
        f"{', '.join(resolved.get('updated', [])) or 'nothing'}")  # fmt: skip
    _show(rt, directory, incident_state(rt, incident_id), "update", say)
    inc = resolve_incident(rt, incident_id, by="demo", message=f"{slo.name} restored "
                           f"{_s(drill.time_to_restore_s)} after the rollback")  # fmt: skip
    _show(rt, directory, inc, "resolution", say)
    postmortem = _postmortem(rt, directory, incident_id, say)
    top = _mitigations(rt, slo, say)
    return {"drill_run": drill.run_id, "drill_status": drill.status,
            "time_to_detect_s": drill.time_to_detect_s,
            "time_to_restore_s": drill.time_to_restore_s, "incident": incident_id,
            "postmortem": str(postmortem), "top_mitigation": top}  # fmt: skip


def _latency_slo(rt: Runtime) -> SLO:
    """The first TTFT SLO of the first service: the one a slow first token burns."""
    svc = rt.config.service()
    found = next((s for s in rt.config.slos if s.service == svc.name and s.sli.kind == "latency"
                  and getattr(s.sli, "metric", None) == "ttft"), None)  # fmt: skip
    if found is None:
        raise PerfopsError(
            f"the demo's drill needs a TTFT latency SLO of service {svc.name}",
            hint="add one to perfops.yaml, e.g. sli: {kind: latency, metric: ttft, threshold: "
            "500ms}",
        )
    return found


class _Pager:
    """Alertmanager's part: once the drill has detected the regression (its ``rollback``
    event, written as it rolls back on detecting, is in the lake), the page alert goes to
    the receiver, firing since then; the initial status update is shown at once."""

    def __init__(self, rt: Runtime, directory: Path, slo: SLO, url: str, say: Say) -> None:
        self.rt, self.directory, self.slo, self.url, self.say = rt, directory, slo, url, say
        self.incident_id: str | None = None
        self.detected_ns = 0

    async def watch(self, since_ns: int, done: asyncio.Event) -> None:
        while not done.is_set() and self.incident_id is None:
            await asyncio.sleep(0.25)
            rows = await asyncio.to_thread(self.rt.store.journal.events, since_ns, kind="deploy")
            drills = {e.run_id for e in rows if e.run_id and e.run_id.startswith("drill-")}
            back = await asyncio.to_thread(self.rt.store.journal.events, since_ns,
                                           kind="rollback")  # fmt: skip
            mine = [e for e in back if e.run_id in drills]
            if mine:
                await asyncio.to_thread(self.page, mine[0].ts_ns)

    def page(self, detected_ns: int) -> None:
        self.detected_ns = detected_ns
        opened = _post(self.url, alertmanager_payload(self.rt, self.slo, detected_ns, None))
        if not opened.get("opened"):
            raise PerfopsError(f"the receiver at {self.url} opened no incident: {opened}",
                               hint="is the alert's severity label page?")  # fmt: skip
        self.incident_id = str(opened["opened"][0])
        self.say(f"  Alertmanager notification (firing, {_alert(self.slo)}) -> POST "
                 f"{self.url}: opened {self.incident_id}")  # fmt: skip
        from perfops.app.incident import incident_state

        inc = incident_state(self.rt, self.incident_id)
        _show(self.rt, self.directory, inc, "initial", self.say, indent="  ")


async def _drill(
    rt: Runtime, directory: Path, slo: SLO, targets: Sequence[Any], pager: _Pager, say: Say
) -> Any:
    """The drill, with the fleet scraped into the lake meanwhile (the updates' live SLI) and
    the pager watching for its detection."""
    from perfops.app.collect import run_collect
    from perfops.app.drill import load_drill, run_drill

    path = directory / "drills" / "slow-first-token.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(_DRILL.format(slo=slo.name, service=slo.service))
    say(f"rollback drill {path.name} (`perfops chaos drill drills/{path.name}`), scraped "
        "meanwhile (`perfops collect`):")  # fmt: skip
    spec = load_drill(rt, path)
    done = asyncio.Event()
    collect = asyncio.create_task(run_collect(rt, targets, duration=None, stop=done))
    watch = asyncio.create_task(pager.watch(rt.clock.now_ns(), done))
    try:
        result = await run_drill(rt, spec, say=lambda m: say(f"  {m}"))
    finally:
        done.set()
        await asyncio.gather(collect, watch, return_exceptions=True)
    watch.result()  # a page that failed is the step's failure
    say(f"  verdict: {result.status} ({result.reason}); time to detect "
        f"{_s(result.time_to_detect_s)}, to restore {_s(result.time_to_restore_s)}, "
        f"{_pct(result.budget_spent_pct)} of the {slo.name} budget")  # fmt: skip
    if result.status != "restored":
        raise PerfopsError(
            f"the demo's rollback drill {result.run_id} ended {result.status}: {result.reason}",
            hint="a machine too busy to keep the drill's load may delay it: run the demo again",
        )
    return result


def _restored_ns(rt: Runtime, drill: Any) -> int:
    """When the drill saw the SLO restored, in ns since the epoch: its rollback event plus
    the time to restore it measured from there."""
    back = [e.ts_ns for e in rt.store.journal.events(kind="rollback") if e.run_id == drill.run_id]
    return back[0] + round(float(drill.time_to_restore_s) * 1e9)


def _show(rt: Runtime, directory: Path, inc: Any, kind: str, say: Say, indent: str = "") -> None:
    """One status update as posted to the internal channel, rendered before any of it is
    said, then said at once (the drill may be talking meanwhile)."""
    from perfops.app.incident_comms import render_update

    text = render_update(rt, inc, kind=kind, channel="internal", workspace=directory)
    head = (f"status update: {kind} (internal channel; `perfops incident message "
            f"{inc.incident_id} --kind {kind}`), incident {inc.status}:")  # fmt: skip
    lines = [head, *(f"  | {line}" for line in text.rstrip().splitlines())]
    say("\n".join(indent + line for line in lines))


def _post(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            done: dict[str, Any] = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        answer_text = exc.read().decode(errors="replace")
        raise PerfopsError(
            f"the receiver at {url} refused the notification: HTTP {exc.code} {answer_text}",
            hint="the payload must be Alertmanager's webhook v4",
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise PerfopsError(f"the receiver at {url} did not answer: {exc}",
                           hint="is port 0 on 127.0.0.1 free to bind?") from None  # fmt: skip
    return done


def _alert(slo: SLO) -> str:
    from perfops.slo.rules import alert_name

    return alert_name(slo, "page")


def alertmanager_payload(
    rt: Runtime, slo: SLO, starts_ns: int, ends_ns: int | None
) -> dict[str, Any]:
    """What Alertmanager posts to a ``webhook_config`` for ``slo``'s page alert, firing
    since ``starts_ns`` or (with ``ends_ns``) resolved then."""
    from perfops.app.runbook import runbook_base
    from perfops.slo.rules import alert_annotations

    labels = {"alertname": _alert(slo), "severity": "page", "slo": slo.name,
              "service": slo.service}  # fmt: skip
    grouped = {k: labels[k] for k in rt.config.escalation.group_by if k in labels}
    route = next((r for r in rt.config.escalation.routes if r.severity == "page"), None)
    status = "firing" if ends_ns is None else "resolved"
    annotations = alert_annotations(slo, "page", runbook_base(rt.config))
    return {
        "version": "4",
        "groupKey": '{}/{severity="page"}:' + _label_text(grouped),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": route.receivers[0] if route else "default",
        "groupLabels": grouped,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "http://alertmanager.invalid:9093",
        "alerts": [{
            "status": status, "labels": labels, "annotations": annotations,
            "startsAt": _rfc3339(starts_ns),
            "endsAt": "0001-01-01T00:00:00Z" if ends_ns is None else _rfc3339(ends_ns),
            "generatorURL": "http://prometheus.invalid:9090/graph", "fingerprint":
            fingerprint(labels),
        }],
    }  # fmt: skip


def _label_text(labels: dict[str, str]) -> str:
    """A label set as Alertmanager prints it in a group key: ``{a="x", b="y"}``, sorted."""
    return "{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())) + "}"


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint of a label set (Prometheus ``model.LabelSet.Fingerprint``:
    FNV-1a 64 over the sorted names and values, each followed by the byte 0xff), in hex."""
    value = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def _rfc3339(ns: int) -> str:
    when = dt.datetime.fromtimestamp(ns // 1_000_000_000, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 1_000_000_000:09d}Z"


def _postmortem(rt: Runtime, directory: Path, incident_id: str, say: Say) -> Path:
    from perfops.app.postmortem import draft_postmortem
    from perfops.respond import postmortem_render

    pm = draft_postmortem(rt, incident_id, Path(rt.config.runbooks.dir))
    path = directory / f"postmortem-{incident_id}.md"
    text = postmortem_render.render_markdown(pm)
    path.write_text(text, encoding="utf-8")
    say(f"postmortem (`perfops incident postmortem {incident_id}`): wrote {path}")
    say(f"  {_summary_line(text)}")
    return path


def _summary_line(markdown: str) -> str:
    """The postmortem's summary paragraph in one line, its footnote marks left out."""
    after = markdown.partition("## Summary")[2].strip()
    paragraph = after.split("\n\n", 1)[0]
    return re.sub(r"\[\^\d+\]", "", " ".join(paragraph.split()))


def _mitigations(rt: Runtime, slo: SLO, say: Say) -> dict[str, object] | None:
    """The page runbook's mitigations, ranked as its file ranks them, with their evidence."""
    from perfops.app.runbook import plan_runbooks, runbook_path

    alert = _alert(slo)
    rb = next(p.runbook for p in plan_runbooks(rt) if p.runbook.alert == alert)
    ranked = rbk.rank(rb.steps, rb.evidence, now_ns=rb.now_ns, stale_after_s=rb.stale_after_s)
    say(f"runbook {runbook_path(rt.config, alert)}: mitigations ranked by measured time to "
        "restore (`perfops runbook show " + alert + "`):")  # fmt: skip
    for i, m in enumerate(ranked, 1):
        last = m.last
        proof = "untested" if last is None else (
            f"{m.state}: {last.kind} {last.run_id} on {last.date}, detected in "
            f"{_s(last.time_to_detect_s)}, restored in {_s(last.time_to_restore_s)}, "
            f"{_pct(last.budget_spent_pct)} of the budget spent"
        )  # fmt: skip
        say(f"  {i}. {m.step.text} ({m.step.action}): {proof}")
    if not ranked:
        return None
    top = ranked[0]
    return {"action": top.step.action, "state": top.state, "restore_s": top.restore_s,
            "run_id": top.last.run_id if top.last else None}  # fmt: skip


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}%"
