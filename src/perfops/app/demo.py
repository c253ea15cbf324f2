"""`perfops demo`: the loop on the embedded default, step by step. Each stage adds its step."""

from __future__ import annotations

import platform
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from perfops import __version__
from perfops._internal.ids import new_id
from perfops.app.runtime import Runtime, open_runtime
from perfops.store import EventRecord, RunRecord

if TYPE_CHECKING:
    from perfops.app.demo_respond import Receiver

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


def run_demo(directory: Path, say: Say, receiver: Receiver) -> Runtime:
    """Set up ``directory`` as a workspace and run each demo step against it; ``receiver``
    serves the Alertmanager webhook receiver (the web layer's) for the respond step."""
    config = _workspace(directory, say)
    rt = open_runtime(config, warn=lambda m: say(f"warning: {m}"))
    started = rt.clock.now_ns()
    run_id = new_id(started, "demo-")
    spec = {
        "services": [s.name for s in rt.config.services],
        "version": __version__,
        "python": platform.python_version(),
    }
    rt.store.journal.write_run(RunRecord(run_id, "demo", started, "running", spec=spec))
    rt.store.journal.append_events(
        [EventRecord(started, "annotation", "demo started", run_id=run_id)]
    )
    status, summary = "failed", {}
    try:
        summary = {"sim": _sim_step(rt, directory, say, receiver)}
        status = "passed"
    finally:
        ended = rt.clock.now_ns()
        rt.store.journal.write_run(RunRecord(run_id, "demo", started, status, ended, spec, summary))
        rt.store.journal.append_events(
            [EventRecord(ended, "annotation", f"demo {status}", run_id=run_id)]
        )
        say(f"recorded run {run_id} ({status}) and its events")
    return rt


_SHOWN = (
    "vllm:num_requests_running",
    "vllm:generation_tokens_total",
    "vllm:time_to_first_token_seconds_count",
    "vllm:kv_cache_usage_perc",
    "DCGM_FI_DEV_GPU_UTIL",
    "DCGM_FI_DEV_POWER_USAGE",
    "DCGM_FI_DEV_FB_USED",
)


def _sim_step(rt: Runtime, directory: Path, say: Say, receiver: Receiver) -> dict[str, object]:
    """Start `perfops sim`, talk to it with the official openai client, show its metrics."""
    from perfops.app.demo_report import report_step
    from perfops.app.demo_respond import respond_step
    from perfops.sim.background import SimProcess

    svc = rt.config.service()  # the first; a usage error when there is none
    port = urlsplit(svc.endpoint).port
    dcgm = next(
        (urlsplit(t.url).port for t in rt.config.telemetry.targets if t.kind == "dcgm"), None
    )
    replicas = max(1, len(svc.metrics) or svc.gpu.count)
    with SimProcess(
        gpu=svc.gpu.type, model=svc.model, replicas=replicas, seed=7, port=port, dcgm_port=dcgm
    ) as fleet:
        say(
            f"perfops sim: {fleet.replicas} x {fleet.profile.name} at {fleet.url()} "
            f"(GPU metrics at {fleet.url('dcgm-metrics')})"
        )
        summary = _talk(fleet.url(), svc.model, say)
        say("metrics (replica 0 and the simulated DCGM exporter):")
        for line in _metric_lines(fleet):
            say(f"  {line}")
        summary["collected_samples"] = _collect_step(rt, fleet, svc.name, svc.model, say)
        started_ms = rt.clock.now_ns() // 1_000_000
        load = _load_step(rt, fleet, svc.name, svc.model, say)
        summary["load"] = load
        summary["slo"] = _slo_step(rt, directory, say)
        summary["chaos"] = _chaos_step(rt, directory, say)
        summary["respond"] = respond_step(
            rt, directory, say, receiver, _sim_targets(fleet, svc.name)
        )
    summary["cost"] = _cost_step(rt, started_ms, load, say)
    summary["report"] = report_step(rt, directory, say, started_ms * 1_000_000)
    rt.store.journal.append_events(
        [EventRecord(rt.clock.now_ns(), "annotation", "demo talked to perfops sim", data=summary)]
    )
    return summary


def _collect_step(rt: Runtime, fleet: Any, service: str, model: str, say: Say) -> int:
    """Collect from the sim for a few seconds under load, then show what the lake holds."""
    import asyncio
    import threading

    from perfops.app.collect import run_collect

    targets = _sim_targets(fleet, service)
    load = threading.Thread(target=_background_load, args=(fleet.url(), model, 24), daemon=True)
    load.start()
    say(f"collecting from {len(targets)} targets for 4 s under load ...")
    runner = asyncio.run(run_collect(rt, targets, duration=4.0))
    load.join(30)
    samples = sum(h.samples_total for h in runner.health.values())
    say(f"stored {samples:,} samples; what the lake now says (last values):")
    for line in _lake_table(rt):
        say(f"  {line}")
    return samples


def _sim_targets(fleet: Any, service: str) -> list[Any]:
    """The sim's DCGM exporter and each replica's vLLM metrics, scraped every 0.5 s."""
    from perfops.telemetry.runner import TargetSpec

    labels = {"service": service}
    targets = [TargetSpec("dcgm", fleet.url("dcgm-metrics"), "dcgm", 0.5, 2, labels)]
    targets += [
        TargetSpec(f"{service}-vllm-{i}", fleet.url(f"replica-{i}-metrics"), "vllm", 0.5, 2, labels)
        for i in range(fleet.replicas)
    ]
    return targets


DEMO_SLO = "ttft_p99=300ms,tpot_p99=40ms"


def _load_step(rt: Runtime, fleet: Any, service: str, model: str, say: Say) -> dict[str, object]:
    """A short open-loop rate sweep against the sim, then the capacity at DEMO_SLO."""
    import asyncio

    from perfops.app.load import LoadOptions, WorkloadSource, run_sweep
    from perfops.loadgen.arrivals import ArrivalSpec
    from perfops.loadgen.client import Target
    from perfops.loadgen.slo import parse_slo
    from perfops.loadgen.workload import LengthSpec

    opts = LoadOptions(
        target=Target(fleet.url(), model),
        workload=WorkloadSource(
            LengthSpec(kind="fixed", value=512), LengthSpec(kind="fixed", value=64)
        ),
        arrival=ArrivalSpec(kind="poisson", rate=1.0),
        duration_s=4.0,
        max_requests=100_000,
        slo=tuple(parse_slo(DEMO_SLO)),
        gpus=fleet.replicas * fleet.profile.tensor_parallel,
        seed=1,
        service=service,
        scrape=tuple(_sim_targets(fleet, service)),  # GPU time and tokens for `perfops cost`
    )
    say(
        f"load sweep against the sim (poisson, 512-token prompts, 64-token answers, "
        f"SLO {DEMO_SLO}):"
    )
    steps = asyncio.run(run_sweep(rt, opts, [4.0, 16.0, 48.0]))
    say(
        f"  {'req/s':>6} {'done':>5} {'TTFT p50':>9} {'TTFT p99':>9} {'TPOT p99':>9} "
        f"{'goodput':>8} {'SLO':>4}"
    )
    for rate, result in steps:
        s, lat = result.summary, result.summary.latency_ms
        say(
            f"  {rate:>6g} {s.completed:>5} {lat['ttft']['p50']:>7.0f}ms "
            f"{lat['ttft']['p99']:>7.0f}ms {lat['tpot']['p99']:>7.1f}ms "
            f"{s.goodput_rps or 0:>8.2f} {'met' if s.slo_met else 'no':>4}"
        )
    return {
        "slo": DEMO_SLO,
        "sweep": [_sweep_row(rate, result) for rate, result in steps],
        **_capacity_step(rt, fleet, opts, say),
    }


def _capacity_step(rt: Runtime, fleet: Any, opts: Any, say: Say) -> dict[str, object]:
    """The capacity at DEMO_SLO measured against the sim, beside what the virtual-time driver
    says of the same model, GPU, SLO and fleet; whether the sim kept real time meanwhile."""
    import asyncio
    import math
    from dataclasses import replace

    from perfops.app.capacity import run_capacity
    from perfops.app.cost_plan import simulated_capacity
    from perfops.loadgen.judge import min_samples
    from perfops.loadgen.search import SearchSpec, budget_text

    gpus = opts.gpus
    virtual = simulated_capacity(
        fleet.profile.gpu.name, opts.target.model, opts.slo, prompt_tokens=512,
        output_tokens=64, replicas=fleet.replicas,
    )  # fmt: skip
    expected = (virtual.rps_per_gpu or 1.0) * gpus
    need = max(min_samples(t.quantile) for t in opts.slo)
    duration = float(math.ceil(1.2 * need / (0.8 * expected)))  # a p99 rests on >= need requests
    spec = SearchSpec(expected / 2, 8 * expected, 0.15, 12, 3, seed=opts.seed)
    say(
        f"capacity at SLO {DEMO_SLO}: the virtual-time driver puts this fleet at "
        f"{expected:.1f} req/s; the search starts at half that, {duration:g} s a run so that "
        f"each decisive run holds the {need} requests a p99 needs"
    )
    say(f"  {budget_text(spec, duration)}")
    lag = {"steps": 0.0, "late": 0.0}

    def step(st: Any, result: Any) -> None:
        s = result.summary
        lag["steps"] += result.server.get("loop_steps", 0.0)
        lag["late"] += result.server.get("loop_steps_late", 0.0)
        kinds = dict.fromkeys(why.partition(":")[0] for why in s.invalid)
        flags = "" if s.valid else "; INVALID: " + ", ".join(kinds)
        say(
            f"  {st.phase:<6} {st.rate:6.2f} req/s seed {st.seed}: SLO "
            f"{'met' if s.slo_met else 'missed'} (margin {s.slo_margin or math.inf:.2f}, "
            f"{s.completed} done{flags})"
        )

    found, run_id = asyncio.run(
        run_capacity(rt, replace(opts, duration_s=duration), spec, on_step=step)
    )
    kept = None if not lag["steps"] else lag["late"] / lag["steps"] <= 0.01
    say(f"capacity: {found.text(gpus)} ({gpus} x {fleet.profile.gpu.name})")
    say(f"  verdict: {found.verdict_text()}")
    say(f"  {_real_time_line(kept, lag)}")
    agreement = _agreement(found, virtual, gpus, kept)
    say(f"  {agreement['line']}")
    return {
        "capacity_rps": found.capacity_rps,
        "capacity_interval_rps": [found.low_rps, found.high_rps],
        "capacity_rps_per_gpu": found.per_gpu(gpus),
        "gpus": gpus,
        "valid": found.valid,
        "invalid": found.invalid,
        "reason": found.reason,
        "capacity_run": run_id,
        "run_seconds": duration,
        "sim_kept_real_time": kept,
        "sim_steps": lag["steps"],
        "sim_steps_late": lag["late"],
        "virtual_capacity_rps_per_gpu": virtual.rps_per_gpu,
        "virtual_interval_rps": (virtual.search or {}).get("interval_rps"),
        "virtual_difference": agreement["virtual_difference"],
        "virtual_agrees": agreement["virtual_agrees"],
        "virtual_comparison": agreement["line"],
    }


def _real_time_line(kept: bool | None, lag: dict[str, float]) -> str:
    if kept is None:
        return "the sim's loop lag was not scraped: whether it kept real time is unknown"
    share = lag["late"] / lag["steps"]
    verb = "kept" if kept else "did NOT keep"
    return (
        f"the sim {verb} real time: {share:.1%} of its {lag['steps']:,.0f} engine steps ended "
        "more than 5 ms late (budget 1%)"
    )


_WHY = {
    "client-limited": "the load generator lagged its schedule",
    "too short": "some decisive runs were too short for their p99",
    "repeats disagree": "the repeats disagree",
    "out of runs": "the search ran out of runs",
}


def _agreement(found: Any, virtual: Any, gpus: int, kept: bool | None) -> dict[str, Any]:
    """The measured capacity against the virtual-time driver's, and why they differ."""
    measured, expected = found.per_gpu(gpus), virtual.rps_per_gpu
    if measured is None or not expected:
        return {"virtual_difference": None, "virtual_agrees": None,
                "line": "no measured capacity to compare with the virtual-time driver"}  # fmt: skip
    diff = measured / expected - 1
    within = abs(diff) <= 0.15
    line = (
        f"virtual-time driver, same model, GPU, SLO and fleet: {expected:.2f} req/s per GPU; "
        f"measured {measured:.2f} is {abs(diff):.0%} {'below' if diff < 0 else 'above'}"
    )
    if within:
        return {"virtual_difference": diff, "virtual_agrees": True,
                "line": line + " (within 15%)"}  # fmt: skip
    why = []
    if kept is False:
        why.append("the sim fell behind real time, so this machine's CPU, not the model, set "
                   "part of the latencies")  # fmt: skip
    why += dict.fromkeys(v for r in found.invalid for k, v in _WHY.items() if r.startswith(k))
    lo, hi = found.low_rps, found.high_rps
    if lo is not None and hi is not None and lo <= expected * gpus <= hi:
        why.append("the virtual figure lies inside the measured interval: repeat noise")
    if not why:
        why.append("no lag was flagged: the HTTP path of a busy machine (client and sim "
                   "sharing cores) adds latency the virtual driver does not model")  # fmt: skip
    return {"virtual_difference": diff, "virtual_agrees": False,
            "line": line + ", beyond 15%, because " + "; ".join(why)}  # fmt: skip


def _sweep_row(rate: float, result: Any) -> dict[str, object]:
    """One step of the sweep as the demo shows it (the run itself is journaled in full)."""
    s, lat = result.summary, result.summary.latency_ms
    return {
        "rate": rate,
        "run_id": result.run_id,
        "completed": s.completed,
        "ttft_p50_ms": _finite(lat["ttft"]["p50"]),
        "ttft_p99_ms": _finite(lat["ttft"]["p99"]),
        "tpot_p99_ms": _finite(lat["tpot"]["p99"]),
        "goodput_rps": s.goodput_rps,
        "slo_met": s.slo_met,
    }


def _finite(value: float) -> float | None:
    import math

    return None if math.isnan(value) else value


def _cost_step(rt: Runtime, start_ms: int, load: dict[str, Any], say: Say) -> dict[str, object]:
    """What the sweep's tokens cost, and H100 vs H200 at the measured capacity."""
    from perfops.app.cost import cost_report
    from perfops.app.cost_plan import scenario
    from perfops.loadgen.slo import parse_slo

    report = cost_report(rt, start_ms, rt.clock.now_ns() // 1_000_000 + 1)
    cur = report.currency
    say(f"cost of the sweep ({report.basis} basis, {cur}; `perfops cost report`):")
    say(f"  {'service':<10} {'GPU-h':>7} {'cost':>8} {'tokens':>9} {'$/1M tok':>9} "
        f"{'$/1M SLO tok':>13} {'SLO waste':>10}")  # fmt: skip
    rows: dict[str, object] = {}
    out: dict[str, object] = {"paid": str(report.paid), "currency": cur, "basis": report.basis,
                              "rows": rows, "scenario": None}  # fmt: skip
    for r in report.rows:
        u = r.unit
        say(
            f"  {r.group:<10} {r.gpu_hours:>7.4f} {r.total:>8.4f} "
            f"{r.work.input_tokens + r.work.output_tokens:>9,} {_money(u.per_1m_tokens):>9} "
            f"{_money(u.per_1m_slo_tokens):>13} {_money(u.slo_waste):>10}"
        )
        rows[r.group] = {
            "gpu_hours": r.gpu_hours,
            "total": str(r.total),
            "tokens": r.work.input_tokens + r.work.output_tokens,
            "slo_tokens": r.work.slo_tokens,
            "per_1m_tokens": _exact(u.per_1m_tokens),
            "per_1m_slo_tokens": _exact(u.per_1m_slo_tokens),
            "slo_waste": _exact(u.slo_waste),
        }
    capacity = load.get("capacity_rps")
    if not capacity:
        return out
    svc = rt.config.service()  # the first; a usage error when there is none
    plan, caps = scenario(
        rt, [("H100-SXM", {"on_demand": 1.0}), ("H200", {"on_demand": 1.0})],
        model=svc.model, slo=parse_slo(DEMO_SLO), traffic_rps=float(str(capacity)),
        growth=0.0, months=1, utilisation=0.7, prompt_tokens=512, output_tokens=64,
    )  # fmt: skip
    say(f"scenario: {capacity:.1f} req/s at SLO {DEMO_SLO}, 70% utilisation "
        "(`perfops cost scenario`):")  # fmt: skip
    by_gpu = {c.gpu: c for c in caps}
    out["scenario"] = _scenario_summary(plan, by_gpu, float(str(capacity)))
    for p in plan.plans:
        cap = by_gpu[p.candidate.gpu_type]
        per_gpu = "fails SLO" if cap.rps_per_gpu is None else f"{cap.rps_per_gpu:.1f} req/s/GPU"
        say(
            f"  {p.candidate.name:<9} {per_gpu:>16} ({cap.source}) {p.peak_gpus:>3} GPUs "
            f"{p.total_cost:>10,.2f} {cur}/month {_money(p.cost_per_1m_tokens):>8} "
            f"$/1M output tokens{'  <- cheapest' if plan.cheapest is p else ''}"
        )
    return out


def _scenario_summary(plan: Any, by_gpu: dict[str, Any], traffic: float) -> dict[str, object]:
    """What the scenario lines show, money exact (as strings)."""
    rows = []
    for p in plan.plans:
        cap = by_gpu[p.candidate.gpu_type]
        rows.append(
            {
                "candidate": p.candidate.name,
                "gpu": p.candidate.gpu_type,
                "rps_per_gpu": cap.rps_per_gpu,
                "source": cap.source,
                "meets_slo": p.candidate.meets_slo,
                "peak_gpus": p.peak_gpus,
                "monthly_cost": str(p.total_cost),
                "per_1m_output_tokens": _exact(p.cost_per_1m_tokens),
            }
        )
    cheapest = None if plan.cheapest is None else plan.cheapest.candidate.name
    return {"traffic_rps": traffic, "utilisation": 0.7, "months": 1, "plans": rows,
            "cheapest": cheapest}  # fmt: skip


_EXPERIMENT = """apiVersion: perfops/v1
kind: Experiment
title: one replica's GPU throttled under load
description: >-
  The GPU of replica 0 drops to 30% of its clocks (a thermal or power throttle) for 4 s while
  the service takes 8 req/s. Does chat-ttft hold?
hypothesis:
  slos: [{slo: chat-ttft, max_burn_rate: 2}]
  max_error_ratio: 0.01
  baseline: 3s
  recovery: 3s
load: {service: chat, rate: 8, duration: 6s, prompt_tokens: 512, max_tokens: 64}
method:
  - {name: throttle-replica-0, kind: sim.throttle, params: {clock_factor: 0.3, replica: 0},
     start: 1s, duration: 4s}
stop:
  - {kind: burn_rate, slo: chat-ttft, above: 14.4, window: 3s}
"""


def _chaos_step(rt: Runtime, directory: Path, say: Say) -> dict[str, object]:
    """One short SLO-guarded experiment: a GPU throttle on one replica under load."""
    import asyncio

    from perfops.app.chaos import load_experiment, run_experiment

    path = directory / "experiments" / "gpu-throttle.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(_EXPERIMENT)
    say(f"chaos experiment {path.name} (`perfops chaos run experiments/{path.name}`):")
    result = asyncio.run(run_experiment(rt, load_experiment(rt, path), say=lambda m: say(f"  {m}")))
    say(f"  verdict: {result.status} ({result.reason})")
    for imp in result.impact:
        budget = ", ".join(
            f"{k}: {v:.4f}% of its budget" for k, v in imp.budget_consumed_pct.items()
        )
        say(
            f"  fault window {imp.fault}: {(imp.end_ns - imp.start_ns) / 1e9:.1f}s, "
            f"{imp.requests} requests, {sum(imp.bad.values())} bad; {budget}; "
            f"{imp.goodput_lost:.0f} good requests lost"
        )
    return {
        "status": result.status,
        "reason": result.reason,
        "run_id": result.run_id,
        "faults": [
            {
                "fault": imp.fault,
                "requests": imp.requests,
                "bad": sum(imp.bad.values()),
                "goodput_lost": imp.goodput_lost,
            }
            for imp in result.impact
        ],
    }


def _money(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _exact(value: Any) -> str | None:
    """Money for the journal: the exact Decimal as a string, None when there is none."""
    return None if value is None else str(value)


def _slo_step(rt: Runtime, directory: Path, say: Say) -> dict[str, object]:
    """The SLOs of perfops.yaml after the sweep, and the files to deploy them."""
    import math

    from perfops.app.slo import slo_statuses
    from perfops.slo.alertmanager import render_alertmanager_yaml
    from perfops.slo.grafana import render_dashboard_json
    from perfops.slo.rule_tests import generate_rule_tests
    from perfops.slo.rules import model_selector, render_rules_yaml

    say(f"  {'SLO':<20} {'SLI':>9} {'objective':>9} {'budget left':>12} {'burn 1h':>8} alerts")
    out: dict[str, object] = {}
    for st in slo_statuses(rt, rt.config.slos):
        sli = "-" if st.sli_pct is None else f"{st.sli_pct:.2f}%"
        left = "-" if st.budget is None or not st.total else f"{st.budget.remaining_pct:.1f}%"
        burn = st.burn_rates.get("1h", math.nan)
        say(
            f"  {st.name:<20} {sli:>9} {st.objective_pct:>8g}% {left:>12} "
            f"{'-' if math.isnan(burn) else f'{burn:.2f}x':>8} "
            f"{', '.join(st.firing) or st.note or 'ok'}"
        )
        out[st.name] = {"sli_pct": st.sli_pct, "events": st.total, "firing": st.firing}
    gen = directory / "generated"
    gen.mkdir(exist_ok=True)
    options: dict[str, Any] = {"selector": model_selector(rt.config.services)}
    (gen / "rules.yml").write_text(render_rules_yaml(rt.config.slos, **options))
    (gen / "rules_test.yml").write_text(generate_rule_tests(rt.config.slos, **options))
    (gen / "alertmanager.yml").write_text(render_alertmanager_yaml(rt.config.escalation))
    for svc in rt.config.services:
        (gen / f"grafana-{svc.name}.json").write_text(render_dashboard_json(svc, rt.config.slos))
    say(
        f"wrote {gen}/rules.yml, rules_test.yml (promtool), alertmanager.yml (amtool) and "
        "grafana-*.json"
    )
    return out


def _background_load(url: str, model: str, n: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import openai

    client = openai.OpenAI(base_url=url, api_key="sim", max_retries=0)

    def one(i: int) -> None:
        client.completions.create(model=model, prompt=f"{i} " + "context " * 400, max_tokens=160)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(n)))


_LAKE_METRICS = (
    "gpu.util",
    "gpu.power_watts",
    "gpu.fb_used_bytes",
    "gpu.temp_celsius",
    "gpu.energy_joules_total",
    "llm.requests_running",
    "llm.kv_cache_usage",
    "llm.generation_tokens_total",
)


def _lake_table(rt: Runtime) -> list[str]:
    from perfops.app.metrics import show_metric

    end = rt.clock.now_ns() // 1_000_000 + 1
    lines = [f"{'metric':<28} {'series':<34} {'last':>14} {'max':>14}"]
    for metric in _LAKE_METRICS:
        for view in show_metric(rt, metric, end - 600_000, end):
            key = ",".join(
                f"{k}={v}" for k, v in sorted(view.labels.items()) if k in ("gpu", "job")
            )
            last, top = _fmt(view.last), _fmt(view.max)
            lines.append(f"{metric:<28} {key:<34} {last:>14} {top:>14}")
    return lines


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _talk(url: str, model: str, say: Say) -> dict[str, object]:
    import time

    try:
        import openai
    except ImportError:  # pragma: no cover - the demo extra is installed by `make`
        say("the openai client is not installed (pip install 'perfops[demo]'); skipping")
        return {}
    client = openai.OpenAI(base_url=url, api_key="sim")
    reply = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "What is an error budget?"}],
        max_tokens=24,
    )
    usage = reply.usage
    say(
        f"chat: {usage.prompt_tokens if usage else '?'} prompt tokens -> "
        f"{reply.choices[0].message.content!r}"
    )
    ttfts = []
    for i in range(3):
        start = time.perf_counter()
        first = None
        for chunk in client.completions.create(
            model=model, prompt=f"Request {i}: " + "tok " * 300, max_tokens=32, stream=True
        ):
            if first is None and chunk.choices and chunk.choices[0].text:
                first = time.perf_counter() - start
        ttfts.append(first or 0.0)
        say(
            f"stream {i}: TTFT {1000 * (first or 0):.0f} ms, 32 tokens in "
            f"{1000 * (time.perf_counter() - start):.0f} ms"
        )
    return {"requests": 4, "ttft_ms": [round(t * 1000, 1) for t in ttfts]}


def _metric_lines(fleet: Any) -> list[str]:
    import urllib.request

    lines = []
    for name in ("replica-0-metrics", "dcgm-metrics"):
        with urllib.request.urlopen(fleet.url(name), timeout=10) as resp:
            text = resp.read().decode()
        lines += [ln for ln in text.splitlines() if ln.startswith(_SHOWN)]
    return [ln if len(ln) < 140 else ln[:60] + " ... " + ln.rsplit(" ", 1)[-1] for ln in lines]
