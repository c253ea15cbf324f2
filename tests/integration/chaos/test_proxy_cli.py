"""`perfops chaos proxy` through typer's CliRunner: toxics from the command line apply, bad
ones fail before anything listens."""

from __future__ import annotations

import socket
import threading
import time

from tests._servers import free_port
from typer.testing import CliRunner

from perfops.chaos import InvalidToxic, ProxyApiError, ProxyClient
from perfops.cli.chaos import app

runner = CliRunner()


def test_bad_toxic_fails_before_listening() -> None:
    listen = free_port()
    result = runner.invoke(
        app,
        [
            "proxy",
            "--upstream",
            "127.0.0.1:9",
            "--listen",
            f"127.0.0.1:{listen}",
            "--toxic",
            "lag:latency=1",
        ],
    )
    assert isinstance(result.exception, InvalidToxic)
    assert "unknown toxic kind 'lag'" in str(result.exception)
    assert "latency, bandwidth" in str(result.exception)
    with socket.socket() as s:
        s.bind(("127.0.0.1", listen))  # still free


def test_help_lists_the_options() -> None:
    result = runner.invoke(app, ["proxy", "--help"])
    assert result.exit_code == 0
    for option in ("--listen", "--upstream", "--api", "--toxic", "--name"):
        assert option in result.output


def echo_once(server: socket.socket) -> None:
    conn, _ = server.accept()
    with conn:
        while data := conn.recv(1024):
            conn.sendall(data)


def test_proxy_runs_with_toxics_from_the_command_line() -> None:
    upstream = socket.socket()
    upstream.bind(("127.0.0.1", 0))
    upstream.listen(4)
    threading.Thread(target=echo_once, args=(upstream,), daemon=True).start()
    listen, api = free_port(), free_port()
    seen: dict[str, object] = {}

    def probe() -> None:
        client = ProxyClient(f"http://127.0.0.1:{api}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                seen["toxics"] = client.toxics("llm")
                break
            except ProxyApiError:
                time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as sock:
            start = time.perf_counter()
            sock.sendall(b"ping")
            seen["echo"] = sock.recv(10)
            seen["rtt"] = time.perf_counter() - start

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    result = runner.invoke(
        app,
        [
            "proxy",
            "--upstream",
            f"127.0.0.1:{upstream.getsockname()[1]}",
            "--listen",
            f"127.0.0.1:{listen}",
            "--api",
            f"127.0.0.1:{api}",
            "--name",
            "llm",
            "--toxic",
            "latency:latency=100,expires_in=1m",
            "--duration",
            "3",
        ],
    )
    thread.join(5)
    upstream.close()
    assert result.exit_code == 0, result.output
    assert f"listening  127.0.0.1:{listen}" in result.output
    assert "toxic      latency_downstream (latency)" in result.output
    assert "stopped" in result.output
    assert seen["echo"] == b"ping"
    # the toxic applies: 100 ms, less at most the 1 ms granularity of uvloop's timers
    assert seen["rtt"] >= 0.099  # type: ignore[operator]
    (toxic,) = seen["toxics"]  # type: ignore[misc]
    assert (toxic["kind"], toxic["latency"]) == ("latency", 100)
