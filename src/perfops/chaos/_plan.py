"""What the HTTP toxics drawn for one request do to it: the :class:`Plan`, the injected error
response, and the two body rewrites (a plain body held back for TTFT; an SSE body split into
events, each delayed, cut or corrupted on its own)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from http import HTTPStatus

from perfops.chaos._stages import Item, Signal
from perfops.chaos.toxics import HttpError, MalformedChunk, TokenDelay, Toxic, Truncate, Ttft

__all__ = ["BodyHold", "EventStream", "Plan", "error_response"]

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_DATA_LINE = re.compile(rb"(?:^|[\r\n])data:[ ]?([^\r\n]*)")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "service_unavailable",
}


@dataclass
class Plan:
    """The HTTP toxics drawn for one request."""

    error: Toxic | None = None
    ttft: float = 0.0  # seconds
    token_delay: float = 0.0  # seconds
    truncate: int | None = None
    malformed: frozenset[int] = frozenset()

    def add(self, toxic: Toxic) -> None:
        spec = toxic.spec
        if isinstance(spec, HttpError):
            self.error = self.error or toxic
        elif isinstance(spec, Ttft):
            self.ttft += spec.delay / 1000
        elif isinstance(spec, TokenDelay):
            self.token_delay += spec.delay / 1000
        elif isinstance(spec, Truncate):
            self.truncate = min(spec.after_events, self.truncate or spec.after_events)
        elif isinstance(spec, MalformedChunk):
            self.malformed = self.malformed | {spec.event}

    @property
    def rewrites_events(self) -> bool:
        """Whether an SSE body must be split into events (else it passes as it comes)."""
        return bool(self.ttft or self.token_delay or self.truncate is not None or self.malformed)


def error_response(toxic: Toxic, *, close: bool) -> bytes:
    """The whole HTTP response for an injected error, OpenAI's error shape in the body."""
    spec = toxic.spec
    assert isinstance(spec, HttpError)
    status = spec.status
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    message = spec.message or f"injected fault: HTTP {status} ({toxic.name})"
    error = {"message": message, "type": kind, "param": None, "code": status}
    body = json.dumps({"error": error}).encode()
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"X-Perfops-Toxic: {toxic.name}",
        f"Connection: {'close' if close else 'keep-alive'}",
    ]
    if spec.retry_after is not None:
        lines.append(f"Retry-After: {math.ceil(spec.retry_after)}")
        lines.append(f"retry-after-ms: {round(spec.retry_after * 1000)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class BodyHold:
    """A non-SSE body, held ``delay`` seconds from its first byte (TTFT on a plain body)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.release: float | None = None

    def items(self, raw: bytes, now: float) -> list[Item]:
        if self.release is None:
            self.release = now + self.delay
        return [(raw, max(now, self.release))] if raw else []


class EventStream:
    """A planned SSE body: decoded, split at blank lines, each event re-framed and released
    at its own time: event k (counting data events from 0) leaves ``ttft + k * token_delay``
    after it arrived, never before the one before it."""

    def __init__(self, plan: Plan, chunked: bool) -> None:
        self.plan = plan
        self.chunked = chunked
        self.buf = b""
        self.events = 0
        self.last = 0.0

    def feed(self, payload: bytes, now: float) -> tuple[list[Item], bool]:
        """(items, cut): cut when truncate ended the stream here."""
        buf = self.buf + payload
        items: list[Item] = []
        start = 0
        for match in _EVENT_END.finditer(buf, max(0, len(self.buf) - 3)):
            event = buf[start : match.end()]
            start = match.end()
            if self._event(event, now, items):
                self.buf = b""
                return items, True
        self.buf = buf[start:]
        return items, False

    def _event(self, event: bytes, now: float, items: list[Item]) -> bool:
        plan = self.plan
        data = _DATA_LINE.search(event)
        k = self.events
        if data is not None:
            if plan.truncate is not None and k >= plan.truncate:  # after_events = 0
                items.extend(self._cut(now))
                return True
            self.events += 1
            if k in plan.malformed and data.end(1) > data.start(1):
                a, b = data.span(1)
                event = event[:a] + b"{" + event[a : b - 1] + event[b:]
        delay = plan.ttft + max(0, k if data is not None else k - 1) * plan.token_delay
        self.last = max(self.last, now + delay)
        items.append((self._frame(event), self.last))
        if plan.truncate is not None and self.events >= plan.truncate:
            items.extend(self._cut(now))
            return True
        return False

    def _frame(self, event: bytes) -> bytes:
        return b"%x\r\n%b\r\n" % (len(event), event) if self.chunked else event

    def _cut(self, now: float) -> list[Item]:
        self.last = max(self.last, now)
        tail: list[Item] = [(b"0\r\n\r\n", self.last)] if self.chunked else []
        return [*tail, (Signal.CLOSE, self.last)]

    def end(self, now: float) -> list[Item]:
        """The body ended: the partial event left, then the last chunk."""
        self.last = max(self.last, now + self.plan.ttft)
        items: list[Item] = []
        if self.buf:
            items.append((self._frame(self.buf), self.last))
            self.buf = b""
        if self.chunked:
            items.append((b"0\r\n\r\n", self.last))
        return items
