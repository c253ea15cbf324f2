"""The pydantic models of perfops.yaml (``apiVersion: perfops/v1``).

Every model is frozen and forbids unknown fields: ``load_config`` validates the file once at
the edge and the cores receive these objects, never raw dicts. Durations accept Prometheus
forms ("500ms", "15s", "28d") and are held as float seconds.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ByteSize,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from perfops._internal.durations import parse_duration
from perfops.config._bounds import (
    MAX_BODY_BYTES,
    MAX_GPUS,
    MAX_SAMPLES,
    MAX_SCRAPE_INTERVAL_S,
    MAX_SLO_WINDOW_S,
    MIN_SCRAPE_INTERVAL_S,
    SCRAPE_BODY_BYTES,
    SCRAPE_SAMPLES,
    within,
)
from perfops.config.escalation import (
    Cadence,
    NightHours,
    RoleMap,
    Schedule,
    SeverityRule,
    Step,
    default_matrix,
)
from perfops.config.reviews import Reviews
from perfops.config.selector import Matcher, Selector, parse_selector
from perfops.errors import UsageError

__all__ = [
    "API_VERSION",
    "SLI",
    "SLO",
    "AvailabilitySLI",
    "Config",
    "Duration",
    "EnvName",
    "Escalation",
    "GoodputSLI",
    "GpuAllocation",
    "GpuHealthSLI",
    "GpuPrice",
    "LatencySLI",
    "Pricing",
    "RatioSLI",
    "Receiver",
    "Route",
    "Service",
    "SharedCost",
    "Spec",
    "Target",
    "Telemetry",
    "Workspace",
]

API_VERSION = "perfops/v1"

Duration = Annotated[float, BeforeValidator(parse_duration)]
_NAME = re.compile(r"^[a-z0-9]([a-z0-9_.-]{0,62}[a-z0-9])?$")


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use 1-64 lower-case letters, digits, '-', '_' or "
            "'.', starting and ending with a letter or digit"
        )
    return value


def _check_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"{value!r} is not an http(s) URL, e.g. http://127.0.0.1:8000/v1")
    try:
        parts = urlsplit(value)
        port = parts.port  # ValueError when out of range or not a number
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"{value!r} has no valid port: a port is a number from 1 to 65535")
    if not parts.hostname:
        raise ValueError(f"{value!r} names no host, e.g. http://127.0.0.1:8000/v1")
    return value.rstrip("/")


def _check_selector(value: object) -> object:
    if isinstance(value, str):
        return str(parse_selector(value))  # ValueError says what is malformed
    return value


SelectorText = Annotated[
    str,
    BeforeValidator(_check_selector),
    Field(description='PromQL label matchers, e.g. {model_name="llama-3.1-8b", job=~"vllm.*"}'),
]


def _check_path(value: object) -> object:
    if isinstance(value, str) and "\0" in value:
        raise ValueError("a path cannot hold a NUL character")
    return value


Name = Annotated[str, BeforeValidator(lambda v: _check_name(v) if isinstance(v, str) else v)]
Url = Annotated[str, BeforeValidator(lambda v: _check_url(v) if isinstance(v, str) else v)]
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def _check_env_name(value: object) -> object:
    if isinstance(value, str) and not _ENV_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not the name of an environment variable: letters, digits and _, "
            "not starting with a digit (the name, never the secret itself)"
        )
    return value


EnvName = Annotated[
    str,
    BeforeValidator(_check_env_name),
    Field(description="the name of an environment variable, e.g. VLLM_API_KEY (never the value)"),
]
FilePath = Annotated[Path, BeforeValidator(_check_path)]

_HOUR_S = 3600.0
Interval = Annotated[
    Duration,
    within(
        MIN_SCRAPE_INTERVAL_S,
        MAX_SCRAPE_INTERVAL_S,
        what="a scrape interval",
        unit=" s",
        why="faster floods the lake and the target; slower leaves hours without a sample",
    ),
]
Timeout = Annotated[
    Duration,
    within(0, _HOUR_S, what="a timeout", unit=" s", low_open=True, why="0 fails every scrape"),
]
BodyBytes = Annotated[
    ByteSize,
    within(
        1024,
        MAX_BODY_BYTES,
        what="max_body_bytes",
        unit=" bytes",
        why="parsing takes about 30 times the body in memory; 256 MiB at most",
    ),
]
SampleCount = Annotated[
    int,
    within(1, MAX_SAMPLES, what="max_samples", why="each sample takes ~500 bytes while parsed"),
]
Latency = Annotated[
    Duration,
    within(
        0, _HOUR_S, what="a latency threshold", unit=" s", low_open=True,
        why="0 s is met by no request",
    ),
]  # fmt: skip
Money = Annotated[float, within(0, 1e12, what="an amount", why="larger is a typo")]
Price = Annotated[float, within(0, 1e6, what="a price", why="larger is a typo, in any currency")]


class Spec(BaseModel):
    """Base of every perfops spec model: frozen, unknown fields rejected, no NaN or infinity."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False
    )


class Workspace(Spec):
    name: str = "default"
    lake: FilePath = Path(".perfops/lake")
    """Where the Delta Lake tables live; relative paths are relative to perfops.yaml."""
    runbook_url: Url | None = Field(
        default=None,
        description="base URL of the runbooks the alerts link to (<base>/<AlertName>); "
        "default: the runbooks `perfops dashboard` serves, http://127.0.0.1:8080/runbooks",
    )


class GpuAllocation(Spec):
    type: str = Field(min_length=1, description="GPU profile, e.g. H100-SXM, H200, A100-80GB, L40S")
    count: Annotated[
        int,
        within(
            1, MAX_GPUS, what="a service's GPU count",
            why="per service; a bigger fleet is several services",
        ),
    ] = 1  # fmt: skip


class Service(Spec):
    name: Name
    endpoint: Url = Field(description="OpenAI-compatible base URL, e.g. http://host:8000/v1")
    model: str
    team: Name = "default"
    tenant: str | None = None
    engine: Literal["vllm", "tgi", "triton", "nim", "openai"] = "vllm"
    gpu: GpuAllocation
    metrics: tuple[Url, ...] = ()
    api_key_env: EnvName | None = Field(
        default=None, description="name of the environment variable holding the API key"
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="labels that join GPU series to this service (hostname, pod, model_name)",
    )
    selector: SelectorText | None = Field(
        default=None,
        description="how the engine's series are found, in Prometheus and in the lake "
        '(default: {model_name="<labels.model_name or model>"})',
    )
    gpu_selector: SelectorText | None = Field(
        default=None,
        description="how the service's GPU series are found (default: its labels, else the "
        "instance of each telemetry target naming this service)",
    )

    @property
    def series_selector(self) -> Selector:
        """The engine series of this service: ``selector``, else vLLM's ``model_name``
        label equal to the served model (``labels.model_name`` when set, else ``model``)."""
        if self.selector is not None:
            return parse_selector(self.selector)
        return Selector.equal({"model_name": self.labels.get("model_name", self.model)})


class Target(Spec):
    name: Name
    kind: Literal["dcgm", "vllm", "tgi", "triton", "nim", "node", "prometheus", "nvml"]
    url: str = Field(default="nvml://local", description="the /metrics URL (nvml: none)")
    service: str | None = None
    interval: Interval | None = Field(default=None, description="default: telemetry.interval")
    timeout: Timeout | None = Field(
        default=None, description="below the interval; default: telemetry.timeout"
    )
    max_body_bytes: BodyBytes | None = Field(
        default=None, description="largest answer read, e.g. 10MiB; default: telemetry's"
    )
    max_samples: SampleCount | None = Field(
        default=None, description="most samples in one answer; default: telemetry's"
    )
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("kind") == "nvml" and value.startswith("nvml:"):
            return value
        return _check_url(value)


class Telemetry(Spec):
    interval: Interval = 15.0
    timeout: Timeout = Field(
        default=5.0, description="below the interval (an interval shorter than it caps it)"
    )
    jitter: float = Field(default=0.1, ge=0.0, le=1.0)
    concurrency: Annotated[
        int, within(1, 1000, what="concurrency", why="scrapes at once, each an open connection")
    ] = 16
    max_body_bytes: BodyBytes = Field(
        default=ByteSize(SCRAPE_BODY_BYTES),
        description="largest scrape answer read (streamed; the scrape fails beyond it)",
    )
    max_samples: SampleCount = Field(
        default=SCRAPE_SAMPLES, description="most samples one scrape may hold"
    )
    targets: tuple[Target, ...] = ()


class LatencySLI(Spec):
    kind: Literal["latency"]
    metric: Literal["ttft", "itl", "tpot", "e2e"]
    threshold: Latency
    source: Literal["requests", "histogram"] = Field(
        default="histogram",
        description="histogram: the engine's own (what Prometheus and the rules read); requests: "
        "perfops' load-test records, exact but only while a load test runs",
    )


class RatioSLI(Spec):
    kind: Literal["ratio"]
    total: str = Field(description="PromQL selector or expression counting all events")
    good: str | None = None
    bad: str | None = None


class AvailabilitySLI(Spec):
    kind: Literal["availability"]


class GoodputSLI(Spec):
    kind: Literal["goodput"]
    thresholds: dict[Literal["ttft", "itl", "tpot", "e2e"], Latency]


class GpuHealthSLI(Spec):
    kind: Literal["gpu_health"]


SLI = Annotated[
    LatencySLI | RatioSLI | AvailabilitySLI | GoodputSLI | GpuHealthSLI,
    Field(discriminator="kind"),
]


class SLO(Spec):
    name: Name
    service: str
    description: str = ""
    sli: SLI
    objective: float = Field(description="percent of good events, e.g. 99.5 (or 0.995)")
    window: Duration | Literal["week", "month"] = 28 * 86400.0
    alerting: Literal["google-30d", "pyrra"] = Field(
        default="google-30d", description="burn-rate window set (src/perfops/slo/windows)"
    )

    @field_validator("objective")
    @classmethod
    def _objective(cls, value: float) -> float:
        """A percentage (99.9) or, as OpenSLO writes it, a ratio (0.999)."""
        if 0 < value < 1:
            return value * 100
        if 50 <= value < 100:
            return value
        raise ValueError(
            f"objective {value:g} is neither a percentage in [50, 100) nor a ratio in (0, 1); "
            "write 99.9 (or 0.999) for 99.9% good events"
        )

    @field_validator("window")
    @classmethod
    def _window(cls, value: float | str) -> float | str:
        # The longest alert window is 3 d (google-30d ticket) or 4 d (pyrra); a shorter SLO
        # period leaves the slow-burn alerts nothing to measure.
        if isinstance(value, float) and value < 7 * 86400:
            raise ValueError(
                f"a window of {value / 86400:g} d is shorter than the burn-rate alert windows "
                "need; use at least 7d (28d or 30d are usual)"
            )
        if isinstance(value, float) and value > MAX_SLO_WINDOW_S:
            raise ValueError(
                f"a window of {value / 86400:g} d is longer than a year; use at most 366d "
                "(28d, 30d or 90d are usual)"
            )
        return value


Purchase = Literal["on_demand", "committed", "spot"]


class GpuPrice(Spec):
    """A GPU price that wins over the bundled catalog (``perfops.finops.prices.yaml``)."""

    gpu: str
    hourly: Price = Field(description="price per GPU-hour in pricing.currency")
    provider: str | None = Field(default=None, description="applies to this provider only")
    region: str | None = Field(default=None, description="applies to this region only")
    purchase: Purchase = "on_demand"
    host: Literal["included", "excluded"] = Field(
        default="included",
        description="excluded: the price is the bare GPU; the catalog's host overheads "
        "(CPU, RAM per GPU-hour) are added",
    )


class SharedCost(Spec):
    """A cost outside the GPUs (control plane, storage, observability), shared by ``split``."""

    name: str
    monthly: Money | None = Field(default=None, description="per month (730 h)")
    hourly: Money | None = Field(default=None, description="per hour")
    split: Literal["weighted", "even", "none"] = Field(
        default="weighted",
        description="weighted: by each line's GPU cost; even: equal per line; none: shown apart",
    )
    services: tuple[str, ...] = Field(
        default=(), description="only these services share it (default: every service)"
    )

    @model_validator(mode="after")
    def _one_amount(self) -> SharedCost:
        if (self.monthly is None) == (self.hourly is None):
            raise ValueError(
                f"shared cost {self.name!r} needs exactly one of monthly: or hourly: "
                "(e.g. monthly: 1200 or hourly: 1.65)"
            )
        return self


class Pricing(Spec):
    currency: str = "USD"
    catalog: Annotated[str, BeforeValidator(_check_path)] | None = Field(
        default=None, description="a price catalog file replacing the bundled one"
    )
    provider: str | None = Field(
        default=None, description="default provider for catalog prices (aws, gcp, azure, ...)"
    )
    region: str | None = None
    purchase: Purchase = "on_demand"
    gpus: tuple[GpuPrice, ...] = ()
    energy_per_kwh: Price | None = Field(default=None, description="price per kWh")
    shared: tuple[SharedCost, ...] = ()
    basis: Literal["allocation", "usage"] = Field(
        default="allocation",
        description="allocation: a service pays for the GPU-hours it holds; usage: for the "
        "share it keeps busy (DCGM activity), the rest is idle",
    )
    idle: Literal["separate", "weighted", "even"] = Field(
        default="separate",
        description="separate: idle cost shown apart as __idle__; weighted/even: shared out",
    )

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError(f"{value!r} is not an ISO 4217 code such as USD, EUR, GBP")
        return value


class Receiver(Spec):
    name: Name
    kind: Literal["pagerduty", "slack", "email", "webhook"]
    target: str | None = None
    target_env: EnvName | None = Field(
        default=None, description="environment variable holding the secret key or URL"
    )


class Route(Spec):
    severity: Literal["page", "ticket", "info"]
    receivers: tuple[str, ...]
    group_wait: Duration = 30.0
    group_interval: Duration = 300.0
    repeat_interval: Duration = 4 * 3600.0


class Escalation(Spec):
    group_by: tuple[str, ...] = ("alertname", "slo", "service")
    receivers: tuple[Receiver, ...] = ()
    routes: tuple[Route, ...] = ()
    severity_matrix: tuple[SeverityRule, ...] = Field(
        default_factory=default_matrix,
        description="rows in order, first match wins: SEV-1..SEV-5 from tier, impact, duration",
    )
    roles: RoleMap = Field(
        default_factory=dict, description="incident roles to a schedule or a person"
    )
    schedules: tuple[Schedule, ...] = ()
    steps: tuple[Step, ...] = Field(
        default=(), description="who is paged, and when, for an alert of a paging tier"
    )
    paging: tuple[str, ...] = Field(
        default=("page",), description="the alert severities (tiers) that run the steps"
    )
    repeat: Annotated[int, within(0, 100, what="repeat", why="times the steps run again")] = 0
    repeat_every: Duration = Field(
        default=1800.0, description="the steps run again this long after the last round began"
    )
    updates: Cadence = Cadence()
    night: NightHours = NightHours()

    @model_validator(mode="after")
    def _rounds(self) -> Escalation:
        afters = [step.after for step in self.steps]
        if afters != sorted(afters):
            raise ValueError("escalation steps must come in the order of their after: delays")
        if self.repeat and afters and self.repeat_every <= afters[-1]:
            raise ValueError(
                f"repeat_every ({self.repeat_every:g} s) must be longer than the last step's "
                f"after ({afters[-1]:g} s): a round would start before the last one ended"
            )
        return self


class Runbooks(Spec):
    """Where `perfops runbook` writes the runbooks, and how it judges their evidence."""

    dir: FilePath = Field(
        default=Path("runbooks"),
        description="folder of the runbooks (<AlertName>.md); relative to perfops.yaml",
    )
    stale_after: Duration = Field(
        default=90 * 86400.0,
        description="a mitigation whose last drill or experiment is older than this is stale",
    )


class Config(Spec):
    """A whole perfops.yaml."""

    api_version: Literal["perfops/v1"] = Field(alias="apiVersion")
    workspace: Workspace = Workspace()
    services: tuple[Service, ...] = ()
    telemetry: Telemetry = Telemetry()
    slos: tuple[SLO, ...] = ()
    pricing: Pricing = Pricing()
    escalation: Escalation = Escalation()
    runbooks: Runbooks = Runbooks()
    reviews: Reviews = Reviews()
    _where: dict[tuple[str | int, ...], str] = PrivateAttr(default_factory=dict)

    def where(self, *path: str | int) -> str:
        """``file:line:col`` of ``path`` (e.g. ``"slos", 2, "sli"``) in the perfops.yaml this
        was read from, or of its nearest parent; the file alone when not known."""
        for i in range(len(path), -1, -1):
            if path[:i] in self._where:
                return self._where[path[:i]]
        return self._where.get((), "perfops.yaml")

    def slo_where(self, slo: SLO, *path: str | int) -> str:
        """:meth:`where` of a field of ``slo``, one of :attr:`slos`."""
        index = next((i for i, s in enumerate(self.slos) if s is slo), None)
        if index is None:
            index = next((i for i, s in enumerate(self.slos) if s.name == slo.name), None)
        return self.where() if index is None else self.where("slos", index, *path)

    def gpu_selector(self, service: Service) -> Selector | None:
        """The GPU series of ``service``: its ``gpu_selector``, else its ``labels`` (but
        ``model_name``, which GPU series do not carry), else the ``instance`` (host:port,
        as perfops collect and Prometheus label a scrape) of each telemetry target that names
        the service; None when nothing says."""
        if service.gpu_selector is not None:
            return parse_selector(service.gpu_selector)
        joins = {k: v for k, v in service.labels.items() if k != "model_name"}
        if joins:
            return Selector.equal(joins)
        hosts = sorted(
            {
                urlsplit(t.url).netloc
                for t in self.telemetry.targets
                if t.service == service.name and t.kind != "nvml"
            }
        )
        if not hosts:
            return None
        if len(hosts) == 1:
            return Selector.equal({"instance": hosts[0]})
        return Selector((Matcher("instance", "=~", "|".join(re.escape(h) for h in hosts)),))

    def service(self, name: str | None = None) -> Service:
        """The service called ``name``, or the first one when ``name`` is None. An unknown name,
        or a perfops.yaml without services, is a UsageError (exit 2) listing the services and
        suggesting the closest name."""
        if not self.services:
            raise UsageError(
                "perfops.yaml declares no services"
                + (f", so there is no service {name!r}" if name is not None else ""),
                hint="add one under services: (`perfops init` writes an example)",
            )
        if name is None:
            return self.services[0]
        for svc in self.services:
            if svc.name == name:
                return svc
        known = [s.name for s in self.services]
        guess = difflib.get_close_matches(name, known, n=1)
        listed = f"services: {', '.join(known)}"
        raise UsageError(
            f"no service {name!r} in perfops.yaml",
            hint=f"did you mean {guess[0]!r}? ({listed})" if guess else f"use one of the {listed}",
        )
