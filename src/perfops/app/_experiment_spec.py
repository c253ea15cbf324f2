"""An experiment file, read and checked against perfops.yaml: every problem located, all at
once (``perfops chaos validate`` shows them; ``chaos run`` refuses to start on any)."""

from __future__ import annotations

from pathlib import Path

from perfops.app.runtime import Runtime
from perfops.chaos.faults import fault_for
from perfops.config.experiment import Deploy, ErrorStop, Experiment, FaultStep
from perfops.config.loader import parse_spec
from perfops.config.models import AvailabilitySLI, GoodputSLI, LatencySLI
from perfops.errors import ConfigError, PerfopsError, Problem
from perfops.loadgen.slo import parse_slo

__all__ = ["Where", "cross_checks", "fault_checks", "load_experiment", "read_spec"]

Where = tuple[tuple[str | int, ...], str, str]  # (field path, message, hint)


def read_spec(path: Path) -> str:
    """A spec file's text; an unreadable one is a located error, not a traceback."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError([Problem(str(path), "", f"cannot read: {reason}")]) from None


def load_experiment(rt: Runtime, path: Path) -> Experiment:
    """Parse and check an experiment file; every problem located, all at once."""
    spec, locate = parse_spec(Experiment, read_spec(path), str(path))
    problems = [locate(p, m, h) for p, m, h in cross_checks(rt, spec)]
    if problems:
        raise ConfigError(problems, source=str(path))
    return spec


def cross_checks(rt: Runtime, exp: Experiment) -> list[Where]:
    """What in ``exp`` perfops.yaml contradicts: services, SLOs, fault kinds and params."""
    services = {s.name for s in rt.config.services}
    out: list[Where] = []
    if exp.load.service not in services:
        out.append((("load", "service"), f"no service {exp.load.service!r} in perfops.yaml",
                    f"services: {', '.join(sorted(services)) or 'none'}"))  # fmt: skip
    if exp.load.slo:
        try:
            parse_slo(exp.load.slo)
        except PerfopsError as exc:
            out.append((("load", "slo"), str(exc), "e.g. ttft_p99=500ms,tpot_p99=50ms"))
    names: list[tuple[tuple[str | int, ...], str]] = [
        (("hypothesis", "slos", i, "slo"), h.slo) for i, h in enumerate(exp.hypothesis.slos)
    ]
    names += [
        (("stop", i, "slo"), s.slo) for i, s in enumerate(exp.stop) if not isinstance(s, ErrorStop)
    ]
    out += _slo_checks(rt, names)
    for i, step in enumerate(exp.method):
        out += [(("method", i, *p), m, h) for p, m, h in fault_checks(rt, step)]
        if step.start + step.duration > exp.load.duration:
            out.append((("method", i, "duration"),
                        f"the fault ends at {step.start + step.duration:g}s, after the "
                        f"{exp.load.duration:g}s experiment window",
                        "shorten it or lengthen load.duration"))  # fmt: skip
    return out


def _slo_checks(rt: Runtime, names: list[tuple[tuple[str | int, ...], str]]) -> list[Where]:
    slos = {s.name: s for s in rt.config.slos}
    known = ", ".join(slos) or "none"
    out: list[Where] = []
    for path, name in names:
        if name not in slos:
            out.append((path, f"no SLO {name!r} in perfops.yaml", f"SLOs: {known}"))
        elif not isinstance(slos[name].sli, LatencySLI | GoodputSLI | AvailabilitySLI):
            out.append((path, f"SLO {name!r} ({slos[name].sli.kind}) is not judged per request",
                        "use a latency, goodput or availability SLO"))  # fmt: skip
    return out


def fault_checks(rt: Runtime, step: FaultStep | Deploy) -> list[Where]:
    """A fault step's (or a drill's deploy's) kind, params, target and token, checked."""
    try:
        plugin = fault_for(step.kind)
    except PerfopsError as exc:
        return [(("kind",), str(exc), exc.hint or "")]
    out: list[Where] = [(("params",), problem, "") for problem in plugin.check(step.params)]
    services = {s.name for s in rt.config.services}
    if step.target is not None and step.target not in services:
        out.append((("target",), f"no service {step.target!r}",
                    f"services: {', '.join(sorted(services)) or 'none'}"))  # fmt: skip
    if step.token_env and step.kind.startswith("process."):
        out.append((("token_env",), f"{step.kind} talks to no API and takes no token",
                    "remove token_env"))  # fmt: skip
    return out
