"""Toxics: the faults the proxy applies, chosen by ``kind`` from :data:`TOXIC_KINDS`.

TCP toxics follow Toxiproxy (``toxics/*.go``): they act on one direction of every connection
(``stream``: ``downstream``, server to client, the default; or ``upstream``) and are drawn once
per connection with probability ``toxicity``. HTTP toxics act on single requests of HTTP/1.1
keep-alive connections and are drawn per request with probability ``rate`` when its head
arrives (that draw then holds for its whole response); ``path`` limits them to request
targets starting with it. ``ttft``, ``token_delay``, ``truncate`` and ``malformed_chunk`` act
on ``text/event-stream`` responses (``ttft`` also holds a plain body from its first byte).

Units: milliseconds for delays (``slicer.delay`` is in microseconds, as in Toxiproxy), KB/s
(1000 bytes) for bandwidth, seconds for ``retry_after`` and ``expires_in`` (which also takes
a duration such as ``"30s"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from perfops._internal.durations import parse_duration
from perfops.errors import UsageError

__all__ = [
    "HTTP_KINDS",
    "MAX_EXPIRES_IN",
    "TCP_KINDS",
    "TOXIC_KINDS",
    "Bandwidth",
    "HttpError",
    "HttpToxicSpec",
    "InvalidToxic",
    "LimitData",
    "Latency",
    "MalformedChunk",
    "ResetPeer",
    "Slicer",
    "SlowClose",
    "TcpToxicSpec",
    "Timeout",
    "TokenDelay",
    "Toxic",
    "ToxicSpec",
    "Truncate",
    "Ttft",
    "parse_toxic",
    "parse_toxic_arg",
]

MAX_EXPIRES_IN = 7 * 86400.0
_Ms = Annotated[float, Field(ge=0, le=3_600_000)]


class InvalidToxic(UsageError):
    """A toxic request that cannot be applied as written; ``field`` names the first bad field."""

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.field = field


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")] = ""
    expires_in: Annotated[float, Field(gt=0, le=MAX_EXPIRES_IN)] | None = None

    @field_validator("expires_in", mode="before")
    @classmethod
    def _duration(cls, v: object) -> object:
        return parse_duration(v) if isinstance(v, str) else v


class TcpToxicSpec(_Spec):
    """A Toxiproxy-style toxic on one direction of every connection."""

    stream: Literal["downstream", "upstream"] = "downstream"
    toxicity: Annotated[float, Field(ge=0, le=1)] = 1.0


class Latency(TcpToxicSpec):
    """Each chunk waits ``latency`` ± ``jitter`` ms, counted from when it arrived."""

    kind: Literal["latency"] = "latency"
    latency: _Ms = 0.0
    jitter: _Ms = 0.0


class Bandwidth(TcpToxicSpec):
    """At most ``rate`` KB/s (1 KB = 1000 bytes)."""

    kind: Literal["bandwidth"] = "bandwidth"
    rate: Annotated[float, Field(gt=0, le=100_000_000)]


class SlowClose(TcpToxicSpec):
    """The close (or half-close) reaches the other side ``delay`` ms late."""

    kind: Literal["slow_close"] = "slow_close"
    delay: _Ms = 0.0


class Timeout(TcpToxicSpec):
    """Data is dropped; the connection closes after ``timeout`` ms (0: it never closes)."""

    kind: Literal["timeout"] = "timeout"
    timeout: _Ms = 0.0


class ResetPeer(TcpToxicSpec):
    """Both sides get a TCP RST ``timeout`` ms after the connection (or the toxic) starts."""

    kind: Literal["reset_peer"] = "reset_peer"
    timeout: _Ms = 0.0


class Slicer(TcpToxicSpec):
    """Chunks are cut into pieces of ``average_size`` ± ``size_variation`` bytes, ``delay``
    microseconds apart."""

    kind: Literal["slicer"] = "slicer"
    average_size: Annotated[int, Field(ge=1, le=1 << 24)] = 64
    size_variation: Annotated[int, Field(ge=0, le=1 << 24)] = 0
    delay: Annotated[float, Field(ge=0, le=10_000_000)] = 0.0

    @model_validator(mode="after")
    def _variation_below_average(self) -> Slicer:
        if self.size_variation >= self.average_size:
            raise ValueError(
                f"size_variation ({self.size_variation}) must be below average_size "
                f"({self.average_size})"
            )
        return self


class LimitData(TcpToxicSpec):
    """The connection closes once ``bytes`` bytes have passed in this direction."""

    kind: Literal["limit_data"] = "limit_data"
    bytes: Annotated[int, Field(ge=0, le=1 << 50)]


class HttpToxicSpec(_Spec):
    """A toxic on single HTTP/1.1 requests, drawn per request with probability ``rate``."""

    rate: Annotated[float, Field(ge=0, le=1)] = 1.0
    path: Annotated[str, Field(pattern=r"^/", max_length=2000)] | None = None


class HttpError(HttpToxicSpec):
    """The proxy answers ``status`` itself, with OpenAI's JSON error body and ``Retry-After``;
    the request never reaches the server."""

    kind: Literal["http_error"] = "http_error"
    status: Annotated[int, Field(ge=400, le=599)] = 503
    retry_after: Annotated[float, Field(ge=0, le=86400)] | None = None
    message: Annotated[str, Field(max_length=1000)] | None = None


class Ttft(HttpToxicSpec):
    """The response body (the first SSE event) starts ``delay`` ms late; headers do not."""

    kind: Literal["ttft"] = "ttft"
    delay: Annotated[float, Field(gt=0, le=600_000)]


class TokenDelay(HttpToxicSpec):
    """Every SSE data event after the first comes ``delay`` ms later than the one before
    would have: each inter-token gap grows by ``delay``."""

    kind: Literal["token_delay"] = "token_delay"
    delay: Annotated[float, Field(gt=0, le=60_000)]


class Truncate(HttpToxicSpec):
    """An SSE response ends after ``after_events`` data events, at an event boundary: a
    chunked body gets its last chunk, then the connection closes (FIN). The client sees a
    well-formed but incomplete stream (no ``[DONE]``)."""

    kind: Literal["truncate"] = "truncate"
    after_events: Annotated[int, Field(ge=0, le=1_000_000)] = 1


class MalformedChunk(HttpToxicSpec):
    """The data payload of SSE data event number ``event`` (0 = the first) becomes invalid
    JSON of the same length (``{`` prepended, the last byte dropped)."""

    kind: Literal["malformed_chunk"] = "malformed_chunk"
    event: Annotated[int, Field(ge=0, le=1_000_000)] = 0


ToxicSpec = (
    Latency
    | Bandwidth
    | SlowClose
    | Timeout
    | ResetPeer
    | Slicer
    | LimitData
    | HttpError
    | Ttft
    | TokenDelay
    | Truncate
    | MalformedChunk
)
TCP_KINDS: dict[str, type[TcpToxicSpec]] = {
    "latency": Latency,
    "bandwidth": Bandwidth,
    "slow_close": SlowClose,
    "timeout": Timeout,
    "reset_peer": ResetPeer,
    "slicer": Slicer,
    "limit_data": LimitData,
}
HTTP_KINDS: dict[str, type[HttpToxicSpec]] = {
    "http_error": HttpError,
    "ttft": Ttft,
    "token_delay": TokenDelay,
    "truncate": Truncate,
    "malformed_chunk": MalformedChunk,
}
TOXIC_KINDS: dict[str, type[_Spec]] = {**TCP_KINDS, **HTTP_KINDS}


def _normalise(data: Mapping[str, Any]) -> dict[str, Any]:
    """Accept Toxiproxy's shape too: ``type`` for ``kind``, fields under ``attributes``."""
    out = dict(data)
    if "type" in out and "kind" not in out:
        out["kind"] = out.pop("type")
    attributes = out.pop("attributes", None)
    if isinstance(attributes, Mapping):
        out = {**attributes, **out}
    return out


def parse_toxic(data: object) -> ToxicSpec:
    """Validate a toxic from plain data; raises :class:`InvalidToxic` naming every problem."""
    if not isinstance(data, Mapping):
        raise InvalidToxic(f"a toxic is a JSON object, got {type(data).__name__}")
    body = _normalise(data)
    kind = body.get("kind")
    valid = ", ".join(TOXIC_KINDS)
    if kind is None:
        raise InvalidToxic("the toxic has no kind", field="kind", hint=f"valid kinds: {valid}")
    cls = TOXIC_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidToxic(f"unknown toxic kind {kind!r}", field="kind", hint=f"valid: {valid}")
    try:
        spec = cls.model_validate(body)
    except ValidationError as exc:
        raise _invalid(kind, cls, exc) from None
    if not spec.name:
        suffix = f"_{spec.stream}" if isinstance(spec, TcpToxicSpec) else ""
        spec = spec.model_copy(update={"name": f"{kind}{suffix}"})
    assert isinstance(spec, ToxicSpec)
    return spec


def _invalid(kind: str, cls: type[_Spec], exc: ValidationError) -> InvalidToxic:
    problems, first = [], None
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        first = first or where or None
        if err["type"] == "extra_forbidden":
            fields = ", ".join(f for f in cls.model_fields if f != "kind")
            problems.append(f"unknown field {where!r} (fields of {kind}: {fields})")
        elif where:
            problems.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
        else:
            problems.append(str(err["msg"]).removeprefix("Value error, "))
    return InvalidToxic(f"invalid {kind} toxic: " + "; ".join(problems), field=first)


def parse_toxic_arg(text: str) -> dict[str, str]:
    """``"latency:latency=100,jitter=10"`` -> ``{"kind": "latency", "latency": "100", ...}``
    (values stay strings; :func:`parse_toxic` converts them)."""
    kind, _, rest = text.partition(":")
    out = {"kind": kind.strip()}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise InvalidToxic(
                f"--toxic {text!r}: {part!r} is not key=value",
                hint="write KIND:key=value,key=value, e.g. latency:latency=100,jitter=10",
            )
        out[key.strip()] = value.strip()
    return out


@dataclass(eq=False)
class Toxic:
    """A toxic in force on a proxy. Times are on the proxy's event-loop clock (seconds)."""

    spec: ToxicSpec
    order: int
    added_at: float
    expires_at: float | None = None
    applied: int = 0  # connections (TCP toxics) or requests (HTTP toxics) it hit
    removed: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def is_http(self) -> bool:
        return isinstance(self.spec, HttpToxicSpec)

    def as_json(self, now: float) -> dict[str, Any]:
        left = None if self.expires_at is None else max(0.0, self.expires_at - now)
        body = self.spec.model_dump(exclude={"expires_in"})
        return {**body, "type": self.kind, "applied": self.applied, "expires_in": left}
