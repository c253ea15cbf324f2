"""HTTP/1.1 framing as the proxy tracks it: pass-through is exact whatever the read sizes,
per-request plans land on the right response, SSE events are cut at boundaries only."""

from __future__ import annotations

import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from perfops.chaos import parse_toxic
from perfops.chaos._http import Exchange, Requests, Responses
from perfops.chaos._plan import Plan
from perfops.chaos._stages import Item, Signal
from perfops.chaos.toxics import Toxic

RESPONSES = (
    b"HTTP/1.1 100 Continue\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n"
    b"HTTP/1.1 204 No Content\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"  # answer to HEAD: no body
    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
)
METHODS = [b"POST", b"GET", b"DELETE", b"HEAD", b"GET"]

REQUESTS = (
    b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    b'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 13\r\n\r\n{"stream": 1}'
    b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwxyz\r\n0\r\n\r\n"
    b"GET http://host/abs?q=1 HTTP/1.1\r\n\r\n"
)


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


def run(side: Requests | Responses, chunks: list[bytes]) -> tuple[bytes, list[Item]]:
    out: list[Item] = []
    for i, chunk in enumerate(chunks):
        items = side.feed(chunk, float(i))
        out.extend([(chunk, float(i))] if items is None else items)
    return b"".join(d for d, _ in out if isinstance(d, bytes)), out


def toxic(**spec: object) -> Toxic:
    return Toxic(parse_toxic(spec), 1, 0.0)


def plan_of(*toxics: Toxic) -> Plan:
    plan = Plan()
    for t in toxics:
        plan.add(t)
    return plan


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0), max_size=12))
def test_responses_pass_through_untouched_at_any_split(cuts: list[int]) -> None:
    side = Responses(lambda items: None, lambda: 0.0)
    for method in METHODS:
        side.expect(Exchange(method))
    chunks = split(RESPONSES, cuts)
    assert all(side.feed(c, 0.0) is None for c in chunks)
    assert not side.pending
    assert side.body is None
    assert not side.opaque


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0), max_size=12))
def test_requests_pass_through_and_plan_once_each(cuts: list[int]) -> None:
    seen: list[tuple[bytes, bytes]] = []
    responses = Responses(lambda items: None, lambda: 0.0)

    def plan(method: bytes, path: bytes) -> Plan | None:
        seen.append((method, path))
        return None

    out, _ = run(Requests(plan, responses), split(REQUESTS, cuts))
    assert out == REQUESTS
    assert seen == [
        (b"GET", b"/a"),
        (b"POST", b"/v1/chat/completions"),
        (b"POST", b"/up"),
        (b"GET", b"/abs?q=1"),
    ]
    assert [e.method for e in responses.pending] == [b"GET", b"POST", b"POST", b"GET"]


def test_injected_error_swallows_the_request_and_answers_in_turn() -> None:
    emitted: list[Item] = []
    responses = Responses(emitted.extend, lambda: 7.0)
    error = toxic(kind="http_error", status=429, retry_after=1.5)

    def plan(method: bytes, path: bytes) -> Plan | None:
        return plan_of(error) if path == b"/v1/chat/completions" else None

    requests = Requests(plan, responses)
    out, _ = run(requests, [REQUESTS])
    assert b"/v1/chat/completions" not in out
    assert b'{"stream": 1}' not in out
    assert out.count(b"HTTP/1.1") == 3
    # the answer to request 2 waits for response 1, then goes out before response 3
    assert emitted == []
    first = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    got, _ = run(responses, [first + b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz"])
    head, _, body = got[len(first) :].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
    assert b"Retry-After: 2\r\n" in head + b"\r\n"
    assert b"retry-after-ms: 1500" in head
    error_body = json.loads(body[: body.index(b"HTTP/1.1")])
    assert error_body["error"]["code"] == 429
    assert error_body["error"]["type"] == "rate_limit_error"
    assert got.endswith(b"z")


def test_injected_error_when_idle_goes_out_at_once() -> None:
    emitted: list[Item] = []
    responses = Responses(emitted.extend, lambda: 3.0)
    requests = Requests(lambda m, p: plan_of(toxic(kind="http_error")), responses)
    assert requests.feed(b"GET / HTTP/1.1\r\n\r\n", 3.0) == []
    assert emitted[0][0].startswith(b"HTTP/1.1 503 Service Unavailable")  # type: ignore[union-attr]
    assert emitted[0][1] == 3.0
    assert not responses.pending


def test_not_http_goes_opaque_and_passes_everything() -> None:
    responses = Responses(lambda items: None, lambda: 0.0)
    requests = Requests(lambda m, p: None, responses)
    tls = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
    assert requests.feed(tls, 0.0) is None
    assert requests.opaque
    assert responses.feed(b"\x16\x03\x03 anything", 0.0) is None
    assert responses.opaque


def test_upgrade_turns_both_sides_opaque_after_the_101() -> None:
    responses = Responses(lambda items: None, lambda: 0.0)
    requests = Requests(lambda m, p: None, responses)
    req = b"GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"
    out, _ = run(requests, [req])
    assert out == req
    assert requests.opaque
    assert responses.feed(b"HTTP/1.1 101 Switching Protocols\r\n\r\n\x81\x02hi", 0.0) is None
    assert responses.opaque


def sse_response(events: list[bytes], chunked: bool = True) -> bytes:
    body = b"".join(events)
    if not chunked:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    framed = b"".join(b"%x\r\n%b\r\n" % (len(e), e) for e in events)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
    return head + b"\r\n" + framed + b"0\r\n\r\n"


EVENTS = [b'data: {"i": %d}\n\n' % i for i in range(6)] + [b"data: [DONE]\n\n"]


def dechunk(body: bytes) -> bytes:
    out, pos = b"", 0
    while True:
        line_end = body.index(b"\r\n", pos)
        size = int(body[pos:line_end], 16)
        if size == 0:
            return out
        out += body[line_end + 2 : line_end + 2 + size]
        pos = line_end + 4 + size


def planned(plan: Plan, data: bytes, cuts: list[int]) -> tuple[bytes, list[Item]]:
    responses = Responses(lambda items: None, lambda: 0.0)
    responses.expect(Exchange(b"POST", plan))
    return run(responses, split(data, cuts))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0), max_size=10), st.integers(0, 8))
def test_truncate_cuts_at_an_event_boundary(cuts: list[int], after: int) -> None:
    plan = plan_of(toxic(kind="truncate", after_events=after))
    out, items = planned(plan, sse_response(EVENTS), cuts)
    _, _, body = out.partition(b"\r\n\r\n")
    kept = EVENTS[:after]
    assert body == b"".join(b"%x\r\n%b\r\n" % (len(e), e) for e in kept) + b"0\r\n\r\n"
    assert (items[-1][0] is Signal.CLOSE) == (after <= len(EVENTS))  # cut right after event N


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0), max_size=10))
def test_malformed_chunk_keeps_length_and_breaks_json(cuts: list[int]) -> None:
    plan = plan_of(toxic(kind="malformed_chunk", event=2))
    out, _ = planned(plan, sse_response(EVENTS, chunked=False), cuts)
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"Content-Length: %d" % len(body) in head
    payloads = re.findall(rb"data: (.*)\n\n", body)
    assert payloads[2] == b'{{"i": 2'
    for i, p in enumerate(payloads[:-1]):
        if i != 2:
            assert json.loads(p) == {"i": i}


def test_ttft_and_token_delay_set_release_times_per_event() -> None:
    plan = plan_of(toxic(kind="ttft", delay=300), toxic(kind="token_delay", delay=50))
    data = sse_response(EVENTS[:3])
    head_end = data.index(b"\r\n\r\n") + 4
    responses = Responses(lambda items: None, lambda: 0.0)
    responses.expect(Exchange(b"POST", plan))
    items = responses.feed(data[:head_end], 1.0)
    assert items is None  # headers are not delayed
    items = responses.feed(data[head_end:], 2.0)
    assert items is not None
    times = [t for d, t in items]
    assert times[:3] == [2.3, 2.35, 2.4]  # event k: arrival + ttft + k * token_delay
    assert dechunk(b"".join(d for d, _ in items if isinstance(d, bytes))) == b"".join(EVENTS[:3])


def test_ttft_holds_a_plain_body_from_its_first_byte() -> None:
    plan = plan_of(toxic(kind="ttft", delay=200), toxic(kind="token_delay", delay=50))
    responses = Responses(lambda items: None, lambda: 0.0)
    responses.expect(Exchange(b"GET", plan))
    assert responses.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", 1.0) is None
    assert responses.feed(b"ab", 1.5) == [(b"ab", 1.7)]
    assert responses.feed(b"cd", 1.8) == [(b"cd", 1.8)]
    assert not responses.pending


def test_unplanned_response_after_a_planned_one_passes() -> None:
    plan = plan_of(toxic(kind="truncate", after_events=100))
    responses = Responses(lambda items: None, lambda: 0.0)
    responses.expect(Exchange(b"POST", plan))
    responses.expect(Exchange(b"GET"))
    first = sse_response(EVENTS)
    second = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    out, _ = run(responses, [first + second[:10], second[10:]])
    assert out.endswith(second)
    _, _, body = out[: -len(second)].partition(b"\r\n\r\n")
    assert dechunk(body) == b"".join(EVENTS)
    assert responses.feed(second, 9.0) is None or not responses.pending
