"""HTTP/1.1 framing on a proxied connection, tracked always and cheaply, so HTTP toxics can
act on single requests of keep-alive connections opened before the toxic was added.

Requests (client to server) are cut into head and body; at each complete head the proxy draws
which HTTP toxics hit that request (a ``Plan``). Responses (server to client) are matched to
requests in order (pipelining included); a response with no plan passes untouched, bytes
forwarded as they arrive, while the tracker only counts its framing (Content-Length, chunked,
or until close). A planned SSE response is decoded into events and re-framed, one chunk per
event, each with its own release time. Anything that does not parse as HTTP/1.x (another
protocol, an upgrade, a CONNECT tunnel, a framing error) turns the connection opaque: plain TCP
from then on, never broken by the parser.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from perfops.chaos._plan import BodyHold, EventStream, Plan, error_response
from perfops.chaos._stages import Item, Signal

__all__ = ["Body", "Exchange", "FramingError", "Requests", "Responses"]

MAX_HEAD = 64 * 1024
_HEAD_END = b"\r\n\r\n"
_REQUEST_START = re.compile(rb"[A-Z]{0,20}( |$)")


class FramingError(Exception):
    """The bytes are not HTTP/1.x as this tracker understands it."""


def _parse_head(raw: bytes) -> tuple[list[bytes], dict[bytes, bytes]]:
    """(start line split in three, lower-cased headers; repeated ones joined by commas)."""
    lines = raw.split(b"\r\n")
    start = lines[0].split(b" ", 2)
    if len(start) < 2:
        raise FramingError(f"bad start line {lines[0][:80]!r}")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(b":")
        if not colon:
            raise FramingError(f"bad header line {line[:80]!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = headers[key] + b"," + value if key in headers else value
    return start, headers


class _Kind(Enum):
    LENGTH = 0
    CHUNKED = 1
    EOF = 2


_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class Body:
    """Where one message body ends: after Content-Length bytes, after the last chunk, or at
    the end of the connection."""

    __slots__ = ("kind", "left", "line", "state")

    def __init__(self, kind: _Kind, length: int = 0) -> None:
        self.kind = kind
        self.left = length
        self.line = b""
        if kind is _Kind.CHUNKED:
            self.state = _SIZE
        elif kind is _Kind.LENGTH:
            self.state = _DATA if length else _DONE
        else:
            self.state = _DATA

    @property
    def done(self) -> bool:
        return self.state == _DONE

    def feed(self, data: bytes, pos: int, payload: list[bytes] | None) -> int:
        """Consume body bytes from ``data[pos:]``; the new position. Decoded body bytes go
        to ``payload`` when given."""
        n = len(data)
        while pos < n and self.state != _DONE:
            if self.state == _DATA:
                if self.kind is _Kind.EOF:
                    take = n - pos
                else:
                    take = min(self.left, n - pos)
                    self.left -= take
                if payload is not None:
                    payload.append(data[pos : pos + take])
                pos += take
                if self.left == 0 and self.kind is not _Kind.EOF:
                    self.state = _DATA_END if self.kind is _Kind.CHUNKED else _DONE
                continue
            nl = data.find(b"\n", pos)
            if nl < 0:
                self.line += data[pos:]
                if len(self.line) > 8192:
                    raise FramingError("a chunk-size or trailer line is over 8 KiB")
                return n
            line, self.line = self.line + data[pos:nl], b""
            pos = nl + 1
            self._line(line.rstrip(b"\r"))
        return pos

    def _line(self, line: bytes) -> None:
        if self.state == _DATA_END:
            if line:
                raise FramingError("chunk data is longer than its size")
            self.state = _SIZE
        elif self.state == _SIZE:
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise FramingError(f"bad chunk size {line[:40]!r}") from None
            self.left = size
            self.state = _DATA if size else _TRAILER
        elif not line:  # the blank line after the trailers
            self.state = _DONE


def _request_body(headers: dict[bytes, bytes]) -> Body:
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        return Body(_Kind.CHUNKED)
    return Body(_Kind.LENGTH, _content_length(headers))


def _content_length(headers: dict[bytes, bytes]) -> int:
    raw = headers.get(b"content-length", b"0")
    try:
        values = {int(v) for v in raw.split(b",")}
    except ValueError:
        raise FramingError(f"bad Content-Length {raw[:40]!r}") from None
    if len(values) != 1 or min(values) < 0:
        raise FramingError(f"bad Content-Length {raw[:40]!r}")
    return values.pop()


@dataclass
class Exchange:
    """A request sent on, or answered by the proxy itself (``injected``)."""

    method: bytes
    plan: Plan | None = None
    injected: bytes | None = None
    close: bool = False


class Requests:
    """The client-to-server side: one plan per request; requests answered by an injected error
    are swallowed, head and body."""

    def __init__(self, plan: Callable[[bytes, bytes], Plan | None], responses: Responses) -> None:
        self.plan = plan
        self.responses = responses
        self.opaque = False
        self.partial = b""  # a request head not complete yet (held back)
        self.body: Body | None = None
        self.swallow = False

    def feed(self, data: bytes, now: float) -> list[Item] | None:
        """Items to send on; None when that is ``data`` itself, unchanged and at once."""
        if self.opaque:
            return None
        changed = False
        if self.partial:
            data, self.partial, changed = self.partial + data, b"", True
        spans: list[tuple[int, int]] = []
        pos, n = 0, len(data)
        try:
            while pos < n and not self.opaque:
                if self.body is not None:
                    start = pos
                    pos = self.body.feed(data, pos, None)
                    if self.swallow:
                        changed = True
                    else:
                        spans.append((start, pos))
                    if self.body.done:
                        self.body = None
                    continue
                end = data.find(_HEAD_END, pos)
                if end < 0:
                    rest = data[pos:]
                    if len(rest) > MAX_HEAD or not _REQUEST_START.match(rest):
                        raise FramingError("not an HTTP/1.x request")
                    self.partial, changed, pos = rest, True, n
                    break
                self._head(data[pos : end + 4])
                if not self.swallow:
                    spans.append((pos, end + 4))
                changed = changed or self.swallow
                pos = end + 4
        except FramingError:
            self._go_opaque()
        if self.opaque and pos < n:
            spans.append((pos, n))
        if not changed:
            return None
        return [(b"".join(data[a:b] for a, b in spans), now)] if spans else []

    def _head(self, raw: bytes) -> None:
        start, headers = _parse_head(raw)
        if len(start) != 3 or not start[2].startswith(b"HTTP/1."):
            raise FramingError("not an HTTP/1.x request line")
        method, target = start[0], start[1]
        self.swallow = False
        if method == b"CONNECT" or b"upgrade" in headers.get(b"connection", b"").lower():
            self.responses.expect(Exchange(method))
            self._go_opaque()  # a tunnel or another protocol follows
            return
        self.body = _request_body(headers)
        plan = self.plan(method, _path(target))
        if plan is not None and plan.error is not None:
            close = b"expect" in headers or self.body.kind is not _Kind.LENGTH
            self.swallow = True
            answer = error_response(plan.error, close=close)
            self.responses.expect(Exchange(method, plan, answer, close))
        else:
            self.responses.expect(Exchange(method, plan))
        if self.body.done:
            self.body = None

    def _go_opaque(self) -> None:
        self.opaque = True
        self.responses.requests_opaque = True


def _path(target: bytes) -> bytes:
    if target.startswith(b"/"):
        return target
    scheme = target.find(b"://")
    if scheme < 0:
        return target
    slash = target.find(b"/", scheme + 3)
    return target[slash:] if slash >= 0 else b"/"


class Responses:
    """The server-to-client side: responses matched to exchanges in order; planned ones
    transformed, injected ones written in their turn."""

    def __init__(self, emit: Callable[[list[Item]], None], clock: Callable[[], float]) -> None:
        self.emit = emit  # pushes items to the client outside ``feed`` (injected answers)
        self.clock = clock
        self.pending: deque[Exchange] = deque()
        self.head = bytearray()
        self.body: Body | None = None
        self.sse: EventStream | None = None
        self.hold: BodyHold | None = None
        self.opaque = False
        self.requests_opaque = False
        self.dead = False  # cut by truncate: drop what the server still sends

    def expect(self, exchange: Exchange) -> None:
        self.pending.append(exchange)
        if len(self.pending) == 1 and self.body is None and not self.head:
            items = self._injected()
            if items:
                self.emit(items)

    def _injected(self) -> list[Item]:
        """Injected answers now at the front of the queue, written in their turn."""
        items: list[Item] = []
        while self.pending and self.pending[0].injected is not None:
            ex = self.pending.popleft()
            assert ex.injected is not None
            now = self.clock()
            items.append((ex.injected, now))
            if ex.close:
                items.append((Signal.CLOSE, now))
                self.dead = True
                break
        return items

    def feed(self, data: bytes, now: float) -> list[Item] | None:
        """Items to send on; None when that is ``data`` itself, unchanged and at once."""
        if self.opaque:
            return None
        if self.dead:
            return []
        items: list[Item] = []
        plain, mark, pos, n = True, 0, 0, len(data)
        try:
            while pos < n and not self.dead and not self.opaque:
                if self.body is None:
                    pos = self._head_bytes(data, pos)
                elif self.sse is None and self.hold is None:
                    pos = self.body.feed(data, pos, None)
                else:
                    if mark < pos:
                        items.append((data[mark:pos], now))
                    plain = False
                    pos = self._transform(data, pos, now, items)
                    mark = pos
                    if self.dead:
                        break
                done = self.body is not None and self.body.done
                if done and not self._finish(now, items, data, mark, pos):
                    plain, mark = False, pos
        except FramingError:
            self.opaque = True
        if self.dead:
            return items
        if plain:
            return None
        if mark < n:
            items.append((data[mark:], now))
        return items

    def _head_bytes(self, data: bytes, pos: int) -> int:
        if not self.pending:
            if self.requests_opaque:
                self.opaque = True
                return pos
            self.pending.append(Exchange(b"GET"))  # unsolicited, such as a 408 before closing
        if self.head:
            before = len(self.head)
            self.head += data[pos:]
            end = self.head.find(_HEAD_END, max(0, before - 3))
            if end < 0:
                self._check_head_size()
                return len(data)
            raw = bytes(self.head[: end + 4])
            self.head.clear()
            pos += end + 4 - before
        else:
            end = data.find(_HEAD_END, pos)
            if end < 0:
                self.head += data[pos:]
                self._check_head_size()
                return len(data)
            raw, pos = data[pos : end + 4], end + 4
        self._start(raw)
        return pos

    def _check_head_size(self) -> None:
        if len(self.head) > MAX_HEAD:
            raise FramingError("a response head is over 64 KiB")

    def _start(self, raw: bytes) -> None:
        start, headers = _parse_head(raw)
        if not start[0].startswith(b"HTTP/1."):
            raise FramingError("not an HTTP/1.x response")
        try:
            status = int(start[1])
        except ValueError:
            raise FramingError(f"bad status {start[1][:20]!r}") from None
        ex = self.pending[0]
        if status == 101 or (ex.method == b"CONNECT" and 200 <= status < 300):
            self.opaque = True
            return
        if status < 200:  # 100 Continue and friends: the real answer follows
            return
        if ex.method == b"HEAD" or status in (204, 304):
            self.body = Body(_Kind.LENGTH, 0)
        elif b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            self.body = Body(_Kind.CHUNKED)
        elif b"content-length" in headers:
            self.body = Body(_Kind.LENGTH, _content_length(headers))
        else:
            self.body = Body(_Kind.EOF)
        plan = ex.plan
        if plan is None or self.body.done:
            return
        sse = headers.get(b"content-type", b"").lower().startswith(b"text/event-stream")
        if sse and plan.rewrites_events:
            self.sse = EventStream(plan, self.body.kind is _Kind.CHUNKED)
        elif plan.ttft:
            self.hold = BodyHold(plan.ttft)

    def _transform(self, data: bytes, pos: int, now: float, items: list[Item]) -> int:
        assert self.body is not None
        if self.hold is not None:  # forwarded as it came, framing included, only later
            start, pos = pos, self.body.feed(data, pos, None)
            items.extend(self.hold.items(data[start:pos], now))
            return pos
        assert self.sse is not None
        payload: list[bytes] = []
        pos = self.body.feed(data, pos, payload)
        out, cut = self.sse.feed(b"".join(payload), now)
        items.extend(out)
        if cut:
            self.dead = True
        return pos

    def _finish(self, now: float, items: list[Item], data: bytes, mark: int, pos: int) -> bool:
        """The current response is complete; True when nothing had to be inserted."""
        if self.sse is not None:
            items.extend(self.sse.end(now))
        self.pending.popleft()
        self.body, self.sse, self.hold = None, None, None
        injected = self._injected()
        if not injected:
            return True
        if mark < pos:
            items.append((data[mark:pos], now))
        items.extend(injected)
        return False

    def feed_eof(self, now: float) -> list[Item]:
        """The server closed: what is still held back."""
        if self.sse is not None and not self.dead:
            items = self.sse.end(now)
            self.sse = None
            return items
        return []
