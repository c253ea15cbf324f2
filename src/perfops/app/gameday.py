"""`perfops chaos gameday`: several experiments in sequence from one file, one summary table,
and a resilience score weighted by SLO impact.

Each experiment scores 100 when it passed and 0 when it was aborted or interrupted; a
deviation scores the share of its hypothesis checks that held (before, during and after),
times what is left of the error budget after its worst fault (1 - the largest share of an
SLO's period budget one fault spent, floored at 0). The game day's score is the mean weighted
by each experiment's ``weight``, as LitmusChaos weighs faults (0-100).

Before the first experiment, every experiment is checked to be able to run (secrets set,
service and fault targets answering): a day that cannot happen is refused as a whole (exit 2
or 3). An experiment that later cannot start, or whose fault fails to go in or come out, is
``failed`` and scores 0; the day goes on, and fails.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from perfops._internal.ids import new_id
from perfops.app.chaos import (
    ExperimentResult,
    Say,
    check_experiment,
    cross_checks,
    read_spec,
    run_experiment,
)
from perfops.app.runtime import Runtime
from perfops.config.experiment import Experiment, GameDay
from perfops.config.loader import parse_spec
from perfops.errors import ConfigError, Unreachable, UsageError

__all__ = ["GameDayResult", "load_gameday", "run_gameday", "score"]


@dataclass
class GameDayResult:
    title: str
    results: list[tuple[ExperimentResult, float, float]]  # result, weight, score
    score: float


def load_gameday(rt: Runtime, path: Path) -> GameDay:
    spec, locate = parse_spec(GameDay, read_spec(path), str(path))
    problems = [
        locate(("experiments", i, *where), message, hint)
        for i, exp in enumerate(spec.experiments)
        for where, message, hint in cross_checks(rt, exp)
    ]
    if problems:
        raise ConfigError(problems, source=str(path))
    return spec


def score(result: ExperimentResult) -> float:
    """0-100 for one experiment; see the module docstring."""
    if result.status == "passed":
        return 100.0
    if result.status != "deviated":
        return 0.0
    checks = [c for h in (result.before, result.during, result.after) if h for c in h.checks]
    held = sum(1 for c in checks if c.met) / len(checks) if checks else 0.0
    worst = max((v for i in result.impact for v in i.budget_consumed_pct.values()), default=0.0)
    return round(100 * held * max(0.0, 1 - worst / 100), 1)


async def run_gameday(
    rt: Runtime, day: GameDay, *, say: Say, stop: asyncio.Event | None = None
) -> GameDayResult:
    stop = stop or asyncio.Event()
    for exp in day.experiments:  # a day that cannot happen is refused before it starts
        await asyncio.to_thread(check_experiment, rt, exp)
    results: list[tuple[ExperimentResult, float, float]] = []
    for i, exp in enumerate(day.experiments):
        if stop.is_set():
            break
        if i:
            await rt.clock.sleep(day.pause)
        say(f"[{i + 1}/{len(day.experiments)}] {exp.title}")
        result = await _one(rt, exp, say, stop)
        results.append((result, exp.weight, score(result)))
        say(f"  -> {result.status}: {result.reason}")
    total = sum(w for _, w, _ in results)
    overall = sum(w * s for _, w, s in results) / total if total else 0.0
    return GameDayResult(day.title, results, round(overall, 1))


async def _one(rt: Runtime, exp: Experiment, say: Say, stop: asyncio.Event) -> ExperimentResult:
    """One experiment of the day; one that can no longer start (its target went down since
    the day began) is a failed result, not the end of the day."""
    try:
        return await run_experiment(rt, exp, say=say, stop=stop)
    except (Unreachable, UsageError) as exc:
        run_id = new_id(rt.clock.now_ns(), "chaos-")
        return ExperimentResult(run_id, exp.title, "failed", f"could not start: {exc}")
