"""Real servers for tests: the simulated fleet in a thread, Prometheus on a free port."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from perfops.sim.background import FleetThread as _FleetThread
from perfops.sim.background import running_fleet


class FleetThread(_FleetThread):
    """The package's FleetThread plus the admin API, as a test drives it."""

    def admin(
        self, method: str, path: str = "", body: object = None, port: str = "front"
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.fleet.url(port) + "/admin/faults" + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
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
    tmp: Path, scrape_urls: dict[str, str], interval: str = "1s"
) -> Iterator[Prometheus]:
    """A real Prometheus on 127.0.0.1 scraping ``scrape_urls`` (job name -> /metrics URL)."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: run `make test` (it apt-get installs it)")
    jobs = []
    for job, url in scrape_urls.items():
        parsed = urllib.parse.urlparse(url)
        jobs.append(
            f"  - job_name: {job}\n    metrics_path: {parsed.path}\n"
            f"    static_configs: [{{targets: ['{parsed.netloc}']}}]\n"
        )
    config = tmp / "prometheus.yml"
    config.write_text(
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: "
        f"{interval}\nscrape_configs:\n" + "".join(jobs)
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
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
