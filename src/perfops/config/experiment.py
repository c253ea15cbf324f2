"""The chaos experiment spec (``apiVersion: perfops/v1``, ``kind: Experiment``) and game days.

An experiment states its steady-state hypothesis as SLOs of perfops.yaml (burn rate below N
over the experiment window), plus goodput and error-ratio floors and optional probes; runs a
`perfops load` workload; injects faults at offsets for a duration; stops early on page-level
burn or a budget floor (like AWS FIS stop conditions); and always rolls back.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PositiveFloat

from perfops._internal.durations import parse_duration
from perfops.config.models import Spec

__all__ = [
    "BudgetStop",
    "BurnStop",
    "Deploy",
    "Drill",
    "ErrorStop",
    "Experiment",
    "FaultStep",
    "GameDay",
    "HttpProbe",
    "Hypothesis",
    "HypothesisSLO",
    "LakeProbe",
    "LoadPlan",
    "PromqlProbe",
    "RollbackAction",
]

MAX_EXPERIMENT_S = 3600.0  # the longest phase, window, fault or pause: chaos is bounded in time
MAX_RATE = 10_000.0  # requests per second of an experiment's load
MAX_TOKENS = 1_000_000  # per prompt, per answer


def _within(low: float, high: float, *, low_ok: bool, what: str, unit: str = "") -> AfterValidator:
    def check(value: float) -> float:
        above = value >= low if low_ok else value > low
        if not (above and value <= high):  # NaN fails too
            floor = "at least" if low_ok else "above"
            raise ValueError(f"{what} must be {floor} {_num(low)} and at most {_num(high)}{unit}")
        return value

    return AfterValidator(check)


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


Span = Annotated[
    float,
    BeforeValidator(parse_duration),
    _within(0, MAX_EXPERIMENT_S, low_ok=False, what="a span of time", unit=" s (an hour)"),
]
"""A phase, window, fault or pause: above 0 and at most an hour."""
Offset = Annotated[
    float,
    BeforeValidator(parse_duration),
    _within(0, MAX_EXPERIMENT_S, low_ok=True, what="an offset", unit=" s (an hour)"),
]
"""An offset within a window, or a rest: 0 to an hour."""
Tokens = Annotated[int, _within(1, MAX_TOKENS, low_ok=True, what="a token count")]
_Rate = _within(0, MAX_RATE, low_ok=False, what="the rate", unit=" req/s")
_ProbeTimeout = _within(0, 60, low_ok=False, what="a probe's timeout", unit=" s")

EnvName = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
        description="the name of an environment variable, e.g. SIM_TOKEN (never the value)",
    ),
]


class HypothesisSLO(Spec):
    slo: str = Field(description="an SLO of perfops.yaml, evaluated on the experiment's requests")
    max_burn_rate: PositiveFloat = Field(
        default=1.0, description="the SLO holds while its burn rate stays at or below this"
    )


class HttpProbe(Spec):
    kind: Literal["http"]
    name: str | None = None
    url: str
    method: Literal["GET", "POST", "HEAD"] = "GET"
    expect_status: tuple[int, ...] = (200,)
    timeout: Annotated[Span, _ProbeTimeout] = 5.0


class PromqlProbe(Spec):
    kind: Literal["promql"]
    name: str | None = None
    url: str = Field(description="Prometheus-compatible base URL, e.g. http://127.0.0.1:9090")
    query: str
    min: float | None = None
    max: float | None = None


class LakeProbe(Spec):
    kind: Literal["lake"]
    name: str | None = None
    sql: str = Field(description="one DuckDB SELECT over the lake returning one number")
    min: float | None = None
    max: float | None = None


Probe = Annotated[HttpProbe | PromqlProbe | LakeProbe, Field(discriminator="kind")]


class Hypothesis(Spec):
    """The steady state: checked before the faults, during them and after they are reverted."""

    slos: tuple[HypothesisSLO, ...] = ()
    min_goodput: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=None,
        description="share of requests meeting every load.slo threshold (without load.slo: "
        "every SLO the experiment watches)",
    )
    max_error_ratio: Annotated[float, Field(ge=0, le=1)] | None = None
    probes: tuple[Probe, ...] = ()
    baseline: Span = Field(default=5.0, description="load before the faults, to check it")
    recovery: Span = Field(default=5.0, description="load after the rollback, to check it")


class LoadPlan(Spec):
    """The open-loop `perfops load` workload that runs through the experiment."""

    service: str
    rate: Annotated[float, _Rate] = Field(description="requests per second (Poisson)")
    duration: Span = Field(description="the experiment window, in which the faults land")
    prompt_tokens: Tokens = 256
    max_tokens: Tokens = 64
    slo: str | None = Field(
        default=None, description="per-request thresholds for goodput, e.g. ttft_p99=500ms"
    )
    seed: int = 0


class FaultStep(Spec):
    name: str | None = Field(default=None, description="shown in the report (default KIND#N)")
    kind: str = Field(description="sim.throttle, sim.error, proxy.latency, process.stop, ...")
    target: str | None = Field(default=None, description="a service (default: load.service)")
    params: dict[str, Any] = Field(default_factory=dict, description="the fault kind's own")
    start: Offset = Field(default=0.0, description="offset from the start of the window")
    duration: Span = Field(description="how long the fault stays in")
    token_env: EnvName | None = Field(
        default=None,
        description="the variable holding the bearer token of the API the fault talks to "
        "(sim.*: the simulator's --token, default the target's api_key_env; proxy.*: the "
        "proxy's --token)",
    )


class BurnStop(Spec):
    kind: Literal["burn_rate"]
    slo: str
    above: PositiveFloat = Field(default=14.4, description="the page-level burn rate")
    window: Span = Field(default=10.0, description="the rolling window it is measured over")


class BudgetStop(Spec):
    kind: Literal["budget_remaining"]
    slo: str
    below_pct: Annotated[float, Field(ge=-1000, le=100)]


class ErrorStop(Spec):
    kind: Literal["error_ratio"]
    above: Annotated[float, Field(gt=0, le=1)]
    window: Span = 10.0


StopCondition = Annotated[BurnStop | BudgetStop | ErrorStop, Field(discriminator="kind")]


class RollbackAction(Spec):
    """An extra action after the faults are reverted (the faults always are)."""

    kind: Literal["http"]
    url: str
    method: Literal["POST", "PUT", "DELETE", "GET"] = "POST"
    body: dict[str, Any] | None = None


class Experiment(Spec):
    apiVersion: Literal["perfops/v1"] = "perfops/v1"  # noqa: N815 (the spec's field name)
    kind: Literal["Experiment"] = "Experiment"
    title: str
    description: str = ""
    tags: tuple[str, ...] = ()
    hypothesis: Hypothesis
    load: LoadPlan
    method: tuple[FaultStep, ...] = ()
    stop: tuple[StopCondition, ...] = ()
    rollbacks: tuple[RollbackAction, ...] = ()
    weight: Annotated[float, Field(gt=0, le=10)] = Field(
        default=1.0, description="its weight in a game day's resilience score"
    )


class GameDay(Spec):
    """Several experiments in sequence, one summary and a resilience score."""

    apiVersion: Literal["perfops/v1"] = "perfops/v1"  # noqa: N815
    kind: Literal["GameDay"] = "GameDay"
    title: str
    experiments: tuple[Experiment, ...] = Field(min_length=1, max_length=100)
    pause: Offset = Field(default=2.0, description="rest between experiments")


def window_of(step: FaultStep) -> tuple[float, float]:
    return step.start, step.start + step.duration


class Deploy(Spec):
    """How the candidate goes out: a change the fault plugins can apply and undo (for the sim,
    a slower build is ``sim.ttft_latency`` or ``sim.token_latency``; a local engine can be
    restarted with other flags by ``process.kill`` with ``restart``)."""

    kind: str = Field(description="a fault kind, as in an experiment's method")
    params: dict[str, Any] = Field(default_factory=dict, description="the fault kind's own")
    target: str | None = Field(default=None, description="a service (default: load.service)")
    token_env: EnvName | None = Field(default=None, description="as in an experiment's fault step")


class Drill(Spec):
    """A rollback drill: deploy a candidate under load, detect the SLO regression from burn
    rates, roll back automatically, and measure detection, restoration and budget spent."""

    apiVersion: Literal["perfops/v1"] = "perfops/v1"  # noqa: N815
    kind: Literal["Drill"] = "Drill"
    title: str
    slo: str = Field(description="the SLO whose burn rate detects the regression")
    load: LoadPlan
    deploy: Deploy
    deploy_after: Offset = Field(default=3.0, description="load before the candidate goes out")
    burn_threshold: PositiveFloat = Field(default=14.4, description="page-level burn rate")
    window: Span = Field(default=3.0, description="rolling window of the burn rate")
    restored_below: PositiveFloat = Field(
        default=1.0, description="restored once the rolling burn rate is back at or below this"
    )
