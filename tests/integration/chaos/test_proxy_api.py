"""The control API: Toxiproxy's routes, JSON errors that name the field, the token rule."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from tests._servers import free_port

from perfops.chaos import ProxyApiError, ProxyClient, ProxyServer, ProxyThread, running_proxy
from perfops.errors import UsageError

UPSTREAM = "127.0.0.1:9"  # never dialled: these tests make no proxied connection


@pytest.fixture
def api() -> Iterator[ProxyThread]:
    with running_proxy(UPSTREAM, name="llm") as running:
        yield running


def raw(api: ProxyThread, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(api.server.url + path, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            data = resp.read()
            return resp.status, json.loads(data) if data else None
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def refused(call: Any, *args: Any, **kwargs: Any) -> ProxyApiError:
    with pytest.raises(ProxyApiError) as err:
        call(*args, **kwargs)
    return err.value


def test_toxic_lifecycle(api: ProxyThread) -> None:
    client = api.client
    made = client.add_toxic("llm", "http_error", status=429, rate=0.5, retry_after=3)
    assert made["name"] == "http_error"
    assert made["kind"] == made["type"] == "http_error"
    assert made["expires_in"] is None
    assert client.toxic("llm", "http_error")["status"] == 429
    patched = client.update_toxic("llm", "http_error", rate=0.25, expires_in=60)
    assert (patched["rate"], patched["status"]) == (0.25, 429)
    assert 59 < patched["expires_in"] <= 60
    client.add_toxic("llm", "latency", latency=10, name="lag")
    assert [t["name"] for t in client.toxics("llm")] == ["http_error", "lag"]
    assert [t["name"] for t in client.proxy("llm")["toxics"]] == ["http_error", "lag"]
    client.remove_toxic("llm", "lag")
    assert [t["name"] for t in client.toxics("llm")] == ["http_error"]
    client.reset()
    assert client.toxics("llm") == []


def test_bad_toxics_get_400_naming_the_field(api: ProxyThread) -> None:
    err = refused(api.client.add_toxic, "llm", "lag")
    assert (err.status, err.field) == (400, "kind")
    assert "valid: latency, bandwidth" in str(err)
    err = refused(api.client.add_toxic, "llm", "latency", latency="slow")
    assert (err.status, err.field) == (400, "latency")
    err = refused(api.client.add_toxic, "llm", "truncate", after=3)
    assert (err.status, err.field) == (400, "after")
    assert "after_events" in str(err)
    err = refused(api.client.update_toxic, "llm", "nope", rate=1)
    assert err.status == 404
    api.client.add_toxic("llm", "ttft", delay=100)
    err = refused(api.client.add_toxic, "llm", "ttft", delay=100)
    assert (err.status, err.field) == (409, "name")
    err = refused(api.client.update_toxic, "llm", "ttft", kind="token_delay")
    assert (err.status, err.field) == (400, "kind")
    err = refused(api.client.update_toxic, "llm", "ttft", delay=-1)
    assert (err.status, err.field) == (400, "delay")
    assert api.client.toxic("llm", "ttft")["delay"] == 100  # a refused change changes nothing


def test_bad_requests(api: ProxyThread) -> None:
    assert raw(api, "POST", "/proxies/llm/toxics", b"{not json")[0] == 400
    status, body = raw(api, "POST", "/proxies/llm/toxics", b"[1]")
    assert status == 400
    assert "JSON object" in body["error"]
    status, body = raw(api, "GET", "/proxies/nope/toxics")
    assert status == 404
    assert "proxies: llm" in body["error"]
    err = refused(api.client.create_proxy, "llm", upstream=UPSTREAM)
    assert (err.status, err.field) == (409, "name")
    err = refused(api.client.create_proxy, "two", upstream="nowhere")
    assert (err.status, err.field) == (400, "upstream")
    err = refused(api.client.create_proxy, "two", upstream=UPSTREAM, listen="127.0.0.1:99999")
    assert (err.status, err.field) == (400, "listen")
    err = refused(api.client.create_proxy, "bad name", upstream=UPSTREAM)
    assert (err.status, err.field) == (400, "name")
    status, body = raw(api, "POST", "/proxies", b'{"name": "x", "upstream": "a:1", "port": 1}')
    assert (status, body["field"]) == (400, "port")


def test_many_proxies_stats_and_metrics(api: ProxyThread) -> None:
    made = api.client.create_proxy("second", upstream=UPSTREAM)
    assert made["listen"].startswith("127.0.0.1:")
    assert set(api.client.proxies()) == {"llm", "second"}
    stats = api.client.stats()
    assert stats["second"]["connections_total"] == 0
    with urllib.request.urlopen(api.server.url + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert 'perfops_proxy_connections_total{proxy="second"} 0' in text
    assert "# TYPE perfops_proxy_connections_active gauge" in text
    api.client.delete_proxy("second")
    assert set(api.client.proxies()) == {"llm"}
    assert raw(api, "GET", "/version")[1]["api"] == "toxiproxy-like"


def test_binding_beyond_loopback_needs_a_token(api: ProxyThread) -> None:
    with pytest.raises(UsageError, match="pass --token"):
        ProxyServer(api="0.0.0.0:0")
    err = refused(api.client.create_proxy, "open", upstream=UPSTREAM, listen="0.0.0.0:0")
    assert (err.status, err.field) == (400, "listen")
    assert "pass --token" in str(err)


def test_token_is_required_when_set() -> None:
    server = ProxyServer(api=f"127.0.0.1:{free_port()}", token="s3cret")
    with ProxyThread(server) as running:
        err = refused(ProxyClient(server.url).proxies)
        assert err.status == 401
        assert running.client.proxies() == {}
