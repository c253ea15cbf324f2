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
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from perfops.cli._context import positive_seconds, warn
from perfops.errors import UsageError

if TYPE_CHECKING:
    from perfops.app.load import LoadOptions
    from perfops.app.runtime import Runtime
    from perfops.config import Service
    from perfops.loadgen.client import Target
    from perfops.telemetry.runner import TargetSpec

__all__ = ["LoadCommon", "Slo", "load_command", "load_options", "with_workers"]

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
    arrival: str
    duration: str
    prompt_tokens: str
    max_tokens: str
    ignore_eos: bool
    seed: int
    metrics: list[str] | None
    json_out: str | None


Url = Annotated[
    str | None, typer.Option(help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
]
ServiceName = Annotated[str | None, typer.Option(help="a service of perfops.yaml instead of --url")]
Model = Annotated[
    str | None,
    typer.Option(help="model name (default: the service's, else the first of GET /v1/models)"),
]
Endpoint = Annotated[str, typer.Option(help="completions or chat")]
Arrival = Annotated[
    str,
    typer.Option(
        help="poisson, constant, gamma:BURSTINESS, burst:N/2s, ramp:1..50, stages:30s@5,60s@20"
    ),
]
Duration = Annotated[str, typer.Option(help="how long to send, e.g. 60s, 5m")]
PromptTokens = Annotated[
    str, typer.Option(help="prompt length: 512, uniform:100,900, normal:512,64, lognormal:512,0.5")
]
MaxTokens = Annotated[str, typer.Option("--max-tokens", help="output length (same forms)")]
IgnoreEos = Annotated[bool, typer.Option(help="send ignore_eos (vLLM) for exact lengths")]
Seed = Annotated[
    int, typer.Option(help="random seed of arrival times and prompts (same seed, same schedule)")
]
Timeout = Annotated[float, typer.Option(help="seconds per request")]
ApiKeyEnv = Annotated[str | None, typer.Option(help="env var with the API key")]
Metrics = Annotated[
    list[str] | None,
    typer.Option(help="server /metrics to scrape during the run (repeatable)"),
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
    ("arrival", Arrival, "poisson"),
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
    rate: float,
    slo: str | None,
    max_requests: int | None = None,
    concurrency: int | None = None,
) -> tuple[Runtime, LoadOptions]:
    """The runtime and the options of a run: from the command line, and perfops.yaml when
    --service names a service. Without a perfops.yaml, results go to ./.perfops/lake."""
    from perfops.app import open_runtime
    from perfops.app.load import LoadOptions, WorkloadSource
    from perfops.loadgen.arrivals import parse_arrival
    from perfops.loadgen.slo import parse_slo
    from perfops.loadgen.workload import parse_length

    config = (ctx.find_root().obj or {}).get("config")
    rt = open_runtime(config, warn=warn, scratch=common.service is None)
    svc = None if common.service is None else rt.config.service(common.service)
    seconds = positive_seconds(common.duration, "--duration")
    arrival = None if concurrency is not None else parse_arrival(common.arrival, rate)
    workload = WorkloadSource(parse_length(common.prompt_tokens), parse_length(common.max_tokens))
    thresholds = tuple(parse_slo(slo))
    if max_requests is None:
        max_requests = max(10, int(rate * seconds * 1.5) + 10)
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


def _target(common: LoadCommon, svc: Service | None) -> Target:
    from perfops.loadgen.client import Target

    base = common.url or (svc.endpoint if svc else None)
    if base is None:
        raise UsageError("no target: pass --url http://HOST:PORT/v1 or --service NAME")
    if common.endpoint not in ("completions", "chat"):
        raise UsageError(f"--endpoint {common.endpoint!r}", hint="completions or chat")
    key_env = common.api_key_env or (svc.api_key_env if svc else None)
    api_key = os.environ.get(key_env) if key_env else os.environ.get("OPENAI_API_KEY")
    return Target(
        base,
        common.model or (svc.model if svc else None) or _first_model(base, api_key),
        "chat" if common.endpoint == "chat" else "completions",
        api_key,
        timeout_s=common.timeout,
        extra_body=(("ignore_eos", True),) if common.ignore_eos else (),
    )


def _scrape(rt: Runtime, common: LoadCommon, svc: Service | None) -> tuple[TargetSpec, ...]:
    """The server /metrics to scrape during the run, and the GPUs behind the service
    (dcgm-exporter, NVML targets of perfops.yaml)."""
    from perfops.telemetry.runner import TargetSpec

    labels = {"service": svc.name} if svc else {}
    urls = common.metrics or (svc.metrics if svc else ())
    scrape = [TargetSpec(f"server-{i}", u, "vllm", 1.0, 2.0, labels) for i, u in enumerate(urls)]
    if svc is not None:
        scrape += [
            TargetSpec(t.name, t.url, t.kind, 1.0, 2.0, {**t.labels, "service": svc.name})
            for t in rt.config.telemetry.targets
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
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise UsageError(
            f"cannot list the models at {url}/models: {exc}", hint="pass --model, and check --url"
        ) from None


def with_workers(opts: LoadOptions, workers: str, rate: float) -> LoadOptions:
    """``opts`` with ``--workers`` processes sharing the schedule (a number, or auto)."""
    from perfops.loadgen.workers import auto_workers

    if workers == "auto":
        count = auto_workers(rate)
    else:
        try:
            count = int(workers)
        except ValueError:
            raise UsageError(f"--workers {workers!r}", hint="a number, or auto") from None
        if count < 1:
            raise UsageError(f"--workers {workers!r}", hint="at least 1")
    if count > 1 and opts.arrival is None:
        raise UsageError("--workers applies to open loop", hint="drop --concurrency")
    return dataclasses.replace(opts, workers=count)
