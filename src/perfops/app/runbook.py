"""`perfops runbook`: one Markdown runbook per generated alert, in the workspace's
``runbooks/`` folder (``runbooks.dir``), with its mitigations ranked by the drills and
experiments that exercised them.

A runbook is named by :func:`perfops._internal.runbook_names.runbook_name` of its alert, the
same function that writes the alert's ``runbook_url``, so the link always names the file.
Generated sections sit in marked blocks; text outside them is never rewritten. A block
edited by hand is not overwritten: :func:`generate` refuses (exit 1, naming the file and
block) unless ``force``, which regenerates it and keeps the whole previous file as
``<name>.md.orig``. Evidence updates after a drill skip a hand-edited evidence block and say so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from perfops._internal.runbook_names import GPU_HEALTH_ALERTS, runbook_name
from perfops.app._runbook_check import CheckLine, check_queries, check_url
from perfops.app._runbook_content import (
    LakeQuery,
    escalation_lines,
    gpu_queries,
    gpu_steps,
    impact_lines,
    queries,
    slo_steps,
)
from perfops.app._runbook_evidence import evidence_for, touched_runbooks
from perfops.app.runtime import Runtime
from perfops.app.slo import SloStatus, slo_statuses
from perfops.config import SLO, Config
from perfops.errors import PerfopsError
from perfops.respond import runbook as rbk
from perfops.slo.rules import DEFAULT_RUNBOOK, alert_name, burn_windows

__all__ = [
    "CheckLine",
    "EditedRunbooks",
    "Planned",
    "Written",
    "evidence_for",
    "check_runbooks",
    "generate_runbooks",
    "list_runbooks",
    "plan_runbooks",
    "read_runbook",
    "record_in_runbooks",
    "runbook_base",
    "runbook_path",
    "update_evidence",
]

Say = Callable[[str], None]


def runbook_base(config: Config, given: str | None = None) -> str:
    """The base of every alert's ``runbook_url``: ``given`` (``--runbook-url``), else
    ``workspace.runbook_url``, else the runbooks ``perfops dashboard`` serves."""
    return given or config.workspace.runbook_url or DEFAULT_RUNBOOK


def runbook_path(config: Config, alert: str) -> Path:
    return Path(config.runbooks.dir) / f"{runbook_name(alert)}.md"


@dataclass(frozen=True, slots=True)
class Planned:
    """One runbook to write, with the lake queries its diagnosis names."""

    runbook: rbk.Runbook
    lake_queries: tuple[LakeQuery, ...]


_GPU_MEANING = {
    "xid": "A GPU reported an XID error: a driver or hardware fault (79: the GPU fell off the "
    "bus; 48, 63, 64: ECC; 13, 31, 43: the application faulted).",
    "throttle": "A GPU's clocks are held down (thermal or power slowdown, power brake): it "
    "serves slower than its peers.",
    "ecc": "A GPU reported uncorrectable (double-bit) ECC errors or row remapping: its memory "
    "may return wrong results.",
}


def plan_runbooks(rt: Runtime, *, evidence: bool = True) -> list[Planned]:
    """Every alert's runbook: each SLO's burn-rate alerts (page, ticket), then the GPU
    health alerts, with the SLO's status now and the evidence in the lake."""
    config, now = rt.config, rt.clock.now_ns()
    statuses = {s.name: s for s in slo_statuses(rt, config.slos)} if config.slos else {}
    out = []
    for slo in config.slos:
        found = evidence_for(rt, slo=slo.name) if evidence else []
        lake = tuple(queries(config, slo))
        status = statuses.get(slo.name)
        out += [
            Planned(_slo_runbook(config, slo, severity, status, lake, found, now), lake)
            for severity in dict.fromkeys(w.severity for w in burn_windows(slo))
        ]
    for what, alert in GPU_HEALTH_ALERTS.items():
        found = evidence_for(rt, alert=alert) if evidence else []
        lake = tuple(gpu_queries(what))
        out.append(Planned(_gpu_runbook(config, what, alert, lake, found, now), lake))
    return out


def _slo_runbook(
    config: Config,
    slo: SLO,
    severity: str,
    status: SloStatus | None,
    lake: Sequence[LakeQuery],
    found: Sequence[rbk.Evidence],
    now: int,
) -> rbk.Runbook:
    alert = alert_name(slo, severity)
    what = slo.description or f"SLO {slo.name} of {slo.service}"
    rate = "fast: act now" if severity == "page" else "slow: act within the working day"
    return rbk.Runbook(
        runbook_name(alert), alert, slo.name, slo.service, severity, slo.sli.kind,
        f"{what}. Its error budget is burning at the {severity} rate ({rate}).",
        tuple(impact_lines(slo, severity, status)), tuple(q.query for q in lake),
        tuple(slo_steps(slo)), tuple(escalation_lines(config, severity)), tuple(found),
        config.runbooks.stale_after, now,
    )  # fmt: skip


def _gpu_runbook(
    config: Config,
    what: str,
    alert: str,
    lake: Sequence[LakeQuery],
    found: Sequence[rbk.Evidence],
    now: int,
) -> rbk.Runbook:
    services = ", ".join(s.name for s in config.services) or "every service"
    note = (
        "`perfops slo rules` writes this alert in its perfops-gpu-health group, one per GPU "
        "over every GPU the exporters report (a gpu_health SLO also counts XID errors and "
        "throttling together, against an objective)."
    )
    return rbk.Runbook(
        runbook_name(alert), alert, "", services, "page", f"gpu_{what}", _GPU_MEANING[what],
        ("Users see slower answers or errors from the replicas on this GPU; the other "
         "replicas take its load.",), tuple(q.query for q in lake), tuple(gpu_steps(what)),
        tuple(escalation_lines(config, "page")), tuple(found), config.runbooks.stale_after,
        now, (note,),
    )  # fmt: skip


@dataclass
class Written:
    path: Path
    state: str  # created | updated | unchanged | refused | skipped
    edited: list[str] = field(default_factory=list)  # hand-edited blocks
    orig: Path | None = None  # the previous file, kept when a hand-edited block was replaced


class EditedRunbooks(PerfopsError):
    """Hand-edited generated blocks that regeneration would overwrite."""


def _write(path: Path, rb: rbk.Runbook, sections: dict[str, str], *, force: bool) -> Written:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rbk.render_page(rb))
        return Written(path, "created")
    old = path.read_text()
    merged = rbk.merge(old, sections, force=force)
    edited = sorted(merged.edited)
    if edited and not force:
        return Written(path, "refused" if len(sections) > 1 else "skipped", edited)
    if merged.text == old:
        return Written(path, "unchanged")
    orig = None
    if edited:
        orig = path.with_name(path.name + ".orig")
        orig.write_text(old)
    path.write_text(merged.text)
    return Written(path, "updated", edited, orig)


def generate_runbooks(rt: Runtime, *, force: bool = False) -> list[Written]:
    """Write (or regenerate) every runbook. A hand-edited block stops the whole run before
    anything is written (EditedRunbooks, exit 1) unless ``force``."""
    plans = plan_runbooks(rt)
    paths = [runbook_path(rt.config, p.runbook.alert) for p in plans]
    if not force:
        _refuse_edited(list(zip(paths, plans, strict=True)))
    return [
        _write(path, p.runbook, rbk.render_sections(p.runbook), force=force)
        for path, p in zip(paths, plans, strict=True)
    ]


def _refuse_edited(pairs: Sequence[tuple[Path, Planned]]) -> None:
    edited = []
    for path, _ in pairs:
        blocks = rbk.edited_blocks(path.read_text()) if path.exists() else []
        edited += [f"{path} ({', '.join(blocks)})"] if blocks else []
    if edited:
        raise EditedRunbooks(
            "generated blocks edited by hand; regenerating would overwrite them: "
            + "; ".join(edited),
            hint="move your text outside the <!-- perfops:begin/end --> markers, or run "
            "`perfops runbook generate --force` (the previous file is kept as <name>.md.orig)",
        )


def update_evidence(
    rt: Runtime,
    *,
    slos: Iterable[str] | None = None,
    alerts: Iterable[str] = (),
    say: Say | None = None,
    create: bool = True,
) -> list[Written]:
    """Rewrite the evidence and mitigation blocks of the runbooks of ``slos`` and GPU
    ``alerts`` (every runbook when ``slos`` is None) from the lake; runbooks not generated
    yet are created whole (or, without ``create``, left alone). A hand-edited block is
    skipped, and ``say`` tells."""
    wanted_slos = None if slos is None else set(slos)
    wanted_alerts = set(alerts)
    out = []
    for plan in plan_runbooks(rt):
        rb = plan.runbook
        if wanted_slos is not None and rb.slo not in wanted_slos and rb.alert not in wanted_alerts:
            continue
        path = runbook_path(rt.config, rb.alert)
        if not create and not path.exists():
            continue
        sections = rbk.render_sections(rb)
        if path.exists():
            sections = {k: sections[k] for k in ("mitigation", "evidence")}
        written = _write(path, rb, sections, force=False)
        if written.state == "skipped" and say:
            say(
                f"runbook {path}: block {', '.join(written.edited)} edited by hand; its "
                "evidence is not updated (`perfops runbook generate --force` replaces it)"
            )
        out.append(written)
    return out


def check_runbooks(
    rt: Runtime, base: str | None = None, *, timeout_s: float = 5.0
) -> list[CheckLine]:
    """`perfops runbook check`: one line per alert's ``runbook_url`` (under ``base``, else
    :func:`runbook_base`) and per distinct diagnosis query, in runbook order."""
    chosen = runbook_base(rt.config, base)
    out: list[CheckLine] = []
    ran: set[str] = set()
    for plan in plan_runbooks(rt, evidence=False):
        alert = plan.runbook.alert
        out.append(check_url(alert, chosen, runbook_path(rt.config, alert), timeout_s=timeout_s))
        fresh = [q for q in plan.lake_queries if q.query.command not in ran]
        ran.update(q.query.command for q in fresh)
        out += check_queries(rt, alert, fresh)
    return out


def list_runbooks(rt: Runtime) -> list[str]:
    """The names of the runbooks in the workspace's folder."""
    folder = Path(rt.config.runbooks.dir)
    return sorted(p.stem for p in folder.glob("*.md")) if folder.is_dir() else []


def read_runbook(rt: Runtime, name: str) -> str | None:
    """The Markdown of runbook ``name`` (an alert name, or its runbook name), without the
    block markers; None when there is no such runbook. A name that is not one safe path
    segment is no runbook (nothing outside the folder is ever read)."""
    if runbook_name(name) != name:
        return None
    path = runbook_path(rt.config, name)
    return rbk.strip_markers(path.read_text()) if path.is_file() else None


def record_in_runbooks(
    rt: Runtime, slos: Iterable[str], fault_kinds: Iterable[str], say: Say
) -> list[Written]:
    """After a drill or an experiment: the evidence of the runbooks it exercised (those of
    its SLOs, and the GPU health runbooks of its faults), where they have been generated.
    A runbook that cannot be written is reported, never the run's failure."""
    slo_names, alerts = touched_runbooks(slos, fault_kinds)
    if not Path(rt.config.runbooks.dir).is_dir() or not (slo_names or alerts):
        return []
    try:
        written = update_evidence(rt, slos=slo_names, alerts=alerts, say=say, create=False)
    except (PerfopsError, OSError) as exc:
        say(f"runbooks not updated: {exc}")
        return []
    for w in written:
        if w.state == "updated":
            say(f"runbook evidence updated: {w.path}")
    return written
