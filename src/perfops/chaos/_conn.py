"""One proxied connection: two sockets, two links (one per direction), on asyncio Protocols.

The fast path is one ``transport.write(data)`` per read, straight from ``data_received``: no
queue, no task, no copy. A link leaves it only while a TCP toxic is attached to it, or while
the HTTP tracker holds, swallows or re-frames bytes; items then wait in the link's queue and
a timer releases each at its time. Flow control follows the transports: a link whose sink
is full, or whose queue is over ``HIGH_WATER`` bytes, pauses reading its source.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, cast

from perfops.chaos._http import Requests, Responses
from perfops.chaos._stages import Item, Signal, Stage, make_stage
from perfops.chaos.toxics import TcpToxicSpec, Toxic

if TYPE_CHECKING:
    from perfops.chaos.proxy import Proxy

__all__ = ["Connection", "ClientSide"]

HIGH_WATER = 1 << 20
LOW_WATER = 1 << 18
Direction = Literal["upstream", "downstream"]


class Link:
    """Bytes one way: from ``source`` (read) to ``sink`` (written), through the HTTP tracker
    and the TCP toxics attached to this direction."""

    def __init__(self, conn: Connection, direction: Direction) -> None:
        self.conn = conn
        self.direction = direction
        self.loop = conn.loop
        self.source: asyncio.Transport = conn.client
        self.sink: asyncio.Transport = conn.client
        self.http: Requests | Responses | None = None
        self.stages: list[Stage] = []
        self.queue: deque[Item] = deque()
        self.queued = 0
        self.timer: asyncio.TimerHandle | None = None
        self.sink_paused = False
        self.reading_paused = False
        self.dead = False  # the sink is gone: drop everything
        self.bytes = 0

    # -- input --------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        http = self.http
        if http is not None:
            now = self.loop.time()
            try:
                items = http.feed(data, now)
            except Exception as exc:  # a tracker bug must not cut the user's traffic
                self.loop.call_exception_handler(
                    {
                        "message": "HTTP tracking failed; the connection goes on as TCP",
                        "exception": exc,
                    }
                )
                self.conn.opaque()
                items = None
            if http.opaque:
                self.http = None
            if items is not None:
                self.push(items)
                return
        if not self.stages and not self.queue and not self.dead:
            self.sink.write(data)
            self.bytes += len(data)
            return
        self.push([(data, self.loop.time())])

    def feed_eof(self, signal: Signal = Signal.EOF) -> None:
        now = self.loop.time()
        items: list[Item] = []
        if isinstance(self.http, Responses):
            items = self.http.feed_eof(now)
        self.push([*items, (signal, now)])

    def push(self, items: list[Item]) -> None:
        for stage in self.stages:
            if not items:
                return
            items = stage.feed(items)
        if not items or self.dead:
            return
        self.queue.extend(items)
        self.queued += sum(len(d) for d, _ in items if isinstance(d, bytes))
        self.kick()

    # -- output -------------------------------------------------------------------------------

    def kick(self) -> None:
        """Write what is due; a timer wakes the link for the next item (items leave in order,
        so while one is set, the head of the queue is not due yet)."""
        if self.timer is not None:
            self.pressure()
            return
        queue, now = self.queue, self.loop.time()
        while queue and not self.sink_paused and not self.dead:
            data, t = queue[0]
            if t > now:
                self.timer = self.loop.call_at(t, self._wake)
                break
            queue.popleft()
            if isinstance(data, bytes):
                self.queued -= len(data)
                self.sink.write(data)
                self.bytes += len(data)
            else:
                self.conn.signal(self, data)
        self.pressure()

    def _wake(self) -> None:
        self.timer = None
        self.kick()

    def pressure(self) -> None:
        """Pause the source while the sink is full or the queue too long; resume after."""
        if self.sink_paused or self.queued > HIGH_WATER:
            if not self.reading_paused and not self.conn.closed:
                self.reading_paused = True
                self.source.pause_reading()
        elif self.reading_paused and self.queued <= LOW_WATER and not self.conn.closed:
            self.reading_paused = False
            self.source.resume_reading()

    def sink_pause(self, paused: bool) -> None:
        self.sink_paused = paused
        if paused:
            self.pressure()
        else:
            self.kick()

    def drop(self) -> None:
        self.dead = True
        self.queue.clear()
        self.queued = 0
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for stage in self.stages:
            stage.stop()
        self.stages.clear()

    # -- toxics -------------------------------------------------------------------------------

    def attach(self, toxic: Toxic) -> None:
        stage = make_stage(toxic, self.conn.proxy.rng)
        at = next((i for i, s in enumerate(self.stages) if s.toxic.order > toxic.order), None)
        self.stages.insert(len(self.stages) if at is None else at, stage)
        stage.start(self.conn.later, self.conn.abort)

    def detach(self, toxic: Toxic) -> None:
        for stage in [s for s in self.stages if s.toxic is toxic]:
            stage.stop()
            self.stages.remove(stage)
        if not self.stages:
            self.kick()


class Connection:
    """A client connection and its upstream connection, with a link each way."""

    def __init__(self, proxy: Proxy, client: asyncio.Transport) -> None:
        self.proxy = proxy
        self.loop = proxy.loop
        self.client = client
        self.upstream: asyncio.Transport | None = None
        self.up = Link(self, "upstream")
        self.down = Link(self, "downstream")
        self.closed = False
        self.open_sides = 1
        self.eofs = 0
        self.early: list[bytes | None] = []  # from the client before the upstream answered

    def hold(self, data: bytes | None) -> None:
        """Keep what the client sends (None: its EOF) until the upstream is connected."""
        self.early.append(data)
        self.client.pause_reading()

    def later(self, delay: float, fn: Callable[[], None]) -> Callable[[], None]:
        return self.loop.call_later(delay, fn).cancel

    async def connect(self) -> None:
        host, port = self.proxy.upstream
        try:
            transport, _ = await self.loop.create_connection(lambda: UpstreamSide(self), host, port)
        except OSError:
            self.proxy.stats.upstream_errors += 1
            self.closed = True
            self.client.close()
            return
        if self.closed:  # the client left, or the proxy closed, while we dialled
            transport.close()
            return
        self.upstream = transport
        self.open_sides += 1
        self.up.source, self.up.sink = self.client, self.upstream
        self.down.source, self.down.sink = self.upstream, self.client
        if self.proxy.http_tracking:
            responses = Responses(self.down.push, self.loop.time)
            self.down.http = responses
            self.up.http = Requests(self.proxy.plan, responses)
        for toxic in self.proxy.toxics.values():
            self.attach(toxic)
        early, self.early = self.early, []
        for data in early:
            if data is None:
                self.up.feed_eof()
            else:
                self.up.feed(data)
        if not self.up.reading_paused:
            self.client.resume_reading()

    def opaque(self) -> None:
        """Plain TCP from now on, both ways."""
        for link in (self.up, self.down):
            if link.http is not None:
                link.http.opaque = True
            link.http = None

    def attach(self, toxic: Toxic) -> None:
        spec = toxic.spec
        if self.closed or self.upstream is None or not isinstance(spec, TcpToxicSpec):
            return
        if self.proxy.rng.random() < spec.toxicity:
            toxic.applied += 1
            (self.up if spec.stream == "upstream" else self.down).attach(toxic)

    def detach(self, toxic: Toxic) -> None:
        self.up.detach(toxic)
        self.down.detach(toxic)

    # -- ends ---------------------------------------------------------------------------------

    def signal(self, link: Link, signal: Signal) -> None:
        if signal is Signal.EOF:
            if link.sink.can_write_eof() and not link.sink.is_closing():
                link.sink.write_eof()
            self.eofs += 1
            if self.eofs == 2:
                self.close()
        else:
            self.abort(signal)

    def abort(self, signal: Signal) -> None:
        if signal is Signal.RESET:
            self.reset()
        else:
            self.close()

    def close(self) -> None:
        """FIN both ways, after what the transports still buffer."""
        if self.closed:
            return
        self.closed = True
        for link in (self.up, self.down):
            link.drop()
        self.client.close()
        if self.upstream is not None:
            self.upstream.close()

    def reset(self) -> None:
        """RST both ways: SO_LINGER 0, then close without flushing."""
        if self.closed:
            return
        self.closed = True
        for link in (self.up, self.down):
            link.drop()
        for transport in (self.client, self.upstream):
            if transport is None:
                continue
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()

    def lost(self, side: Direction) -> None:
        """One socket is gone: what came from it is flushed on, then all closes."""
        self.open_sides -= 1
        if self.upstream is None:  # still dialling: connect() sees this and gives up
            self.closed = True
        if not self.closed:
            gone, other = (self.down, self.up) if side == "downstream" else (self.up, self.down)
            gone.drop()  # nothing more can reach the lost socket
            other.feed_eof(Signal.CLOSE)
        if self.open_sides <= 0:
            self.proxy.forget(self)


class ClientSide(asyncio.Protocol):
    """The accepted socket, from the client."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.conn: Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        client = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        client.pause_reading()
        self.conn = self.proxy.adopt(client)

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        assert conn is not None
        if conn.upstream is None:
            conn.hold(data)
        else:
            conn.up.feed(data)

    def eof_received(self) -> bool:
        conn = self.conn
        assert conn is not None
        if conn.upstream is None:
            conn.hold(None)
        else:
            conn.up.feed_eof()
        return True

    def pause_writing(self) -> None:
        assert self.conn is not None
        self.conn.down.sink_pause(True)

    def resume_writing(self) -> None:
        assert self.conn is not None
        self.conn.down.sink_pause(False)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.conn.lost("downstream")


class UpstreamSide(asyncio.Protocol):
    """The socket to the upstream server."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def data_received(self, data: bytes) -> None:
        self.conn.down.feed(data)

    def eof_received(self) -> bool:
        self.conn.down.feed_eof()
        return True

    def pause_writing(self) -> None:
        self.conn.up.sink_pause(True)

    def resume_writing(self) -> None:
        self.conn.up.sink_pause(False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.lost("upstream")
