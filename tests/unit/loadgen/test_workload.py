"""Workloads: synthetic prompts, prompt files, ShareGPT and traces, as a load test reads them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import FIXTURES

from perfops.errors import ConfigError, UsageError
from perfops.loadgen import (
    LengthSpec,
    Prompt,
    SyntheticSpec,
    from_jsonl,
    from_sharegpt,
    from_trace,
    parse_length,
    synthetic,
)
from perfops.sim.tokenizer import count_tokens

AZURE_CODE = FIXTURES / "trace-azure-llm-2023-code.csv"
AZURE_CONV = FIXTURES / "trace-azure-llm-2023-conv.csv"
MOONCAKE = FIXTURES / "trace-mooncake-conversation.jsonl"


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(caught: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    return [str(p) for p in caught.value.problems]


# ---------------------------------------------------------------- lengths


def test_lengths_follow_their_distribution() -> None:
    n = 20_000
    assert (parse_length("512").sample(5, rng()) == 512).all()
    uniform = parse_length("uniform:100,900").sample(n, rng())
    assert uniform.min() == 100
    assert uniform.max() == 900
    assert abs(uniform.mean() - 500) < 5
    normal = parse_length("normal:512,64").sample(n, rng())
    assert abs(normal.mean() - 512) < 2
    assert abs(normal.std() - 64) < 2
    lognormal = parse_length("lognormal:512,0.5").sample(n, rng())
    assert abs(np.median(lognormal) / 512 - 1) < 0.02
    assert abs(np.log(lognormal).std() - 0.5) < 0.02


def test_lengths_are_whole_and_at_least_one() -> None:
    draws = parse_length("normal:2,10").sample(5000, rng())
    assert draws.dtype == np.int64
    assert draws.min() == 1
    assert (draws == 1).mean() > 0.4


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("512", LengthSpec(kind="fixed", value=512)),
        ("fixed:512", LengthSpec(kind="fixed", value=512)),
        ("uniform:100,900", LengthSpec(kind="uniform", low=100, high=900)),
        ("normal:512,64", LengthSpec(kind="normal", mean=512, std=64)),
        ("lognormal:512,0.5", LengthSpec(kind="lognormal", median=512, sigma=0.5)),
    ],
)
def test_parse_length_forms(text: str, spec: LengthSpec) -> None:
    assert parse_length(text) == spec
    assert parse_length(str(spec)) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("zipf:1.2", "unknown length"),
        ("uniform:100", "uniform takes 2 number"),
        ("uniform:900,100", "above high"),
        ("fixed:0", "value"),
        ("fixed:12.5", "value"),
        ("normal:512,-1", "std"),
        ("lognormal:abc,0.5", "median"),
    ],
)
def test_parse_length_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as caught:
        parse_length(text)
    assert "uniform:100,900" in str(caught.value)


# ---------------------------------------------------------------- synthetic


def spec(**kwargs: object) -> SyntheticSpec:
    base: dict[str, object] = {"prompt": parse_length("40"), "output": parse_length("16")}
    return SyntheticSpec.model_validate(base | kwargs)


def test_synthetic_words_are_tokens() -> None:
    prompts = synthetic(spec(prompt=parse_length("uniform:10,300")), 50, rng())
    for prompt in prompts:
        assert prompt.messages == ()
        assert prompt.prompt_tokens == len(prompt.text.split())
        assert count_tokens(" " + prompt.text) == prompt.prompt_tokens
        assert prompt.max_tokens == 16


def test_prefix_groups_share_their_prefix_and_differ_after() -> None:
    prompts = synthetic(spec(prefix_tokens=32, prefix_groups=3), 30, rng())
    heads: dict[str | None, set[str]] = {}
    for prompt in prompts:
        head = " ".join(prompt.text.split()[:32])
        heads.setdefault(prompt.group, set()).add(head)
        assert prompt.prompt_tokens == 32 + 40
    assert sorted(heads, key=str) == ["prefix-0", "prefix-1", "prefix-2"]
    assert all(len(group) == 1 for group in heads.values())
    assert len({next(iter(group)) for group in heads.values()}) == 3
    tails = {" ".join(p.text.split()[32:]) for p in prompts}
    assert len(tails) == 30


def test_conversations_grow_and_share_a_prefix() -> None:
    prompts = synthetic(spec(turns=3, system="Answer briefly.", interleave=2), 10, rng())
    assert len(prompts) == 10
    by_conv: dict[str | None, list[Prompt]] = {}
    for prompt in prompts:
        by_conv.setdefault(prompt.group, []).append(prompt)
    assert [len(c) for c in by_conv.values()] == [3, 3, 3, 1]  # the last one is cut short
    for turns in by_conv.values():
        assert [p.turn for p in turns] == list(range(len(turns)))
        for earlier, later in zip(turns, turns[1:], strict=False):
            assert later.messages[: len(earlier.messages)] == earlier.messages
            answer = later.messages[len(earlier.messages)]
            assert answer[0] == "assistant"
            assert len(answer[1].split()) == earlier.max_tokens
            assert later.prompt_tokens > earlier.prompt_tokens
        assert turns[0].messages[0] == ("system", "Answer briefly.")
        assert turns[-1].text == turns[-1].messages[-1][1]
    # two conversations at a time: turn 1 of conv-0 comes two requests after its turn 0
    assert [(p.group, p.turn) for p in prompts[:4]] == [
        ("conv-0", 0),
        ("conv-1", 0),
        ("conv-0", 1),
        ("conv-1", 1),
    ]


def test_synthetic_is_reproducible() -> None:
    made = spec(prompt=parse_length("normal:50,10"), prefix_tokens=8, turns=2)
    assert synthetic(made, 20, rng(5)) == synthetic(made, 20, rng(5))
    assert synthetic(made, 20, rng(5)) != synthetic(made, 20, rng(6))


def test_prompt_renders_for_both_endpoints() -> None:
    plain = Prompt("hello there", (), 2, 8)
    assert plain.chat_messages() == [{"role": "user", "content": "hello there"}]
    assert plain.completion_prompt() == "hello there"
    chat = Prompt("b", (("user", "a"), ("assistant", "x"), ("user", "b")), 3, 8)
    assert chat.chat_messages()[1] == {"role": "assistant", "content": "x"}
    assert chat.completion_prompt() == "a\n\nx\n\nb"


# ---------------------------------------------------------------- JSONL prompts


def test_jsonl_prompts_and_messages(tmp_path: Path) -> None:
    lines = [
        {"prompt": "Tell me a story", "max_tokens": 99},
        {"messages": [{"role": "system", "content": "Be nice"}, {"role": "user", "content": "Hi"}]},
        {"prompt": "Summarise this", "id": "extra fields are ignored"},
    ]
    path = write(tmp_path, "p.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    prompts = from_jsonl(path, parse_length("7"), rng())
    assert [p.max_tokens for p in prompts] == [99, 7, 7]
    assert prompts[0].text == "Tell me a story"
    assert prompts[0].prompt_tokens == 4
    assert prompts[1].messages == (("system", "Be nice"), ("user", "Hi"))
    assert prompts[1].text == "Hi"
    assert prompts[1].prompt_tokens == 3


def test_jsonl_lists_every_bad_line(tmp_path: Path) -> None:
    text = "\n".join(
        [
            '{"prompt": "fine"}',
            "{not json",
            '{"prompt": "x", "messages": []}',
            '{"prompt": "x", "max_tokens": 0}',
            '{"messages": [{"role": "user"}]}',
            '{"messages": [{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}]}',
            '{"prompt": 5}',
        ]
    )
    path = write(tmp_path, "bad.jsonl", text)
    with pytest.raises(ConfigError) as caught:
        from_jsonl(path, parse_length("7"), rng())
    found = problems_of(caught)
    assert [p.split(" ")[0] for p in found] == [f"{path}:{n}" for n in range(2, 8)]
    assert "not JSON" in found[0]
    assert "exactly one of prompt or messages" in found[1]
    assert "max_tokens" in found[2]
    assert "messages[0]" in found[3]
    assert "last message is not the user's" in found[4]
    assert "must be a string" in found[5]


def test_jsonl_many_bad_lines_are_summarised(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.jsonl", "[]\n" * 30)
    with pytest.raises(ConfigError) as caught:
        from_jsonl(path, parse_length("7"), rng())
    assert len(caught.value.problems) == 21
    assert "and 10 more problems" in str(caught.value)


def test_unreadable_or_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        from_jsonl(tmp_path / "missing.jsonl", parse_length("7"), rng())
    with pytest.raises(ConfigError, match="no prompts"):
        from_jsonl(write(tmp_path, "empty.jsonl", "\n"), parse_length("7"), rng())
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"prompt": "caf\xe9"}')
    with pytest.raises(ConfigError, match="UTF-8"):
        from_jsonl(latin, parse_length("7"), rng())


# ---------------------------------------------------------------- ShareGPT


def conversation(*turns: tuple[str, str], **extra: str) -> dict[str, object]:
    return {"conversations": [{"from": f, "value": v} for f, v in turns], **extra}


SHAREGPT = [
    conversation(("human", "What is a GPU"), ("gpt", "A graphics processor that also trains")),
    conversation(
        ("system", "You are terse"),
        ("human", "Hi"),
        ("gpt", "Hello there"),
        ("human", "Bye now"),
        ("gpt", "Goodbye"),
        id="chat-7",
    ),
    conversation(("human", "Unanswered")),
    conversation(),
]


@pytest.mark.parametrize("layout", ["json", "jsonl"])
def test_sharegpt_turns_become_requests(tmp_path: Path, layout: str) -> None:
    text = (
        json.dumps(SHAREGPT, indent=2)
        if layout == "json"
        else "\n".join(json.dumps(c) for c in SHAREGPT)
    )
    prompts = from_sharegpt(write(tmp_path, f"sg.{layout}", text), rng())
    assert len(prompts) == 3
    by_group = {(p.group, p.turn): p for p in prompts}
    first = by_group[("conv-0", 0)]
    assert (first.text, first.messages, first.max_tokens) == ("What is a GPU", (), 6)
    second = by_group[("chat-7", 1)]
    assert second.messages == (
        ("system", "You are terse"),
        ("user", "Hi"),
        ("assistant", "Hello there"),
        ("user", "Bye now"),
    )
    assert second.max_tokens == 1
    assert second.prompt_tokens == 8


def test_sharegpt_max_turns_and_order(tmp_path: Path) -> None:
    path = write(tmp_path, "sg.json", json.dumps(SHAREGPT))
    assert len(from_sharegpt(path, rng(), max_turns=1)) == 2
    orders = {tuple((p.group, p.turn) for p in from_sharegpt(path, rng(s))) for s in range(8)}
    assert len(orders) > 1  # shuffled by the generator
    assert from_sharegpt(path, rng(3)) == from_sharegpt(path, rng(3))
    for order in orders:  # but turns stay in order
        assert order.index(("chat-7", 0)) < order.index(("chat-7", 1))


def test_sharegpt_bad_turn_names_its_line(tmp_path: Path) -> None:
    records = [SHAREGPT[0], conversation(("human", "a"), ("robot", "b"))]
    path = write(tmp_path, "sg.json", json.dumps(records, indent=2))
    with pytest.raises(ConfigError) as caught:
        from_sharegpt(path, rng())
    line = json.dumps(records, indent=2).splitlines().index("  {", 2) + 1
    assert problems_of(caught)[0].startswith(f"{path}:{line} conversations[1]: bad turn")


def test_sharegpt_broken_json_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "sg.json", '[\n  {"conversations": []},\n  {"conversations": ]\n]')
    with pytest.raises(ConfigError) as caught:
        from_sharegpt(path, rng())
    assert problems_of(caught)[0].startswith(f"{path}:3 not JSON")
    path = write(tmp_path, "sg2.json", '[{"conversations": []} {"conversations": []}]')
    with pytest.raises(ConfigError, match="expected ',' or ']'"):
        from_sharegpt(path, rng())
    with pytest.raises(ConfigError, match="no human turn with a gpt answer"):
        from_sharegpt(write(tmp_path, "sg3.json", "[]"), rng())


# ---------------------------------------------------------------- traces


@pytest.mark.parametrize("path", [AZURE_CODE, AZURE_CONV])
def test_azure_trace_keeps_its_timing_and_sizes(path: Path) -> None:
    prompts = from_trace(path, limit=200)
    assert len(prompts) == 200
    assert prompts[0].arrival_s == 0.0
    arrivals = [p.arrival_s or 0.0 for p in prompts]
    assert arrivals == sorted(arrivals)
    rows = path.read_text().splitlines()[1:201]
    context = sorted(int(r.split(",")[1]) for r in rows)
    assert sorted(p.prompt_tokens for p in prompts) == context
    assert all(len(p.text.split()) == p.prompt_tokens for p in prompts)
    faster = from_trace(path, limit=200, speed=4.0)
    assert [p.arrival_s for p in faster] == pytest.approx([a / 4 for a in arrivals])


def test_azure_trace_arrivals_match_the_timestamps() -> None:
    prompts = from_trace(AZURE_CONV, limit=3)
    # 18:15:46.6805900, 18:15:50.9951690, 18:15:51.2224670
    assert [p.arrival_s for p in prompts] == pytest.approx([0.0, 4.314579, 4.541877])
    assert [p.max_tokens for p in prompts] == [44, 109, 55]


def test_mooncake_hash_ids_share_prefix_blocks() -> None:
    prompts = from_trace(MOONCAKE, limit=40, speed=2.0)
    rows = [json.loads(line) for line in MOONCAKE.read_text().splitlines()[:40]]
    by_tokens = {(r["timestamp"], r["input_length"]): r for r in rows}
    texts: dict[int, str] = {}
    for prompt in prompts:
        row = by_tokens[(round((prompt.arrival_s or 0) * 2000), prompt.prompt_tokens)]
        assert prompt.max_tokens == max(1, row["output_length"])
        split = prompt.text.split()
        assert len(split) == row["input_length"]
        for i, block in enumerate(row["hash_ids"]):
            chunk = " ".join(split[i * 512 : (i + 1) * 512])
            if len(chunk.split()) == 512:
                assert texts.setdefault(block, chunk) == chunk
    assert len(texts) > 40
    assert len(set(texts.values())) == len(texts)  # different ids, different blocks


def test_traces_are_reproducible_and_seeded() -> None:
    assert from_trace(AZURE_CODE, limit=20) == from_trace(AZURE_CODE, limit=20)
    assert from_trace(AZURE_CODE, limit=5) != from_trace(AZURE_CODE, limit=5, seed=1)


@pytest.mark.parametrize(
    ("name", "text", "line", "message"),
    [
        ("t.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,1,2\n", 2, "TIMESTAMP"),
        ("t.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,0,2\n", 2, ">= 1"),
        ("t.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:15:46,x,2\r\n", 2,
         "whole numbers"),
        ("t.csv", "when,prompt,output\n1,2,3\n", 1, "not a known trace format"),
        ("t.jsonl", '{"timestamp": 0, "input_length": 5, "output_length": 1}\n{"timestamp": -1}',
         2, "timestamp"),
        ("t.jsonl", '\n{"timestamp": 0, "input_length": 5, "output_length": 1, "hash_ids": "a"}',
         2, "hash_ids"),
        ("t.jsonl", '{"timestamp": 0, "input_length": 0, "output_length": 1}', 1, "input_length"),
        ("t.jsonl", "{oops", 1, "not JSON"),
    ],
)  # fmt: skip
def test_bad_traces_name_the_line(
    tmp_path: Path, name: str, text: str, line: int, message: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ConfigError) as caught:
        from_trace(path)
    assert problems_of(caught)[0].startswith(f"{path}:{line}")
    assert message in str(caught.value)


def test_bad_replay_arguments(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="speed"):
        from_trace(AZURE_CODE, speed=0)
    with pytest.raises(UsageError, match="limit"):
        from_trace(AZURE_CODE, limit=0)
    with pytest.raises(ConfigError, match="no requests"):
        from_trace(write(tmp_path, "empty.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"))
