"""Behaviour of the tokenizer approximation, checked against real Llama 3 token counts."""

from __future__ import annotations

import pytest

from perfops.sim import (
    count_chat_tokens,
    count_tokens,
    filler_text,
    filler_token,
    prefix_block_hashes,
    token_ids,
    tokenize,
)

# Text -> token count from the real Llama 3 tokenizer (llama3-tokenizer-js 1.2.0, which bundles
# Meta's vocabulary and merges; encode(text, {bos: false, eos: false}).length), taken once.
GOLDEN = {
    "prose": (
        83,
        "The simulator does not pretend to be a GPU. It models what an operator"
        " sees from the outside: how long the first token takes when the queue"
        " is empty, how that time grows once requests wait for a free slot, and"
        " how the cache of attention keys fills up until the engine has to"
        " evict someone. Each of those behaviours comes from a published"
        " measurement, and the file that holds the numbers says which one.",
    ),
    "legal": (
        89,
        'Licensed under the Apache License, Version 2.0 (the "License"); you'
        " may not use this file except in compliance with the License. You may"
        " obtain a copy of the License at http://"
        "www.apache.org/licenses/LICENSE-2.0. Unless required by applicable law"
        " or agreed to in writing, software distributed under the License is"
        ' distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF'
        " ANY KIND, either express or implied.",
    ),
    "code": (
        106,
        "def percentile(values: list[float], q: float) -> float:\n"
        '    """Nearest-rank percentile of ``values`` (q in 0..100)."""\n'
        "    if not values:\n"
        '        raise ValueError("no samples")\n'
        "    ranked = sorted(values)\n"
        "    index = max(0, math.ceil(q / 100 * len(ranked)) - 1)\n"
        "    return ranked[index]\n"
        "\n"
        "\n"
        "for name, value in sorted(summary.items()):\n"
        '    print(f"{name:>12}: {value:8.3f} ms")\n',
    ),
    "markdown": (
        120,
        "## Results\n"
        "\n"
        "| gpu | model | TTFT p50 (ms) | ITL p50 (ms) |\n"
        "|---|---|---|---|\n"
        "| H100-SXM | llama-3.1-8b | 71 | 11.2 |\n"
        "| A100-80GB | llama-3.1-8b | 134 | 15.0 |\n"
        "\n"
        "Run `perfops sim --gpu H100-SXM` and open"
        " **http://127.0.0.1:8000/metrics** to see `vllm:num_requests_running`.",
    ),
    "json": (
        69,
        '{"model": "llama-3.1-8b", "messages": [{"role": "user", "content":'
        ' "Summarise the incident timeline in three bullet points."}],'
        ' "max_tokens": 256, "temperature": 0.2, "stream": true,'
        ' "stream_options": {"include_usage": true}}',
    ),
    "log": (
        97,
        "2026-11-28T10:15:02.331Z INFO engine step=48213 running=37 waiting=4"
        " kv_usage=0.7731 prefill_tokens=2048 decode_tokens=37"
        " duration_ms=41.07 preempted=0\n"
        "2026-11-28T10:15:02.372Z WARN scheduler preempting request"
        " cmpl-8f3a2c91 (kv blocks 27341/27392 in use)",
    ),
}


def test_counts_track_the_real_llama3_tokenizer() -> None:
    errors = {name: count_tokens(text) / real - 1 for name, (real, text) in GOLDEN.items()}
    assert all(abs(e) < 0.15 for e in errors.values()), errors
    total_real = sum(real for real, _ in GOLDEN.values())
    total = sum(count_tokens(text) for _, text in GOLDEN.values())
    assert total == pytest.approx(total_real, rel=0.05)


@pytest.mark.parametrize(
    "text", [*(t for _, t in GOLDEN.values()), "", "  \n\t", "日本語のテキスト"]
)
def test_tokens_rebuild_the_text_and_match_the_count(text: str) -> None:
    tokens = tokenize(text)
    assert "".join(tokens) == text
    assert len(tokens) == count_tokens(text)
    assert len(token_ids(text)) == len(tokens)


def test_counting_is_deterministic_and_grows_with_text() -> None:
    text = GOLDEN["prose"][1]
    assert count_tokens(text) == count_tokens(text)
    assert count_tokens(text + " " + text) > 1.9 * count_tokens(text)
    assert all(0 <= i < 128256 for i in token_ids(text))


def test_long_words_and_mark_runs_split_like_bpe() -> None:
    assert count_tokens(" the") == 1
    assert count_tokens(" antidisestablishmentarianism") > 2
    assert count_tokens("-" * 64) <= 2  # long runs of one mark are single vocabulary entries
    assert count_tokens("1234567") == 3  # numbers go three digits at a time


def test_shared_text_prefix_gives_shared_block_hashes() -> None:
    system = GOLDEN["legal"][1]
    a = prefix_block_hashes(token_ids(system + " First question?"))
    b = prefix_block_hashes(token_ids(system + " Another, longer question about this?"))
    shared = len(token_ids(system)) // 16
    assert shared >= 4
    assert a[:shared] == b[:shared]
    assert prefix_block_hashes(list(range(15))) == ()  # only full blocks are hashed


def test_filler_answers_are_exactly_n_tokens() -> None:
    for n, seed in ((1, 0), (57, 3), (500, 0)):
        text = filler_text(n, seed)
        assert count_tokens(text) == n
        assert text == "".join(filler_token(i, seed) for i in range(n))
    assert filler_text(40, 1) != filler_text(40, 2)
    assert filler_token(7, 1) == filler_token(7, 1)


def test_chat_template_adds_llama31_overhead() -> None:
    user = GOLDEN["prose"][1]
    one = count_chat_tokens([{"role": "user", "content": user}])
    assert count_tokens(user) + 25 < one < count_tokens(user) + 45
    two = count_chat_tokens(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": user}]
    )
    assert two - one == count_tokens("Be brief.")
