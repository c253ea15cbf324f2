"""The options every `perfops load` command shares, declared once.

A command written as ``def run(ctx, common: LoadCommon, rate: ... = 5.0, ...)`` and registered
with :func:`load_command` gets the shared options (target, workload, scraping, output) added to
its command line, and receives them as one :class:`LoadCommon`; it declares only its own.
:func:`load_options` turns them, with perfops.yaml when ``--service`` names a service, into the
runtime and the :class:`~perfops.app.load.LoadOptions` of a run.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from perfops.cli._bounds import SEED, Bounded, env_name, http_url
from perfops.cli._context import positive_seconds, warn
from perfops.errors import Unreachable, UsageError

if TYPE_CHECKING:
    from perfops.app.load import LoadOptions
    from perfops.app.runtime import Runtime
    from perfops.config import Service
    from perfops.loadgen.arrivals import ArrivalSpec
    from perfops.loadgen.client import Target
    from perfops.telemetry.runner import TargetSpec

__all__ = ["DEFAULT_RATE", "LoadCommon", "Slo", "load_command", "load_options", "with_workers"]

Slo = Annotated[str | None, typer.Option(help="e.g. ttft_p99=500ms,tpot_p99=50ms")]


@dataclass(frozen=True, kw_only=True)
class LoadCommon:
    """What the shared options say, before perfops.yaml fills the gaps."""

    url: str | None
    service: str | None
    model: str | None
    endpoint: str
    api_key_env: str | None
    timeout: float
    arrival: str | None  # None: not given (poisson, or the trace's own timing)
    duration: str
    prompt_tokens: str
    max_tokens: str
    ignore_eos: bool
    seed: int
    metrics: list[str] | None
    json_out: str | None


Url = Annotated[
    str | None,
    typer.Option(help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1", parser=http_url),
]
ServiceName = Annotated[str | None, typer.Option(help="a service of perfops.yaml instead of --url")]
Model = Annotated[
    str | None,
    typer.Option(help="model name (default: the service's, else the first of GET /v1/models)"),
]
Endpoint = Annotated[str, typer.Option(help="completions or chat")]
Arrival = Annotated[
    str | None,
    typer.Option(
        help="poisson (default), constant, gamma:BURSTINESS (these three at --rate), or with "
        "rates of their own: burst:N/2s, ramp:1..50, stages:30s@5,60s@20",
        show_default=False,
    ),
]
Duration = Annotated[str, typer.Option(help="how long to send, e.g. 60s, 5m")]
PromptTokens = Annotated[
    str, typer.Option(help="prompt length: 512, uniform:100,900, normal:512,64, lognormal:512,0.5")
]
MaxTokens = Annotated[str, typer.Option("--max-tokens", help="output length (same forms)")]
IgnoreEos = Annotated[bool, typer.Option(help="send ignore_eos (vLLM) for exact lengths")]
Seed = Annotated[
    int,
    typer.Option(
        help="random seed of arrival times and prompts (same seed, same schedule)", parser=SEED
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        help="seconds per request",
        parser=Bounded(0, 3600, low_open=True, unit=" s", why="0 or less times out everything"),
    ),
]
ApiKeyEnv = Annotated[str | None, typer.Option(help="env var with the API key", parser=env_name)]
Metrics = Annotated[
    list[str] | None,
    typer.Option(help="server /metrics to scrape during the run (repeatable)", parser=http_url),
]
JsonOut = Annotated[
    str | None,
    typer.Option("--json", help="write the result as JSON to this file ('-' for stdout)"),
]

# (name, type and option, default): the target (where, how to authenticate, how long to wait)
# before a command's own options; the workload, scraping and output after them. The default
# of --duration is the command's.
_HEAD = (
    ("url", Url, None),
    ("service", ServiceName, None),
    ("model", Model, None),
    ("endpoint", Endpoint, "completions"),
    ("api_key_env", ApiKeyEnv, None),
    ("timeout", Timeout, 300.0),
)
_TAIL = (
    ("arrival", Arrival, None),
    ("duration", Duration, None),
    ("prompt_tokens", PromptTokens, "512"),
    ("max_tokens", MaxTokens, "128"),
    ("ignore_eos", IgnoreEos, False),
    ("seed", Seed, 0),
    ("metrics", Metrics, None),
    ("json_out", JsonOut, None),
)


def _shared(table: tuple[tuple[str, Any, Any], ...], duration: str) -> list[inspect.Parameter]:
    return [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=duration if name == "duration" else default,
            annotation=annotation,
        )
        for name, annotation, default in table
    ]


_COMMON = tuple(f.name for f in dataclasses.fields(LoadCommon))


def load_command(
    app: typer.Typer, name: str, *, duration: str
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``fn(ctx, common, **own)`` as ``perfops load NAME`` with the shared options
    (``--duration`` defaulting to ``duration``) around its own."""

    def register(fn: Callable[..., None]) -> Callable[..., None]:
        ctx, _common, *own = inspect.signature(fn, eval_str=True).parameters.values()
        own = [p.replace(kind=p.KEYWORD_ONLY) for p in own]
        params = [ctx, *_shared(_HEAD, duration), *own, *_shared(_TAIL, duration)]

        def command(ctx: typer.Context, **options: Any) -> None:
            common = LoadCommon(**{k: options.pop(k) for k in _COMMON})
            fn(ctx, common, **options)

        command.__name__, command.__doc__ = fn.__name__, fn.__doc__
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        app.command(name)(command)
        return fn

    return register


def load_options(
    ctx: typer.Context,
    common: LoadCommon,
    *,
    rate: float | None,
    slo: str | None,
    max_requests: int | None = None,
    concurrency: int | None = None,
    varies_rate: str | None = None,
    trace: bool = False,
) -> tuple[Runtime, LoadOptions]:
    """The runtime and the options of a run: from the command line, and perfops.yaml when
    --service names a service. Without a perfops.yaml, results go to ./.perfops/lake.

    ``rate`` is None when not given: poisson, constant and gamma then run at
    :data:`DEFAULT_RATE`, and the forms with rates of their own (burst, ramp, stages) run as
    written. A command that varies the rate names itself in ``varies_rate``; a ``trace``
    replay has the trace's own timing (no arrival process, no rate)."""
    from perfops.app import open_runtime
    from perfops.app.load import LoadOptions, WorkloadSource
    from perfops.loadgen.slo import parse_slo
    from perfops.loadgen.workload import parse_length

    config = (ctx.find_root().obj or {}).get("config")
    rt = open_runtime(config, warn=warn, scratch=common.service is None)
    svc = None if common.service is None else rt.config.service(common.service)
    seconds = positive_seconds(common.duration, "--duration", most=MAX_LOAD_S)
    arrival = None
    if trace:
        _check_replay(common, rate, concurrency)
    elif concurrency is None:
        arrival = _arrival(common.arrival or "poisson", rate, varies_rate)
    workload = WorkloadSource(parse_length(common.prompt_tokens), parse_length(common.max_tokens))
    thresholds = tuple(parse_slo(slo))
    if max_requests is None:
        max_requests = _request_bound(arrival, rate, seconds, trace)
    return rt, LoadOptions(
        target=_target(common, svc),  # last: it may ask the server for its model
        workload=workload,
        arrival=arrival,
        duration_s=seconds,
        max_requests=max_requests,
        concurrency=concurrency,
        slo=thresholds,
        seed=common.seed,
        scrape=_scrape(rt, common, svc),
        gpus=svc.gpu.count if svc else None,
        service=svc.name if svc else None,
    )


MAX_LOAD_S = 86400.0
"""The longest load run: a day (a longer soak is several runs; the schedule is planned up
front)."""
DEFAULT_RATE = 5.0
"""Requests/s of poisson, constant and gamma arrivals when --rate is not given."""
_AT_A_RATE = ("poisson", "constant", "gamma")
_OWN_RATES = ("burst", "ramp", "stages")


def _arrival(text: str, rate: float | None, varies_rate: str | None) -> ArrivalSpec:
    """The arrival process of --arrival: at ``rate`` (:data:`DEFAULT_RATE` when not given) for
    the forms that need one, as written for those that carry their own."""
    from perfops.loadgen.arrivals import parse_arrival

    kind = text.partition(":")[0].strip().lower()
    if varies_rate and kind in _OWN_RATES:
        raise UsageError(
            f"--arrival {text}: {varies_rate} varies the rate, and {kind} arrivals carry "
            "rates of their own",
            hint="use poisson, constant or gamma:BURSTINESS",
        )
    if rate is not None and kind in _OWN_RATES:
        raise UsageError(
            f"--arrival {text} carries its own rates; --rate {rate:g} would be ignored",
            hint="drop --rate",
        )
    if rate is None and kind in _AT_A_RATE:
        rate = DEFAULT_RATE
    return parse_arrival(text, rate)


def _request_bound(
    arrival: ArrivalSpec | None, rate: float | None, seconds: float, trace: bool
) -> int:
    """The default --max-requests: well above what the run plans to send (a closed loop: as
    many as DEFAULT_RATE would), and the whole of a trace."""
    from perfops.loadgen.arrivals import MAX_SCHEDULE

    if trace:
        return MAX_SCHEDULE
    expected = (
        (rate or DEFAULT_RATE) * seconds
        if arrival is None
        else _expected_requests(arrival, seconds)
    )
    return min(MAX_SCHEDULE, max(10, int(expected * 1.5) + 10))


def _expected_requests(arrival: ArrivalSpec, seconds: float) -> float:
    """About how many requests ``arrival`` sends in ``seconds``."""
    if arrival.rate is not None:
        return arrival.rate * seconds
    if arrival.burst_size is not None and arrival.burst_interval is not None:
        return arrival.burst_size * (seconds // arrival.burst_interval + 1)
    if arrival.start_rate is not None and arrival.end_rate is not None:
        return (arrival.start_rate + arrival.end_rate) / 2 * seconds
    total, left = 0.0, seconds
    for length, rate in arrival.stages:
        total += rate * min(length, max(left, 0.0))
        left -= length
    return total


def _check_replay(common: LoadCommon, rate: float | None, concurrency: int | None) -> None:
    """A trace replay has the trace's timing: a rate, arrival process or closed loop beside it
    would be ignored, so each is refused."""
    given = [
        name
        for name, value in (
            ("--rate", rate),
            ("--arrival", common.arrival),
            ("--concurrency", concurrency),
        )
        if value is not None
    ]
    if given:
        raise UsageError(
            f"--trace replays the trace with its own timing; {', '.join(given)} would be ignored",
            hint=f"drop {' and '.join(given)} (--speed 2 replays it twice as fast)",
        )


def _target(common: LoadCommon, svc: Service | None) -> Target:
    from perfops.loadgen.client import Target

    base = common.url or (svc.endpoint if svc else None)
    if base is None:
        raise UsageError("no target: pass --url http://HOST:PORT/v1 or --service NAME")
    if common.endpoint not in ("completions", "chat"):
        raise UsageError(f"--endpoint {common.endpoint!r}", hint="completions or chat")
    api_key = _api_key(common, svc)
    return Target(
        base,
        common.model or (svc.model if svc else None) or _first_model(base, api_key),
        "chat" if common.endpoint == "chat" else "completions",
        api_key,
        timeout_s=common.timeout,
        extra_body=(("ignore_eos", True),) if common.ignore_eos else (),
    )


def _api_key(common: LoadCommon, svc: Service | None) -> str | None:
    """The API key from the variable --api-key-env or the service's api_key_env names (else
    $OPENAI_API_KEY, if set). A named variable that is unset or empty is a usage error, before
    any request: the server would refuse every one of them."""
    if common.api_key_env:
        key_env, named_by = common.api_key_env, "--api-key-env"
    elif svc is not None and svc.api_key_env:
        key_env, named_by = svc.api_key_env, f"service {svc.name!r} (api_key_env)"
    else:
        return os.environ.get("OPENAI_API_KEY") or None
    api_key = os.environ.get(key_env)
    if not api_key:
        raise UsageError(
            f"the API key variable {key_env} named by {named_by} is "
            + ("empty" if api_key == "" else "not set"),
            hint=f"export {key_env}=... before the run, or name another variable",
        )
    return api_key


def _scrape(rt: Runtime, common: LoadCommon, svc: Service | None) -> tuple[TargetSpec, ...]:
    """The server /metrics to scrape during the run, and the GPUs behind the service
    (dcgm-exporter, NVML targets of perfops.yaml)."""
    from perfops.telemetry.runner import TargetSpec

    labels = {"service": svc.name} if svc else {}
    urls = common.metrics or (svc.metrics if svc else ())
    tel = rt.config.telemetry
    scrape = [
        dataclasses.replace(
            TargetSpec(f"server-{i}", u, "vllm", 1.0, 2.0, labels),
            max_body_bytes=tel.max_body_bytes,
            max_samples=tel.max_samples,
        )
        for i, u in enumerate(urls)
    ]
    if svc is not None:
        scrape += [
            dataclasses.replace(
                TargetSpec(t.name, t.url, t.kind, 1.0, 2.0, {**t.labels, "service": svc.name}),
                max_body_bytes=t.max_body_bytes or tel.max_body_bytes,
                max_samples=t.max_samples or tel.max_samples,
            )
            for t in tel.targets
            if t.service == svc.name
        ]
    return tuple(scrape)


def _first_model(url: str, api_key: str | None) -> str:
    req = urllib.request.Request(
        url.rstrip("/") + "/models",
        headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            data = json.loads(resp.read())
        return str(data["data"][0]["id"])
    except urllib.error.HTTPError as exc:  # it answered: the request is wrong
        raise UsageError(
            f"cannot list the models at {url}/models: HTTP {exc.code}",
            hint="pass --model, and check --url and --api-key-env",
        ) from None
    except OSError as exc:  # refused, unknown host, no answer: the run cannot happen
        raise Unreachable(
            f"cannot reach {url}/models: {getattr(exc, 'reason', None) or exc}",
            hint="start the server (e.g. `perfops sim`), or check --url",
        ) from None
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise UsageError(
            f"cannot list the models at {url}/models: {exc}", hint="pass --model, and check --url"
        ) from None


def with_workers(opts: LoadOptions, workers: str) -> LoadOptions:
    """``opts`` with ``--workers`` processes sharing the schedule (a number, or auto: as many
    as the peak rate of the schedule needs)."""
    from perfops.loadgen.workers import auto_workers

    if workers == "auto":
        count = auto_workers(_peak_rate(opts))
    else:
        try:
            count = int(workers)
        except ValueError:
            raise UsageError(f"--workers {workers!r}", hint="a number, or auto") from None
        most = 4 * (os.cpu_count() or 1)
        if not 1 <= count <= most:
            raise UsageError(
                f"--workers {workers!r}: at least 1 and at most {most} (4 per CPU here)",
                hint="or auto: as many as the rate needs, one per CPU at most",
            )
    if count > 1 and opts.workload.trace is not None:
        raise UsageError("--workers applies to arrival schedules", hint="drop it for a --trace")
    if count > 1 and opts.arrival is None:
        raise UsageError("--workers applies to open loop", hint="drop --concurrency")
    return dataclasses.replace(opts, workers=count)


def _peak_rate(opts: LoadOptions) -> float:
    """The highest request rate the run's schedule asks for (requests/s)."""
    arrival = opts.arrival
    if arrival is None:  # a closed loop or a trace: one worker
        return 0.0
    if arrival.rate is not None:
        return arrival.rate
    if arrival.burst_size is not None and arrival.burst_interval is not None:
        return arrival.burst_size / arrival.burst_interval
    if arrival.start_rate is not None and arrival.end_rate is not None:
        return max(arrival.start_rate, arrival.end_rate)
    return max(rate for _, rate in arrival.stages)
