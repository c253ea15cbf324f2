"""The official openai client against the simulator: streaming and not, chat and completions."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator

import aiohttp
import openai
import pytest
from tests._servers import FleetThread, sim_fleet

MODEL = "llama-3.1-8b"


@pytest.fixture(scope="module")
def fleet() -> Iterator[FleetThread]:
    with sim_fleet(replicas=2) as running:
        yield running


@pytest.fixture
def client(fleet: FleetThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=fleet.url(), api_key="sim", max_retries=0)


def test_chat_non_streaming(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Say hello in five words."}],
        max_tokens=12,
    )
    assert reply.object == "chat.completion"
    assert reply.choices[0].finish_reason == "length"
    assert reply.choices[0].message.role == "assistant"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 12
    assert reply.usage.prompt_tokens > 20  # the Llama 3.1 chat template adds its system block
    assert reply.id.startswith("chatcmpl-")


def test_chat_streaming_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Count to ten."}],
        max_tokens=9,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) == 9
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 9


def test_completions_streaming_and_not(client: openai.OpenAI) -> None:
    reply = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=5)
    assert reply.object == "text_completion"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 5
    assert len(reply.choices[0].text) > 5
    pieces = [
        c.choices[0].text
        for c in client.completions.create(
            model=MODEL, prompt="Once upon a time", max_tokens=7, stream=True
        )
        if c.choices
    ]
    assert len([p for p in pieces if p]) == 7
    assert "".join(pieces) == reply.choices[0].text[: len("".join(pieces))] or pieces


def test_answer_without_max_tokens_stops_on_its_own(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi"}]
    )
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert 32 <= reply.usage.completion_tokens <= 512


def test_models_and_health(fleet: FleetThread, client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == [MODEL]
    with urllib.request.urlopen(fleet.fleet.url("front") + "/health") as resp:
        assert resp.status == 200


def test_errors_have_openai_shape(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.completions.create(model="gpt-9", prompt="x", max_tokens=1)
    assert missing.value.body["message"] == "The model `gpt-9` does not exist."  # type: ignore[index]
    assert missing.value.body["type"] == "NotFoundError"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError, match="maximum context length is 32768"):
        client.completions.create(model=MODEL, prompt="x " * 200, max_tokens=32_700)
    with pytest.raises(openai.BadRequestError, match="messages must be a non-empty list"):
        client.chat.completions.create(model=MODEL, messages=[])


def test_request_id_header_is_echoed(fleet: FleetThread) -> None:
    req = urllib.request.Request(
        fleet.url() + "/completions",
        method="POST",
        data=json.dumps({"model": MODEL, "prompt": "x", "max_tokens": 1}).encode(),
        headers={"Content-Type": "application/json", "X-Request-Id": "trace-123"},
    )
    with urllib.request.urlopen(req) as resp:
        assert resp.headers["X-Request-Id"] == "trace-123"
        assert json.loads(resp.read())["id"] == "trace-123"


def test_full_queue_answers_429_with_retry_after() -> None:
    async def burst(url: str) -> list[tuple[int, str | None, dict[str, object]]]:
        body = {"model": MODEL, "prompt": "hello " * 200, "max_tokens": 64}
        async with aiohttp.ClientSession() as session:

            async def one() -> tuple[int, str | None, dict[str, object]]:
                async with session.post(url + "/completions", json=body) as resp:
                    return resp.status, resp.headers.get("Retry-After"), await resp.json()

            return await asyncio.gather(*(one() for _ in range(12)))

    with sim_fleet(replicas=1, max_num_seqs=2, max_waiting=3) as fleet:
        results = asyncio.run(burst(fleet.url()))
        client = openai.OpenAI(base_url=fleet.url(), api_key="sim", max_retries=0)
        statuses = sorted(r[0] for r in results)
        assert statuses.count(200) >= 3  # max_waiting requests queue, the rest are refused
        assert statuses.count(200) + statuses.count(429) == 12
        assert statuses.count(429) >= 1
        rejected = [r for r in results if r[0] == 429]
        assert all(r[1] == "1" for r in rejected)
        assert rejected[0][2]["error"]["type"] == "RateLimitError"  # type: ignore[index]
        assert client.completions.create(model=MODEL, prompt="x", max_tokens=1).usage
