"""TCP toxics measured through the proxy against a real echo server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from perfops.chaos import ProxyThread, running_proxy


class Echo:
    """A threaded TCP echo server; it closes its side once the client half-closes."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                conn.sendall(data)


@pytest.fixture(scope="module")
def echo() -> Iterator[Echo]:
    server = Echo()
    yield server
    server.sock.close()


@pytest.fixture(scope="module")
def running(echo: Echo) -> Iterator[ProxyThread]:
    with running_proxy(echo.address, seed=3) as proxy:
        yield proxy


@pytest.fixture
def proxy(running: ProxyThread) -> Iterator[ProxyThread]:
    running.client.reset()
    yield running
    running.client.reset()


def connect(proxy: ProxyThread, timeout: float = 5) -> socket.socket:
    sock = socket.create_connection(proxy.address(), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        data = sock.recv(n - len(out))
        if not data:
            break
        out += data
    return out


def rtt(sock: socket.socket, payload: bytes = b"ping") -> float:
    start = time.perf_counter()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.perf_counter() - start


def test_no_toxics_passes_bytes_identical(proxy: ProxyThread) -> None:
    payload = os.urandom(4 << 20)
    before = proxy.client.stats()["proxy"]
    with connect(proxy) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        got = recv_exactly(sock, len(payload))
        sender.join()
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
    after = proxy.client.stats()["proxy"]
    assert after["bytes_upstream"] - before["bytes_upstream"] == len(payload)
    assert after["bytes_downstream"] - before["bytes_downstream"] == len(payload)
    assert after["connections_total"] == before["connections_total"] + 1


def test_latency_applies_to_open_connections_and_pipelines(proxy: ProxyThread) -> None:
    """A toxic adds at least its latency (a lower bound load cannot break); the upper bounds
    leave half the latency for a busy machine and still fail a delay applied twice."""
    latency = 0.4
    with connect(proxy) as sock:
        proxy.client.add_toxic("proxy", "latency", latency=latency * 1000)
        assert latency <= rtt(sock) < 1.5 * latency
        # chunks sent apart each arrive `latency` after they were sent, where delays that
        # added up would bring the second one `latency` after the first
        start = time.perf_counter()
        sock.sendall(b"a")
        time.sleep(0.03)
        sent_b = time.perf_counter() - start
        sock.sendall(b"b")
        assert recv_exactly(sock, 1) == b"a"
        first = time.perf_counter() - start
        assert recv_exactly(sock, 1) == b"b"
        second = time.perf_counter() - start
        assert first >= latency
        assert second >= sent_b + latency
        assert second - first < latency / 2


def test_upstream_stream_and_toxicity_zero(proxy: ProxyThread) -> None:
    proxy.client.add_toxic("proxy", "latency", latency=50, stream="upstream")
    proxy.client.add_toxic("proxy", "latency", latency=1000, toxicity=0)  # never drawn
    with connect(proxy) as sock:
        assert 0.05 <= rtt(sock) < 0.05 + 0.5  # the toxic drawn would add a whole second
    toxics = {t["name"]: t for t in proxy.client.toxics("proxy")}
    assert toxics["latency_upstream"]["applied"] == 1
    assert toxics["latency_downstream"]["applied"] == 0


def test_bandwidth_caps_throughput(proxy: ProxyThread) -> None:
    proxy.client.add_toxic("proxy", "bandwidth", rate=200)  # 200 KB/s
    payload = os.urandom(100_000)
    with connect(proxy) as sock:
        start = time.perf_counter()
        sock.sendall(payload)
        got = recv_exactly(sock, len(payload))
        elapsed = time.perf_counter() - start
    assert got == payload
    assert 0.45 <= elapsed < 1.5  # 0.5 s at 200 KB/s; 200 KiB/s or kbit/s would be off


def test_limit_data_truncates_then_closes(proxy: ProxyThread) -> None:
    proxy.client.add_toxic("proxy", "limit_data", bytes=1000)
    with connect(proxy) as sock:
        sock.sendall(b"x" * 3000)
        got = recv_exactly(sock, 3000)
        assert got == b"x" * 1000
        assert sock.recv(10) == b""


def test_reset_peer_sends_rst(proxy: ProxyThread) -> None:
    proxy.client.add_toxic("proxy", "reset_peer", timeout=100)
    with connect(proxy) as sock:
        start = time.perf_counter()
        with pytest.raises(ConnectionResetError):
            sock.recv(10)
        assert 0.09 <= time.perf_counter() - start < 2  # not the 5 s socket timeout


def test_timeout_drops_data_then_closes(proxy: ProxyThread) -> None:
    proxy.client.add_toxic("proxy", "timeout", timeout=200)
    with connect(proxy) as sock:
        start = time.perf_counter()
        sock.sendall(b"dropped")
        assert sock.recv(10) == b""  # no data, then the close
        assert 0.19 <= time.perf_counter() - start < 2  # closed, not left hanging for 5 s


def test_timeout_zero_holds_until_removed(proxy: ProxyThread) -> None:
    proxy.client.add_toxic("proxy", "timeout", timeout=0)
    with connect(proxy, timeout=0.3) as sock:
        sock.sendall(b"dropped")
        with pytest.raises(TimeoutError):
            sock.recv(10)
        proxy.client.remove_toxic("proxy", "timeout_downstream")
        sock.sendall(b"passes")
        assert recv_exactly(sock, 6) == b"passes"


def test_slicer_delivers_identical_bytes_in_pieces(proxy: ProxyThread) -> None:
    proxy.client.add_toxic("proxy", "slicer", average_size=100, size_variation=50, delay=3000)
    payload = os.urandom(3000)
    with connect(proxy) as sock:
        start = time.perf_counter()
        sock.sendall(payload)
        reads = []
        while sum(map(len, reads)) < len(payload):
            reads.append(sock.recv(65536))
        elapsed = time.perf_counter() - start
    assert b"".join(reads) == payload
    assert len(reads) >= 10  # ~30 pieces 3 ms apart; the kernel may merge a few
    assert elapsed >= 0.06


def test_slow_close_delays_the_close(proxy: ProxyThread) -> None:
    """Data passes at once (well before the delay ends), the close only after the delay."""
    proxy.client.add_toxic("proxy", "slow_close", delay=600)
    with connect(proxy) as sock:
        start = time.perf_counter()
        sock.sendall(b"bye")
        sock.shutdown(socket.SHUT_WR)
        assert recv_exactly(sock, 3) == b"bye"
        assert time.perf_counter() - start < 0.3
        assert sock.recv(10) == b""
        assert 0.6 <= time.perf_counter() - start < 3


def test_toxic_expires_by_itself(proxy: ProxyThread) -> None:
    start = time.monotonic()
    added = proxy.client.add_toxic("proxy", "latency", latency=400, expires_in="2s")
    assert 0 < added["expires_in"] <= 2
    with connect(proxy) as sock:
        assert rtt(sock) >= 0.4
        while proxy.client.toxics("proxy"):
            assert time.monotonic() - start < 10, "the toxic never expired"
            time.sleep(0.05)
        assert time.monotonic() - start >= 2  # not before its time
        assert rtt(sock) < 0.4  # and its latency went with it


def test_dead_upstream_closes_the_client() -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{spare.getsockname()[1]}"  # bound, not listening: refused
        with running_proxy(dead) as proxy, connect(proxy) as sock:
            assert sock.recv(10) == b""
            deadline = time.monotonic() + 10
            while proxy.client.stats()["proxy"]["upstream_errors"] == 0:
                assert time.monotonic() < deadline
                time.sleep(0.01)


def test_disabled_proxy_refuses_then_comes_back(proxy: ProxyThread) -> None:
    with connect(proxy) as open_conn:
        proxy.client.set_enabled("proxy", False)
        assert open_conn.recv(10) == b""  # open connections are closed
    with pytest.raises(ConnectionRefusedError):
        connect(proxy)
    proxy.client.reset()  # like Toxiproxy: reset enables every proxy
    with connect(proxy) as sock:
        rtt(sock)  # echoes again
