"""`perfops demo`: the loop on the embedded default, step by step. Each stage adds its step."""

from __future__ import annotations

import platform
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from perfops import __version__
from perfops._internal.ids import new_id
from perfops.app.runtime import Runtime, open_runtime
from perfops.store import EventRecord, RunRecord

__all__ = ["run_demo"]

Say = Callable[[str], None]


def _workspace(directory: Path, say: Say) -> Path:
    config = directory / "perfops.yaml"
    if not config.exists():
        directory.mkdir(parents=True, exist_ok=True)
        text = resources.files("perfops.config").joinpath("example.yaml").read_text("utf-8")
        config.write_text(text, encoding="utf-8")
        say(f"wrote {config}")
    else:
        say(f"using {config}")
    return config


def _journal(rt: Runtime, say: Say) -> str:
    now = rt.clock.now_ns()
    run_id = new_id(now, "demo-")
    spec = {"services": [s.name for s in rt.config.services], "version": __version__}
    rt.store.write_run(RunRecord(run_id, "demo", now, "running", spec=spec))
    rt.store.append_events(
        [
            EventRecord(
                now,
                "annotation",
                "demo started",
                run_id=run_id,
                data={"python": platform.python_version()},
            ),
        ]
    )
    end = rt.clock.now_ns()
    rt.store.write_run(
        RunRecord(run_id, "demo", now, "passed", end, spec, {"steps": ["workspace", "journal"]})
    )
    rt.store.append_events([EventRecord(end, "annotation", "demo finished", run_id=run_id)])
    say(f"recorded run {run_id} and its events")
    return run_id


def run_demo(directory: Path, say: Say) -> Runtime:
    """Set up ``directory`` as a workspace and run each demo step against it."""
    config = _workspace(directory, say)
    rt = open_runtime(config, warn=lambda m: say(f"warning: {m}"))
    _journal(rt, say)
    return rt
