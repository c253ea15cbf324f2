"""HTTP and SSE toxics, per request on keep-alive connections, measured through the proxy
against the simulated fleet with the official openai client and raw sockets."""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import socket
import statistics
import time
from collections.abc import Iterator

import openai
import pytest
from tests._servers import FleetThread, sim_fleet

from perfops.chaos import ProxyThread, running_proxy

MODEL = "llama-3.1-8b"


@pytest.fixture(scope="module")
def fleet() -> Iterator[FleetThread]:
    with sim_fleet(replicas=1) as running:
        yield running
        deadline = time.monotonic() + 10  # streams cut by toxics end as their next write fails
        while any(r.outstanding for r in running.fleet.replicas) and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture(scope="module")
def running(fleet: FleetThread) -> Iterator[ProxyThread]:
    with running_proxy(f"127.0.0.1:{fleet.fleet.ports['front']}", name="llm", seed=11) as proxy:
        yield proxy


@pytest.fixture
def proxy(running: ProxyThread) -> Iterator[ProxyThread]:
    running.client.reset()
    yield running
    running.client.reset()


def llm(proxy: ProxyThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.url("llm", "/v1"), api_key="sim", max_retries=0)


def timing(client: openai.OpenAI, tokens: int = 10) -> tuple[float, float]:
    """(TTFT, mean gap between content chunks) of one streamed completion, in seconds."""
    start = time.perf_counter()
    chunks = client.completions.create(model=MODEL, prompt="hi", max_tokens=tokens, stream=True)
    stamps = [time.perf_counter() for c in chunks if c.choices and c.choices[0].text]
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    return stamps[0] - start, statistics.mean(gaps)


def stream_raw(proxy: ProxyThread, tokens: int) -> tuple[bytes, bytes]:
    """(response head, body as sent on the wire) of one streamed completion, read to EOF."""
    body = json.dumps({"model": MODEL, "prompt": "hi", "max_tokens": tokens, "stream": True})
    request = (
        "POST /v1/completions HTTP/1.1\r\nHost: sim\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}"
    ).encode()
    with socket.create_connection(proxy.address("llm"), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def dechunk(body: bytes) -> tuple[bytes, bool]:
    """(decoded body, whether the last chunk came)."""
    out, pos = b"", 0
    while pos < len(body):
        end = body.index(b"\r\n", pos)
        size = int(body[pos:end], 16)
        if size == 0:
            return out, True
        out += body[end + 2 : end + 2 + size]
        pos = end + 4 + size
    return out, False


def test_no_toxics_answers_like_the_server(proxy: ProxyThread, fleet: FleetThread) -> None:
    direct = openai.OpenAI(base_url=fleet.url(), api_key="sim", max_retries=0)
    kw = {"model": MODEL, "prompt": "same", "max_tokens": 8, "seed": 5}
    assert llm(proxy).completions.create(**kw).choices[0].text == (
        direct.completions.create(**kw).choices[0].text
    )
    streamed = [c.choices[0].text for c in llm(proxy).completions.create(**kw, stream=True)]
    assert "".join(streamed) == direct.completions.create(**kw).choices[0].text


def test_http_error_rate_is_per_request(proxy: ProxyThread) -> None:
    """n = 200 requests on ONE keep-alive connection at rate 0.3: 60 ± 3 sigma errors."""
    proxy.client.add_toxic("llm", "http_error", status=503, rate=0.3, retry_after=2)
    host, port = proxy.address("llm")
    conn = http.client.HTTPConnection(host, port, timeout=10)
    n, errors, statuses = 200, 0, set()
    conn.request("GET", "/v1/models")
    first = conn.getresponse()
    first.read()
    sock = conn.sock
    for _ in range(n - 1):
        conn.request("GET", "/v1/models")
        resp = conn.getresponse()
        body = json.loads(resp.read())
        statuses.add(resp.status)
        if resp.status == 503:
            errors += 1
            assert resp.getheader("Retry-After") == "2"
            assert body["error"]["code"] == 503
            assert body["error"]["type"] == "service_unavailable"
        else:
            assert body["data"][0]["id"] == MODEL
    errors += first.status == 503
    assert conn.sock is sock  # never reconnected: the errors did not cost the connection
    conn.close()
    sigma = math.sqrt(n * 0.3 * 0.7)
    assert abs(errors - n * 0.3) <= 3 * sigma
    assert statuses == {200, 503}
    assert proxy.client.toxic("llm", "http_error")["applied"] == errors


def test_openai_client_sees_the_injected_rate_limit(proxy: ProxyThread) -> None:
    proxy.client.add_toxic("llm", "http_error", status=429, retry_after=1.5, path="/v1/chat")
    client = llm(proxy)
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert err.value.response.headers["Retry-After"] == "2"
    assert err.value.response.headers["retry-after-ms"] == "1500"
    assert "injected fault" in err.value.message
    assert client.models.list().data[0].id == MODEL  # path filter: /v1/models untouched


def test_toxic_added_mid_connection_hits_the_next_request(proxy: ProxyThread) -> None:
    host, port = proxy.address("llm")
    conn = http.client.HTTPConnection(host, port, timeout=10)
    statuses, sockets = [], set()
    for step in range(3):
        if step == 1:
            proxy.client.add_toxic("llm", "http_error", status=500)
        if step == 2:
            proxy.client.remove_toxic("llm", "http_error")
        conn.request("GET", "/v1/models")
        resp = conn.getresponse()
        resp.read()
        statuses.append(resp.status)
        sockets.add(id(conn.sock))
    conn.close()
    assert len(sockets) == 1  # one keep-alive connection throughout
    assert statuses == [200, 500, 200]


# A toxic adds at least its delay (bounds from below that load cannot break); from above, each
# test leaves a busy machine SLACK beside a baseline measured just before, less than the error
# it is there to catch.
SLACK = 0.2


def baseline(client: openai.OpenAI) -> tuple[float, float]:
    """(TTFT, mean gap) without toxics: the fastest of 3, what this host does right now."""
    ttfts, gaps = zip(*(timing(client) for _ in range(3)), strict=True)
    return min(ttfts), min(gaps)


def test_ttft_delays_the_first_token_only(proxy: ProxyThread) -> None:
    client = llm(proxy)
    base_ttft, base_gap = baseline(client)
    proxy.client.add_toxic("llm", "ttft", delay=500)
    ttft, gap = timing(client)
    assert 0.5 <= ttft < base_ttft + 0.5 + SLACK  # once: twice would be 0.5 s more
    assert gap < base_gap + SLACK  # the stream keeps its pace (0.5 s more a gap if not)


def test_token_delay_widens_every_gap(proxy: ProxyThread) -> None:
    client = llm(proxy)
    base_ttft, base_gap = baseline(client)
    proxy.client.add_toxic("llm", "token_delay", delay=100)
    ttft, gap = timing(client)
    assert 0.1 <= gap < base_gap + 0.1 + SLACK  # delays that added up: 0.5 s more a gap
    assert ttft < base_ttft + SLACK  # the first token is not delayed


def test_truncate_cuts_at_an_event_boundary(proxy: ProxyThread) -> None:
    proxy.client.add_toxic("llm", "truncate", after_events=3)
    head, body = stream_raw(proxy, tokens=12)
    assert head.startswith(b"HTTP/1.1 200")
    decoded, complete = dechunk(body)
    assert complete  # a well-formed chunked body: the cut is only visible in the events
    events = decoded.split(b"\n\n")
    assert events[-1] == b""  # ends on a blank line: no partial event
    assert len(events[:-1]) == 3
    for event in events[:-1]:
        assert event.startswith(b"data: ")
        json.loads(event.removeprefix(b"data: "))  # whole events only
    assert b"[DONE]" not in decoded
    stream = llm(proxy).completions.create(model=MODEL, prompt="x", max_tokens=12, stream=True)
    chunks = list(stream)
    assert len(chunks) == 3
    assert all(c.choices[0].finish_reason is None for c in chunks)


def test_malformed_chunk_breaks_the_client(proxy: ProxyThread) -> None:
    proxy.client.add_toxic("llm", "malformed_chunk", event=2)
    _, body = stream_raw(proxy, tokens=6)
    decoded, complete = dechunk(body)
    assert complete
    payloads = [e.removeprefix(b"data: ") for e in decoded.split(b"\n\n") if e]
    with pytest.raises(json.JSONDecodeError):
        json.loads(payloads[2])
    assert all(json.loads(p) for p in payloads[:2])
    stream = llm(proxy).completions.create(model=MODEL, prompt="x", max_tokens=6, stream=True)
    with pytest.raises(json.JSONDecodeError):
        list(stream)


def test_concurrent_streams_each_get_their_own_draw(proxy: ProxyThread) -> None:
    """16 streams at once on separate connections, half drawn for an error: every answer is
    either the injected 503 or a complete stream, never a mix."""
    proxy.client.add_toxic("llm", "http_error", rate=0.5)
    proxy.client.add_toxic("llm", "token_delay", delay=5)

    async def one(client: openai.AsyncOpenAI) -> str:
        try:
            stream = await client.completions.create(
                model=MODEL, prompt="x", max_tokens=6, stream=True
            )
            chunks = [c async for c in stream]
        except openai.InternalServerError as err:
            return f"error {err.status_code}"
        assert chunks[-1].choices[0].finish_reason is not None
        return "complete"

    async def main() -> list[str]:
        async with openai.AsyncOpenAI(
            base_url=proxy.url("llm", "/v1"), api_key="sim", max_retries=0
        ) as client:
            return await asyncio.gather(*(one(client) for _ in range(16)))

    outcomes = asyncio.run(main())
    assert set(outcomes) == {"error 503", "complete"}
    assert outcomes.count("error 503") == proxy.client.toxic("llm", "http_error")["applied"]
