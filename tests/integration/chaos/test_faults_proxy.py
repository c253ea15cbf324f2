"""proxy.* faults against a real fault proxy: the toxic is named after the fault id, expires
by itself, is removed by revert (twice is fine), and a proxy that is gone counts as reverted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from perfops.chaos import ProxyThread, running_proxy
from perfops.chaos.faults import FaultContext, fault_for, revert_entry
from perfops.errors import PerfopsError

UPSTREAM = "127.0.0.1:9"  # never dialled: these tests make no proxied connection


@pytest.fixture
def proxy() -> Iterator[ProxyThread]:
    with running_proxy(UPSTREAM, name="llm") as running:
        yield running


def test_toxic_injected_under_the_fault_id_and_reverted(proxy: ProxyThread) -> None:
    client = proxy.client
    ctx = FaultContext("chat", "http://127.0.0.1:9/v1", None, proxy_api=client.url)
    fault = fault_for("proxy.http_error")
    params = {"proxy": "llm", "status": 429, "retry_after": 2}
    entry = fault.plan(ctx, params, fault_id="t-429", duration_s=30)
    fault.inject(entry)
    toxic = client.toxic("llm", "t-429")
    assert (toxic["kind"], toxic["status"], toxic["retry_after"]) == ("http_error", 429, 2)
    assert 29 < toxic["expires_in"] <= 30
    fault.inject(entry)  # a retry: already there
    assert [t["name"] for t in client.toxics("llm")] == ["t-429"]
    fault.revert(entry)
    assert client.toxics("llm") == []
    fault.revert(entry)
    revert_entry(json.loads(json.dumps(entry)))


def test_the_proxy_removes_a_toxic_nobody_reverts(proxy: ProxyThread) -> None:
    client = proxy.client
    ctx = FaultContext("chat", "http://127.0.0.1:9/v1", None)
    params = {"proxy": "llm", "api": client.url, "latency": 50}
    entry = fault_for("proxy.latency").plan(ctx, params, fault_id="t-lag", duration_s=0.3)
    fault_for("proxy.latency").inject(entry)
    assert [t["name"] for t in client.toxics("llm")] == ["t-lag"]
    time.sleep(0.5)
    assert client.toxics("llm") == []


def test_unknown_proxy_and_a_gone_proxy(proxy: ProxyThread) -> None:
    url = proxy.client.url
    ctx = FaultContext("chat", "http://127.0.0.1:9/v1", None, proxy_api=url)
    fault = fault_for("proxy.ttft")
    entry = fault.plan(ctx, {"proxy": "nope", "delay": 100}, fault_id="t-x", duration_s=5)
    with pytest.raises(PerfopsError, match=r"refused to inject it on proxy 'nope' \(HTTP 404"):
        fault.inject(entry)
    fault.revert(entry)  # 404: nothing to remove


def test_revert_after_the_proxy_is_gone() -> None:
    with running_proxy(UPSTREAM, name="llm") as running:
        url = running.client.url
        ctx = FaultContext("chat", "http://127.0.0.1:9/v1", None, proxy_api=url)
        fault = fault_for("proxy.truncate")
        entry = fault.plan(ctx, {"proxy": "llm"}, fault_id="t-cut", duration_s=30)
        fault.inject(entry)
    fault.revert(entry)  # connection refused: its toxics went with it
    assert "the proxy does not answer any more" in entry["_gone"]  # for the runner to see
    with pytest.raises(PerfopsError, match="cannot reach the fault proxy's API"):
        fault.inject(entry)
