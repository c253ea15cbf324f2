"""What perfops load measures, against a server whose timing is scripted exactly."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest
from tests._servers import scripted_llm

from perfops.loadgen.client import Target
from perfops.loadgen.records import RequestRecord
from perfops.loadgen.runner import Plan, run_open_loop
from perfops.loadgen.summary import summarize

SLACK = 0.25  # how late a busy machine may read a chunk; less than the script's next step


def payloads(n: int, tokens: int = 8, chat: bool = False) -> list[dict[str, object]]:
    if chat:
        return [
            {
                "model": "scripted",
                "messages": [{"role": "user", "content": f"q{i}"}],
                "max_tokens": tokens,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            for i in range(n)
        ]
    return [
        {
            "model": "scripted",
            "prompt": f"q{i}",
            "max_tokens": tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        for i in range(n)
    ]


def run(
    url: str,
    n: int,
    rate: float,
    *,
    tokens: int = 8,
    max_in_flight: int | None = None,
    chat: bool = False,
) -> list[RequestRecord]:
    target = Target(url, "scripted", "chat" if chat else "completions")
    plan = Plan(
        payloads(n, tokens, chat), [i / rate for i in range(n)], n / rate + 1, max_in_flight
    )
    return asyncio.run(run_open_loop(target, plan))


@pytest.mark.parametrize("chat", [False, True], ids=["completions", "chat"])
def test_ttft_itl_and_tokens_match_the_script(chat: bool) -> None:
    """Bounds a busy machine cannot break: the client can only see a chunk after the server
    sent it, so every time is at least what the script waits; the slack above it (SLACK, for
    a client that reads late) is far smaller than the next scripted chunk, so a TTFT taken on
    the wrong chunk, from the wrong origin, or on the chat answer's empty role chunk fails."""
    ttft, itl, tokens = 0.1, 0.25, 4
    with scripted_llm(ttft=ttft, itl=itl) as server:
        records = run(server.url, 4, 4.0, tokens=tokens, chat=chat)
    summary = summarize(records)
    assert summary.completed == 4
    for rec in records:
        assert (rec.output_tokens, rec.tokens_source, rec.chunks) == (tokens, "usage", tokens)
        assert rec.scheduled_ns <= rec.sent_ns < rec.first_token_ns < rec.end_ns
        assert len(rec.chunk_gaps_ns) == tokens - 1
        assert rec.first_token_ns + sum(rec.chunk_gaps_ns) == rec.end_ns
        assert ttft <= rec.ttft_s < ttft + SLACK
        assert rec.e2e_s >= ttft + (tokens - 1) * itl
        assert sum(rec.chunk_gaps_ns) / 1e9 > (tokens - 1) * itl - SLACK
        # response time from the schedule = service time + schedule lag, per request
        assert rec.ttft_sched_s == pytest.approx(rec.ttft_s + rec.lag_s, abs=1e-9)
        assert rec.e2e_sched_s == pytest.approx(rec.e2e_s + rec.lag_s, abs=1e-9)
    e2e = sorted(r.e2e_s for r in records)
    assert summary.latency_ms["e2e"]["p50"] == pytest.approx(e2e[1] * 1000, rel=1e-3)
    assert summary.latency_ms["ttft"]["p50"] >= ttft * 1000
    assert summary.latency_ms["itl"]["count"] == 4 * (tokens - 1)  # token-weighted: per gap


def test_chunk_counting_when_the_server_sends_no_usage() -> None:
    with scripted_llm(ttft=0.01, itl=0.001) as server:
        server.usage = False
        (rec,) = run(server.url, 1, 1.0, tokens=5, chat=True)
    assert rec.ok
    assert (rec.output_tokens, rec.tokens_source) == (5, "chunks")


@pytest.mark.parametrize(
    ("mode", "kind"),
    [("truncate", "truncated"), ("malformed", "malformed_sse"), ("fail", "http_503")],
)
def test_broken_answers_are_counted_by_kind_and_the_run_goes_on(mode: str, kind: str) -> None:
    with scripted_llm(ttft=0.01, itl=0.001) as server:
        server.mode = mode
        records = run(server.url, 4, 20.0)
    summary = summarize(records)
    assert summary.errors == {kind: 4}
    assert summary.completed == 0
    assert summary.count == 4


def test_unreachable_target_is_counted_not_fatal() -> None:
    records = run("http://127.0.0.1:9/v1", 3, 50.0)
    assert summarize(records).errors == {"connect": 3}


def test_coordinated_omission_open_loop_shows_the_queue() -> None:
    """10 req/s against a server that serves one request at a time in 200 ms: the backlog
    grows by 5 requests a second, and the tail latency must say so."""
    with scripted_llm(ttft=0.2, itl=0.0, serial=True) as server:
        records = run(server.url, 30, 10.0, tokens=1)
    summary = summarize(records)
    assert summary.completed == 30
    # 30 requests take the server >= 6 s; the last, due at 2.9 s, waits >= 3.1 s
    assert summary.latency_ms["e2e_from_schedule"]["p99"] >= 3100
    # the queue is the server's: the client sent the last request before the 21st answer
    # (due no earlier than 4.2 s) came back; a closed loop would have waited for each answer
    assert max(r.sent_ns for r in records) < sorted(r.end_ns for r in records)[20]
    assert summary.lag_ms["p99"] < summary.latency_ms["e2e_from_schedule"]["p99"] / 10


def test_coordinated_omission_with_a_client_cap_splits_response_and_service_time() -> None:
    """A cap of 1 request in flight against a 500 ms server at 10 req/s (vLLM #54101): the
    client waits, response time from the schedule grows, service time stays ~500 ms."""
    with scripted_llm(ttft=0.5, itl=0.0) as server:
        records = run(server.url, 8, 10.0, tokens=1, max_in_flight=1)
    summary = summarize(records)
    assert summary.completed == 8
    # one at a time: each request left after the one before it had its answer
    assert all(b.sent_ns >= a.end_ns for a, b in zip(records, records[1:], strict=False))
    # service time is the server's 0.5 s (plus a busy machine's slack), never the wait
    assert all(r.e2e_s >= 0.5 for r in records)
    assert summary.latency_ms["e2e"]["p99"] < 500 + 1000
    # the last, due at 0.7 s, left after 7 x 0.5 s: >= 2.8 s of lag, >= 3.3 s from schedule
    assert summary.latency_ms["e2e_from_schedule"]["p99"] >= 3300
    assert summary.lag_ms["p99"] >= 2800
    assert summary.client_limited  # and the client says it set the pace
    assert "free of coordinated omission" in summary.definitions["e2e_from_schedule"]


def test_openai_client_agrees_on_ttft() -> None:
    """The official client and perfops see the same first token: the fastest of 5 requests
    each, within 50 ms (a busy machine delays some reads; the fastest of 5 escapes it), where
    a wrong chunk would be off by the script's 100 ms steps."""
    with scripted_llm(ttft=0.1, itl=0.1) as server:
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        theirs = []
        for i in range(5):
            start = time.perf_counter()
            for chunk in client.chat.completions.create(
                model="scripted",
                messages=[{"role": "user", "content": f"q{i}"}],
                max_tokens=3,
                stream=True,
            ):
                if chunk.choices and chunk.choices[0].delta.content:
                    theirs.append(time.perf_counter() - start)
                    break
        ours = [r.ttft_s for r in run(server.url, 5, 5.0, tokens=3, chat=True)]
    assert min(theirs) >= 0.1
    assert min(ours) >= 0.1
    assert min(ours) == pytest.approx(min(theirs), abs=0.05)


def test_two_worker_processes_share_one_schedule() -> None:
    from perfops.loadgen.workers import auto_workers, run_workers

    with scripted_llm(ttft=0.01, itl=0.001) as server:
        target = Target(server.url, "scripted")
        plan = Plan(payloads(40, 2), [i / 40 for i in range(40)], 2.0)
        records = asyncio.run(run_workers(target, plan, 2))
    assert [r.index for r in records] == list(range(40))
    assert all(r.ok for r in records)
    gaps = {records[i + 1].scheduled_ns - records[i].scheduled_ns for i in range(39)}
    assert gaps == {25_000_000}  # one schedule, interleaved across the workers
    assert all(r.sent_ns >= r.scheduled_ns for r in records)  # no worker ran ahead of it
    assert summarize(records).completed == 40
    assert auto_workers(100.0, cpus=8) == 1
    assert auto_workers(2000.0, cpus=2) == 2
