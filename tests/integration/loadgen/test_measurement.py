"""What perfops load measures, against a server whose timing is scripted exactly."""

from __future__ import annotations

import asyncio
import statistics
import time

import openai
import pytest
from tests._servers import scripted_llm

from perfops.loadgen.client import Target
from perfops.loadgen.records import RequestRecord
from perfops.loadgen.runner import Plan, run_open_loop
from perfops.loadgen.summary import summarize


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


def test_ttft_itl_and_tokens_match_the_script() -> None:
    with scripted_llm(ttft=0.1, itl=0.02) as server:
        records = run(server.url, 6, 4.0, tokens=6)
        summary = summarize(records)
    assert summary.completed == 6
    for rec in records:
        assert rec.ttft_s == pytest.approx(0.1, abs=0.015)
        assert statistics.mean(g / 1e9 for g in rec.chunk_gaps_ns) == pytest.approx(0.02, abs=0.004)
        assert rec.output_tokens == 6
        assert rec.tokens_source == "usage"
        assert rec.lag_s < 0.005
    assert summary.latency_ms["e2e"]["p50"] == pytest.approx(100 + 5 * 20, abs=15)
    assert summary.latency_ms["itl"]["count"] == 6 * 5  # token-weighted: one sample per gap


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
    assert summary.latency_ms["e2e_from_schedule"]["p99"] > 2500  # seconds of queueing
    assert summary.lag_ms["p99"] < 5  # the client kept its schedule


def test_coordinated_omission_with_a_client_cap_splits_response_and_service_time() -> None:
    """A cap of 1 request in flight against a 500 ms server at 10 req/s (vLLM #54101): the
    client waits, response time from the schedule grows, service time stays ~500 ms."""
    with scripted_llm(ttft=0.5, itl=0.0) as server:
        records = run(server.url, 8, 10.0, tokens=1, max_in_flight=1)
    summary = summarize(records)
    assert summary.latency_ms["e2e"]["p99"] == pytest.approx(500, abs=60)
    assert summary.latency_ms["e2e_from_schedule"]["p99"] > 3000
    assert summary.lag_ms["p99"] > 2000  # the last waits behind 7 others: ~2.8 s
    assert summary.client_limited
    assert "free of coordinated omission" in summary.definitions["e2e_from_schedule"]


def test_openai_client_agrees_on_ttft() -> None:
    """Tolerance: 10 ms on the mean over 5 requests (both parse the same SSE on loopback)."""
    with scripted_llm(ttft=0.08, itl=0.005) as server:
        client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)
        theirs = []
        for i in range(5):
            start = time.perf_counter()
            for chunk in client.completions.create(
                model="scripted", prompt=f"q{i}", max_tokens=4, stream=True
            ):
                if chunk.choices and chunk.choices[0].text:
                    theirs.append(time.perf_counter() - start)
                    break
        ours = [r.ttft_s for r in run(server.url, 5, 5.0, tokens=4)]
    assert statistics.mean(ours) == pytest.approx(statistics.mean(theirs), abs=0.010)


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
    assert summarize(records).lag_ms["p99"] < 20
    assert auto_workers(100.0, cpus=8) == 1
    assert auto_workers(2000.0, cpus=2) == 2
