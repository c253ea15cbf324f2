"""Real servers for tests: the simulated fleet in a thread, Prometheus on a free port."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from perfops._internal.clock import Clock
from perfops.sim.background import FleetThread as _FleetThread
from perfops.sim.background import running_fleet


class FleetThread(_FleetThread):
    """The package's FleetThread plus the admin API, as a test drives it."""

    def admin(
        self,
        method: str,
        path: str = "",
        body: object = None,
        port: str = "front",
        token: str | None = None,
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(
            self.fleet.url(port) + "/admin/faults" + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())


@contextmanager
def sim_fleet(
    replicas: int = 2,
    *,
    gpu: str = "H100-SXM",
    model: str = "llama-3.1-8b",
    tp: int = 1,
    seed: int = 0,
    dcgm_interval: float = 0.2,
    clock: Clock | None = None,
    **engine: Any,
) -> Iterator[FleetThread]:
    with running_fleet(
        gpu=gpu,
        model=model,
        tensor_parallel=tp,
        replicas=replicas,
        seed=seed,
        dcgm_interval=dcgm_interval,
        thread=FleetThread,
        clock=clock,
        **engine,
    ) as running:
        yield running


def get(url: str, timeout: float = 10) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return str(resp.read().decode())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sim_ports(replicas: int = 1) -> tuple[int, int]:
    """A front port whose replica ports (port + 1 + i) are free too, and a DCGM port outside
    that block: `perfops sim --port P` also binds P+1..P+replicas."""
    while True:
        port = free_port()
        block = range(port, port + replicas + 1)
        if all(_bindable(p) for p in block[1:]):
            dcgm = free_port()
            if dcgm not in block:
                return port, dcgm


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, promql: str) -> list[dict[str, Any]]:
        q = urllib.parse.urlencode({"query": promql})
        data = json.loads(get(f"{self.url}/api/v1/query?{q}"))
        assert data["status"] == "success", data
        return list(data["data"]["result"])

    def wait_for(self, promql: str, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            result = self.query(promql)
            if result:
                return result
            time.sleep(0.5)
        raise AssertionError(f"no result for {promql} within {timeout}s")


@contextmanager
def prometheus(
    tmp: Path,
    scrape_urls: dict[str, str],
    interval: str = "1s",
    tsdb: Path | None = None,
    labels: dict[str, str] | None = None,
    rule_files: tuple[Path, ...] = (),
    alertmanager_url: str | None = None,
) -> Iterator[Prometheus]:
    """A real Prometheus on 127.0.0.1 scraping ``scrape_urls`` (job name -> /metrics URL),
    adding ``labels`` to every target's series, evaluating ``rule_files`` every ``interval``
    and sending its alerts to ``alertmanager_url``."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run `make test` (it apt-get installs it)")
    jobs = []
    for job, url in scrape_urls.items():
        parsed = urllib.parse.urlparse(url)
        jobs.append(
            f"  - job_name: {job}\n    metrics_path: {parsed.path}\n"
            f"    static_configs: [{{targets: ['{parsed.netloc}'], "
            f"labels: {json.dumps(labels or {})}}}]\n"
        )
    config = tmp / "prometheus.yml"
    config.write_text(
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: "
        f"{interval}\n"
        + ("scrape_configs:\n" + "".join(jobs) if jobs else "")
        + (f"rule_files: {json.dumps([str(f) for f in rule_files])}\n" if rule_files else "")
        + (
            "alerting:\n  alertmanagers:\n    - static_configs: [{targets: ["
            f"'{urllib.parse.urlparse(alertmanager_url).netloc}']}}]\n"
            if alertmanager_url
            else ""
        )
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tsdb or tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                get(f"{url}/-/ready", timeout=1)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise AssertionError(
                        f"prometheus did not start: {proc.stderr.read()}"
                    ) from None
                time.sleep(0.2)
        yield Prometheus(url)
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


class Alertmanager:
    """A running Alertmanager: push alerts to its API, read its notification counters."""

    def __init__(self, url: str) -> None:
        self.url = url

    def push(self, alerts: list[dict[str, Any]]) -> None:
        """POST /api/v2/alerts (what Prometheus does every evaluation)."""
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200, answer.read()

    def notifications(self, integration: str = "webhook") -> float:
        """Notifications sent so far by ``integration`` (successful or not)."""
        return _counter(get(f"{self.url}/metrics"), "alertmanager_notifications_total",
                        integration)  # fmt: skip

    def failed(self, integration: str = "webhook") -> float:
        return _counter(get(f"{self.url}/metrics"), "alertmanager_notifications_failed_total",
                        integration)  # fmt: skip


def _counter(text: str, name: str, integration: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and f'integration="{integration}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@contextmanager
def alertmanager(tmp: Path, config: str) -> Iterator[Alertmanager]:
    """A real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1 with ``config``
    (YAML text), clustering off, its data in ``tmp``."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.fail("alertmanager is not installed: run `make test` (it apt-get installs it)")
    path = tmp / "alertmanager.yml"
    path.write_text(config)
    port = free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={path}", f"--storage.path={tmp / 'am-data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{url}/-/ready", proc, "alertmanager")
        yield Alertmanager(url)
    finally:
        stop_process(proc)


def _wait_ready(url: str, proc: subprocess.Popen[str], what: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            get(url, timeout=1)
            return
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                err = proc.stderr.read() if proc.stderr and proc.poll() is not None else ""
                raise AssertionError(f"{what} did not start: {err}") from None
            time.sleep(0.2)


def stop_process(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


class _Quirky:
    """Targets that misbehave the ways real ones do, served from a thread on 127.0.0.1."""

    def __init__(self) -> None:
        import asyncio

        from aiohttp import web

        self._web = web
        self.loop = asyncio.new_event_loop()
        self.runner: Any = None
        self.port = 0
        self.flaky_left = 0
        self.seen_auth: list[str | None] = []

    async def _start(self) -> None:
        import asyncio

        web = self._web

        async def text(body: str, ctype: str = "text/plain") -> Any:
            return web.Response(text=body, content_type=ctype)

        async def html(_: Any) -> Any:
            return await text("<!DOCTYPE html><html><body>login</body></html>", "text/html")

        async def garbage(_: Any) -> Any:
            return await text('ok_metric 1\nbroken_metric{a="x" 2\n')

        async def slow(_: Any) -> Any:
            await asyncio.sleep(60)
            return await text("late 1\n")

        async def good(_: Any) -> Any:
            return await text(
                '# TYPE temp gauge\ntemp{room="a"} 21.5\ntemp{room="b"} NaN\ntemp{room="c"} +Inf\n'
            )

        async def stamped(_: Any) -> Any:  # samples with their own times, as /federate gives
            return await text(
                "# TYPE pushed counter\n"
                'pushed_total{job="batch"} 9 1700000015000\n'
                'pushed_total{job="cron"} 1 1700000000000\n'
            )

        async def flood(_: Any) -> Any:
            return await text("".join(f'flood{{i="{i}"}} {i}\n' for i in range(100_000)))

        async def error(_: Any) -> Any:
            return web.Response(status=500, text="boom")

        app = web.Application()
        for path, handler in (
            ("/html", html),
            ("/garbage", garbage),
            ("/slow", slow),
            ("/good", good),
            ("/flood", flood),
            ("/error", error),
            ("/stamped", stamped),
        ):
            app.router.add_get(path, handler)
        app.router.add_post("/api/v1/query_range", self._flaky_range)
        self.runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _flaky_range(self, request: Any) -> Any:
        self.seen_auth.append(request.headers.get("Authorization"))
        if self.flaky_left > 0:
            self.flaky_left -= 1
            return self._web.Response(status=503, text="try later")
        form = await request.post()
        if form["query"] == "bad(":
            return self._web.json_response(
                {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"},
                status=400,
            )
        return self._web.json_response(
            {
                "status": "success",
                "data": {
                    "resultType": "matrix",
                    "result": [
                        {
                            "metric": {"__name__": "x", "a": "1"},
                            "values": [[float(form["start"]), "1"]],
                        }
                    ],
                },
            }
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def quirky_targets() -> Iterator[_Quirky]:
    with _in_thread(_Quirky()) as server:
        yield server


@contextmanager
def hanging_tcp() -> Iterator[str]:
    """A TCP port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/metrics"
    finally:
        sock.close()


class ScriptedLLM:
    """An OpenAI-compatible server with exact, scripted timing, for asserting measurements.

    Every streamed answer waits ``ttft`` seconds, then sends ``max_tokens`` chunks ``itl``
    apart; a chat answer first sends an empty role chunk at once, as vLLM does (it is no
    token). ``serial`` serves one request at a time (a queue builds behind it); ``mode``
    'truncate' cuts the stream before ``[DONE]``, 'malformed' sends a broken chunk, 'fail'
    answers HTTP 503."""

    def __init__(self, ttft: float = 0.1, itl: float = 0.02, *, serial: bool = False) -> None:
        import asyncio

        from aiohttp import web

        self._web = web
        self.ttft, self.itl, self.serial = ttft, itl, serial
        self.mode = "ok"
        self.usage = True
        self.loop = asyncio.new_event_loop()
        self._lock: Any = None
        self.runner: Any = None
        self.port = 0
        self.served = 0

    async def _start(self) -> None:
        import asyncio

        web = self._web
        self._lock = asyncio.Lock()
        app = web.Application()
        app.router.add_post("/v1/completions", self._complete)
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_get("/v1/models", self._models)
        self.runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _models(self, _: Any) -> Any:
        return self._web.json_response({"object": "list", "data": [{"id": "scripted"}]})

    async def _complete(self, request: Any) -> Any:
        import asyncio
        import contextlib

        body = await request.json()
        if self.mode == "fail":
            return self._web.json_response({"error": {"message": "busy"}}, status=503)
        guard = self._lock if self.serial else contextlib.nullcontext()
        async with guard:
            return await self._stream(request, body, asyncio)

    async def _stream(self, request: Any, body: dict[str, Any], asyncio: Any) -> Any:
        resp = self._web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        chat = "messages" in body
        n = int(body.get("max_tokens", 8))
        if chat:
            role = {"index": 0, "delta": {"role": "assistant", "content": ""}}
            await resp.write(f"data: {json.dumps({'id': 'x', 'choices': [role]})}\n\n".encode())
        await asyncio.sleep(self.ttft)
        for i in range(n):
            if i:
                await asyncio.sleep(self.itl)
            if self.mode == "malformed" and i == 2:
                await resp.write(b"data: {not json\n\n")
                continue
            delta = {"delta": {"content": f" t{i}"}} if chat else {"text": f" t{i}"}
            chunk = {"id": "x", "choices": [{"index": 0, **delta, "finish_reason": None}]}
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        if self.mode == "truncate":
            await resp.write_eof()
            return resp
        if self.usage and body.get("stream_options", {}).get("include_usage"):
            usage = {"prompt_tokens": 7, "completion_tokens": n, "total_tokens": n + 7}
            await resp.write(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        self.served += 1
        return resp

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@contextmanager
def scripted_llm(**kw: Any) -> Iterator[ScriptedLLM]:
    with _in_thread(ScriptedLLM(**kw)) as server:
        yield server


S = TypeVar("S", _Quirky, ScriptedLLM)


@contextmanager
def _in_thread(server: S) -> Iterator[S]:
    """Run an aiohttp test server (with ``loop``, ``_start()`` and ``runner``) in a thread."""
    import asyncio

    thread = threading.Thread(target=server.loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server._start(), server.loop).result(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.runner.cleanup(), server.loop).result(10)
        server.loop.call_soon_threadsafe(server.loop.stop)
        thread.join(5)
        server.loop.close()


def sim_service_yaml(fleet: Any, *, metrics: bool = True, extra: str = "") -> str:
    """A perfops.yaml with one service, `chat`, pointing at ``fleet`` (plus ``extra``)."""
    lines = [
        "apiVersion: perfops/v1",
        "services:",
        "  - name: chat",
        f"    endpoint: {fleet.url()}",
        "    model: llama-3.1-8b",
        "    gpu: {type: H100-SXM, count: 1}",
    ]
    if metrics:
        lines.append(f"    metrics: [{fleet.url('replica-0-metrics')}]")
    return "\n".join(lines) + "\n" + extra


T = TypeVar("T")


def wait_until(what: str, probe: Callable[[], T | None], timeout: float = 90) -> T:
    """``probe()``'s first truthy answer, polled every 0.5 s; an AssertionError naming
    ``what`` after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def _clean_env(**extra: str) -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PERFOPS")} | extra


@contextmanager
def incident_receiver(workspace: Path, token: str | None = None) -> Iterator[str]:
    """`perfops incident serve` on a free loopback port (with ``token`` as its bearer token);
    yields the webhook URL once it answers at all (a 401 without the token is an answer)."""
    import sys
    import urllib.error

    port = free_port()
    args = [sys.executable, "-m", "perfops", "incident", "serve", "--port", str(port)]
    env = _clean_env(AM_TOKEN=token) if token else _clean_env()
    if token:
        args += ["--token-env", "AM_TOKEN"]
    proc = subprocess.Popen(args, cwd=workspace, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert proc.poll() is None, "the receiver exited"
        try:
            urllib.request.urlopen(f"{base}/-/healthy", timeout=1)
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    try:
        wait_until("the receiver answers", answers, 60)
        yield f"{base}/alertmanager"
    finally:
        stop_process(proc)


class Served:
    """A `perfops` serving command run by :func:`served_until_ctrl_c`: its URL, and once
    stopped its exit status and output."""

    url: str = ""
    returncode: int | None = None
    output: str = ""


@contextmanager
def served_until_ctrl_c(workspace: Path, *args: str, url: str) -> Iterator[Served]:
    """``perfops ARGS`` in ``workspace`` until the block ends, then Ctrl-C (SIGINT); the
    first line it prints must hold a URL matching the regular expression ``url``. A command
    still running 120 s after Ctrl-C is killed (never left running into the next test) and
    fails the test."""
    import re
    import signal
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "perfops", *args], cwd=workspace,
                            env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip
    served = Served()
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(url, line)
        assert found, line
        served.url = found[0]
        yield served
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            served.output = proc.communicate(timeout=120)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise AssertionError(f"perfops {' '.join(args)} did not stop on Ctrl-C") from None
        served.returncode = proc.returncode


def load_tested_workspace(root: Path, extra: str) -> Path:
    """``root`` as a workspace whose lake holds a 3 s load test (12 req/s) on a two-replica
    `perfops sim`, the replicas' engine metrics and the DCGM exporter scraped while it ran;
    ``extra`` is appended to its perfops.yaml (SLOs, pricing). The sim is gone on return."""
    from tests.conftest import run_cli

    with sim_fleet(replicas=2, dcgm_interval=0.2) as fleet:
        telemetry = f"""telemetry:
  interval: 1s
  targets:
    - {{name: dcgm, kind: dcgm, url: "{fleet.url("dcgm-metrics")}", service: chat}}
{extra}"""
        (root / "perfops.yaml").write_text(sim_service_yaml(fleet, extra=telemetry))
        run = run_cli(
            "load", "run", "--service", "chat", "--rate", "12", "--duration", "3s",
            "--max-tokens", "32", cwd=root, timeout=120,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
    return root
