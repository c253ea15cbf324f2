"""What each request asks: synthetic prompts, prompt files, ShareGPT conversations, traces.

Synthetic text is made of :data:`perfops._internal.words.VOCABULARY` words, one token each, so
a prompt of ``n`` words is about ``n`` tokens. Everything random comes from the generator
passed in: the same seed gives the same prompts. Bad files raise
:class:`~perfops.errors.ConfigError` listing each bad line as ``file:line`` with a fix.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from perfops._internal.words import keyed_words, words
from perfops.errors import ConfigError, Problem, UsageError

__all__ = [
    "MAX_TOKENS",
    "LengthSpec",
    "Prompt",
    "SyntheticSpec",
    "from_jsonl",
    "from_sharegpt",
    "from_trace",
    "parse_length",
    "synthetic",
]

Ints = npt.NDArray[np.int64]
MAX_TOKENS = 1_000_000
"""The longest prompt or answer, in tokens: more than any model's context window."""
_Tokens = Annotated[int, Field(ge=1, le=MAX_TOKENS)]
_Mean = Annotated[float, Field(gt=0, le=MAX_TOKENS)]
_PARAMS = {
    "fixed": ("value",),
    "uniform": ("low", "high"),
    "normal": ("mean", "std"),
    "lognormal": ("median", "sigma"),
}
_LENGTH_FORMS = "512 | fixed:512 | uniform:100,900 | normal:512,64 | lognormal:512,0.5"


class LengthSpec(BaseModel):
    """A distribution of lengths in tokens, drawn as whole numbers >= 1.

    ``fixed`` (value), ``uniform`` (low..high inclusive), ``normal`` (mean, std),
    ``lognormal`` (median, sigma of the log). Normal and lognormal draws are rounded and
    clipped to at least 1.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    kind: Literal["fixed", "uniform", "normal", "lognormal"]
    value: _Tokens | None = None
    low: _Tokens | None = None
    high: _Tokens | None = None
    mean: _Mean | None = None
    std: float | None = Field(default=None, ge=0, le=MAX_TOKENS)
    median: _Mean | None = None
    sigma: float | None = Field(default=None, ge=0, le=5)  # e^5: the tail is 150x the median

    @model_validator(mode="after")
    def _params_match_kind(self) -> Self:
        wanted = _PARAMS[self.kind]
        given = self.model_fields_set - {"kind"}
        if any(getattr(self, name) is None for name in wanted) or given - set(wanted):
            raise ValueError(f"{self.kind} lengths take {' and '.join(wanted)}, nothing else")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low ({self.low}) is above high ({self.high})")
        return self

    def __str__(self) -> str:
        """The command-line form, e.g. ``normal:512,64``."""
        return f"{self.kind}:" + ",".join(f"{getattr(self, p):g}" for p in _PARAMS[self.kind])

    def sample(self, n: int, rng: np.random.Generator) -> Ints:
        """``n`` lengths, each a whole number from 1 to :data:`MAX_TOKENS`."""
        match self.kind:
            case "fixed":
                draws = np.full(n, float(self.value or 1))
            case "uniform":
                draws = rng.integers(self.low or 1, (self.high or 1) + 1, size=n).astype(float)
            case "normal":
                draws = rng.normal(self.mean or 1.0, self.std or 0.0, size=n)
            case "lognormal":
                draws = (self.median or 1.0) * np.exp((self.sigma or 0.0) * rng.normal(size=n))
        lengths: Ints = np.clip(np.rint(draws), 1, MAX_TOKENS).astype(np.int64)
        return lengths


def parse_length(text: str) -> LengthSpec:
    """The length distribution the command line names: ``512``, ``fixed:512``,
    ``uniform:100,900``, ``normal:512,64`` or ``lognormal:512,0.5`` (median, sigma)."""
    kind, _, args = text.strip().partition(":")
    if not args and re.fullmatch(r"\d+", kind):
        kind, args = "fixed", kind
    if kind not in _PARAMS:
        raise UsageError(f"unknown length {text!r}", hint=f"use one of: {_LENGTH_FORMS}")
    values = [part.strip() for part in args.split(",")]
    names = _PARAMS[kind]
    try:
        if len(values) != len(names):
            raise ValueError(f"{kind} takes {len(names)} number(s): {', '.join(names)}")
        return LengthSpec.model_validate({"kind": kind, **dict(zip(names, values, strict=True))})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        reason = f"{field}: {error['msg']}" if field else str(error["msg"])
        if error["type"] in ("less_than_equal", "greater_than_equal", "greater_than"):
            reason += " (sigma: the spread of the log)" if field == "sigma" else _TOKENS_WHY
    except ValueError as exc:
        reason = str(exc)
    shown = text if len(text) <= 60 else text[:57] + "..."
    raise UsageError(f"bad length {shown!r}: {reason}", hint=f"use one of: {_LENGTH_FORMS}")


_TOKENS_WHY = f" (tokens: 1 to {MAX_TOKENS:,}, more than any model's context)"


@dataclass(frozen=True, slots=True)
class Prompt:
    """One request's content. ``messages`` is empty for a single plain prompt."""

    text: str  # the prompt (completions) / the last user message (chat)
    messages: tuple[tuple[str, str], ...]  # (role, content), earlier turns included
    prompt_tokens: int  # approximate (words), for reporting only
    max_tokens: int
    group: str | None = None  # prefix group or conversation id
    turn: int = 0
    arrival_s: float | None = None  # trace replay only: the trace's own timing

    def chat_messages(self) -> list[dict[str, str]]:
        """The messages of a chat request (one user message for a plain prompt)."""
        turns = self.messages or (("user", self.text),)
        return [{"role": role, "content": content} for role, content in turns]

    def completion_prompt(self) -> str:
        """The prompt of a completions request (a chat's turns joined by blank lines)."""
        return "\n\n".join(c for _, c in self.messages) if self.messages else self.text


def _approx_tokens(*texts: str) -> int:
    return sum(len(text.split()) for text in texts)


class SyntheticSpec(BaseModel):
    """Generated prompts: lengths, shared prefixes, multi-turn conversations.

    ``prompt`` counts the words after the shared prefix (as vLLM's prefix_repetition and
    GuideLLM's prefix buckets do). Conversations are interleaved ``interleave`` at a time, so
    turn k+1 of a conversation is due that many requests after turn k.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt: LengthSpec
    output: LengthSpec
    prefix_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS)
    prefix_groups: int = Field(default=1, ge=1, le=100_000)
    turns: int = Field(default=1, ge=1, le=1000)
    system: str | None = None
    interleave: int = Field(default=8, ge=1, le=100_000)


def synthetic(spec: SyntheticSpec, n: int, rng: np.random.Generator) -> list[Prompt]:
    """``n`` prompts: conversation c (of ``spec.turns`` requests; the last may be shorter)
    opens with shared prefix ``c % prefix_groups`` then unique words; turn k carries the
    earlier turns with a synthetic answer of each earlier turn's output length."""
    prefixes = [words(spec.prefix_tokens, rng) for _ in range(spec.prefix_groups)]
    prompt_lens, output_lens = spec.prompt.sample(n, rng), spec.output.sample(n, rng)
    conversations, start = [], 0
    for c in range(-(-n // spec.turns)):
        turns = slice(start, min(start + spec.turns, n))
        prefix = prefixes[c % spec.prefix_groups]
        lengths = zip(prompt_lens[turns].tolist(), output_lens[turns].tolist(), strict=True)
        conversations.append(_conversation(spec, c, prefix, list(lengths), rng))
        start = turns.stop
    return _interleave(conversations, spec.interleave)


def _conversation(
    spec: SyntheticSpec,
    index: int,
    prefix: str,
    lengths: list[tuple[int, int]],
    rng: np.random.Generator,
) -> list[Prompt]:
    chat = spec.turns > 1 or spec.system is not None
    group = (
        f"conv-{index}"
        if spec.turns > 1
        else (f"prefix-{index % spec.prefix_groups}" if spec.prefix_tokens else None)
    )
    history = [("system", spec.system)] if spec.system is not None else []
    prompts = []
    for turn, (prompt_len, output_len) in enumerate(lengths):
        user = words(prompt_len, rng)
        user = f"{prefix} {user}" if prefix and turn == 0 else user
        messages = (*history, ("user", user))
        tokens = _approx_tokens(*(content for _, content in messages))
        prompts.append(Prompt(user, messages if chat else (), tokens, output_len, group, turn))
        history += [("user", user), ("assistant", words(output_len, rng))]
    return prompts


def _interleave(conversations: Sequence[list[Prompt]], window: int) -> list[Prompt]:
    """Round-robin over ``window`` conversations at a time, keeping each one's turn order."""
    ordered: list[Prompt] = []
    for first in range(0, len(conversations), window):
        batch = conversations[first : first + window]
        for turn in range(max(len(c) for c in batch)):
            ordered.extend(c[turn] for c in batch if turn < len(c))
    return ordered


# ---------------------------------------------------------------- files


class _Problems:
    """Problems found in one file, raised together (the first 20 listed)."""

    SHOWN = 20

    def __init__(self, path: Path) -> None:
        self.path, self.items, self.count = path, list[Problem](), 0

    def add(self, line: int, field: str, message: str, hint: str | None = None) -> None:
        self.count += 1
        if self.count <= self.SHOWN:
            self.items.append(Problem(f"{self.path}:{line}", field, message, hint))

    def check(self) -> None:
        if self.count > self.SHOWN:
            more = f"and {self.count - self.SHOWN} more problems"
            self.items.append(Problem(str(self.path), "", more))
        if self.items:
            raise ConfigError(self.items, source=str(self.path))


def _fail(path: Path, message: str, hint: str | None = None, line: int = 0) -> ConfigError:
    where = f"{path}:{line}" if line else str(path)
    return ConfigError([Problem(where, "", message, hint)], source=str(path))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(path, f"cannot read: {exc.strerror}", "check the path") from None
    except UnicodeDecodeError as exc:
        raise _fail(path, f"not UTF-8 text ({exc.reason})", "save it as UTF-8") from None


def _json_lines(text: str, problems: _Problems, example: str) -> Iterator[tuple[int, Any]]:
    """(line, object) for each non-blank line; bad JSON is recorded and skipped."""
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw.strip():
            try:
                yield number, json.loads(raw)
            except json.JSONDecodeError as exc:
                problems.add(number, "", f"not JSON ({exc.msg})", f"one object a line: {example}")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _json_array(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    """(line, element) for each element of a top-level JSON array, with its starting line."""
    decoder = json.JSONDecoder()
    pos, line, seen = _skip_space(text, 0) + 1, 1, 0
    while True:
        pos = _skip_space(text, pos)
        if text.startswith("]", pos):
            return
        line += text.count("\n", seen, pos)
        seen = pos
        try:
            item, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise _fail(path, f"not JSON ({exc.msg})", "fix the JSON", exc.lineno) from None
        yield line, item
        pos = _skip_space(text, pos)
        if text.startswith(",", pos):
            pos += 1
        elif not text.startswith("]", pos):
            where = text.count("\n", 0, pos) + 1
            raise _fail(path, "expected ',' or ']' between items", "fix the JSON", where)


def _positive(value: Any, least: int = 1) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= least
    return value if ok else None


def from_jsonl(path: Path, output: LengthSpec, rng: np.random.Generator) -> list[Prompt]:
    """Prompts from JSONL: ``{"prompt": "..."}`` or ``{"messages": [{"role", "content"}]}``
    a line, with an optional ``"max_tokens"``; the others draw it from ``output``."""
    problems, rows = _Problems(path), []
    example = '{"prompt": "Hello"} or {"messages": [{"role": "user", "content": "Hello"}]}'
    for line, row in _json_lines(_read(path), problems, example):
        prompt = _jsonl_prompt(row, line, problems, example)
        if prompt is not None:
            rows.append(prompt)
    problems.check()
    if not rows:
        raise _fail(path, "no prompts in the file", f"one object a line: {example}")
    drawn = output.sample(len(rows), rng).tolist()
    return [
        p if p.max_tokens else replace(p, max_tokens=m) for p, m in zip(rows, drawn, strict=True)
    ]


def _jsonl_prompt(row: Any, line: int, problems: _Problems, example: str) -> Prompt | None:
    if not isinstance(row, dict) or ("prompt" in row) == ("messages" in row):
        problems.add(line, "", "needs exactly one of prompt or messages", f"e.g. {example}")
        return None
    max_tokens = _positive(row["max_tokens"]) if "max_tokens" in row else 0  # 0: draw one
    if max_tokens is None:
        problems.add(line, "max_tokens", f"must be a whole number >= 1, got {row['max_tokens']!r}")
        return None
    if "prompt" in row:
        if not isinstance(row["prompt"], str):
            problems.add(line, "prompt", f"must be a string, got {row['prompt']!r}")
            return None
        return Prompt(row["prompt"], (), _approx_tokens(row["prompt"]), max_tokens)
    messages = _messages(row["messages"], line, problems)
    if messages is None:
        return None
    tokens = _approx_tokens(*(content for _, content in messages))
    return Prompt(messages[-1][1], messages, tokens, max_tokens)


def _messages(value: Any, line: int, problems: _Problems) -> tuple[tuple[str, str], ...] | None:
    hint = 'a list of {"role": "user", "content": "..."}, ending with a user message'
    if not isinstance(value, list) or not value:
        problems.add(line, "messages", "must be a non-empty list", hint)
        return None
    out = []
    for i, item in enumerate(value):
        ok = isinstance(item, dict) and isinstance(item.get("role"), str)
        if not ok or not isinstance(item.get("content"), str):
            problems.add(line, f"messages[{i}]", "needs string role and content", hint)
            return None
        out.append((item["role"], item["content"]))
    if out[-1][0] != "user":
        problems.add(line, f"messages[{len(out) - 1}]", "the last message is not the user's", hint)
        return None
    return tuple(out)


_SPEAKERS = {"human": "user", "user": "user", "gpt": "assistant", "chatgpt": "assistant"}
_SPEAKERS |= {"assistant": "assistant", "system": "system"}


def from_sharegpt(
    path: Path, rng: np.random.Generator, *, max_turns: int | None = None, interleave: int = 8
) -> list[Prompt]:
    """Requests from ShareGPT data (a JSON list or JSONL of ``{"conversations": [{"from":
    "human"|"gpt", "value": ...}]}``): each human turn that a gpt turn answers is a request
    carrying the conversation so far; the answer's word count sets ``max_tokens``. The
    conversations are shuffled by ``rng`` and interleaved as in :func:`synthetic`; at most
    ``max_turns`` requests are taken from each. Conversations without an answered human turn
    are skipped."""
    text = _read(path)
    problems = _Problems(path)
    example = '{"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", ...}]}'
    records = (
        _json_array(path, text)
        if text.lstrip().startswith("[")
        else _json_lines(text, problems, example)
    )
    conversations = [
        _sharegpt_conversation(record, line, index, problems, max_turns)
        for index, (line, record) in enumerate(records)
    ]
    problems.check()
    kept = [conversations[i] for i in rng.permutation(len(conversations)) if conversations[i]]
    if not kept:
        raise _fail(path, "no human turn with a gpt answer in the file", f"e.g. {example}")
    return _interleave(kept, interleave)


def _sharegpt_conversation(
    record: Any, line: int, index: int, problems: _Problems, max_turns: int | None
) -> list[Prompt]:
    turns = record.get("conversations") if isinstance(record, dict) else None
    if not isinstance(turns, list):
        problems.add(line, "conversations", "missing or not a list", 'a list of {"from", "value"}')
        return []
    group = str(record.get("id", f"conv-{index}"))
    history: list[tuple[str, str]] = []
    prompts: list[Prompt] = []
    for i, turn in enumerate(turns):
        if max_turns is not None and len(prompts) >= max_turns:
            break
        speaker = turn.get("from") if isinstance(turn, dict) else None
        if speaker not in _SPEAKERS or not isinstance(turn.get("value"), str):
            hint = f"from is one of {', '.join(_SPEAKERS)} and value a string"
            problems.add(line, f"conversations[{i}]", f"bad turn {turn!r:.60}", hint)
            return []
        role, value = _SPEAKERS[speaker], turn["value"]
        if role == "assistant" and history and history[-1][0] == "user":
            messages = tuple(history) if len(history) > 1 else ()
            tokens = _approx_tokens(*(content for _, content in history))
            answer = max(1, _approx_tokens(value))
            prompts.append(Prompt(history[-1][1], messages, tokens, answer, group, len(prompts)))
        history.append((role, value))
    return prompts


# ---------------------------------------------------------------- traces

_BLOCK = 512  # Mooncake's hash_ids name 512-token blocks
_AZURE = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
_TraceRow = tuple[float, int, int, Any]  # time (s), input tokens, output tokens, hash ids


def from_trace(
    path: Path, *, speed: float = 1.0, limit: int | None = None, seed: int = 0
) -> list[Prompt]:
    """Requests replaying a trace with its own timing, sorted by ``arrival_s`` = (t - t0) /
    ``speed``: an Azure LLM inference trace CSV (``TIMESTAMP,ContextTokens,GeneratedTokens``)
    or a Mooncake JSONL trace (``timestamp`` in ms, ``input_length``, ``output_length``,
    ``hash_ids``). Prompts are ``input`` words; in Mooncake traces equal hash ids give equal
    512-word blocks, so requests share prefixes as the trace says. ``limit`` keeps the first
    rows of the file; ``seed`` picks the words."""
    if not (math.isfinite(speed) and speed > 0):
        raise UsageError(f"the replay speed must be above 0, got {speed}", hint="e.g. 2 for 2x")
    if limit is not None and limit < 1:
        raise UsageError(f"the request limit must be at least 1, got {limit}")
    lines = _read(path).splitlines()
    head = next((line.lstrip() for line in lines if line.strip()), "")
    rows = (_mooncake_rows if head.startswith("{") else _azure_rows)(path, lines, limit)
    if not rows:
        raise _fail(path, "no requests in the trace", "is it an Azure CSV or a Mooncake JSONL?")
    t0 = min(row[0] for row in rows)
    rng = np.random.default_rng(seed)
    prompts = [
        _trace_prompt(row, i, (row[0] - t0) / speed, rng, seed) for i, row in enumerate(rows)
    ]
    return sorted(prompts, key=lambda p: p.arrival_s or 0.0)


def _trace_prompt(
    row: _TraceRow, index: int, arrival: float, rng: np.random.Generator, seed: int
) -> Prompt:
    _, tokens, output, hash_ids = row
    if hash_ids is None:
        return Prompt(words(tokens, rng), (), tokens, max(1, output), None, 0, arrival)
    blocks = np.asarray(hash_ids, dtype=np.uint64).reshape(-1, 1) * np.uint64(_BLOCK)
    keys = (blocks + np.arange(_BLOCK, dtype=np.uint64)).reshape(-1)[:tokens]
    own = (1 << 62) + (index << 24) + np.arange(tokens - len(keys), dtype=np.uint64)
    text = keyed_words(np.concatenate([keys, own]), seed)  # past the blocks: this row's own
    group = f"block-{hash_ids[0]}" if hash_ids else None
    return Prompt(text, (), tokens, max(1, output), group, 0, arrival)


def _mooncake_rows(path: Path, lines: list[str], limit: int | None) -> list[_TraceRow]:
    problems, rows = _Problems(path), list[_TraceRow]()
    example = '{"timestamp": 0, "input_length": 812, "output_length": 140, "hash_ids": [0, 1]}'
    for line, row in _json_lines("\n".join(lines), problems, example):
        if limit is not None and len(rows) >= limit:
            break
        parsed = _mooncake_row(row)
        if isinstance(parsed, str):
            problems.add(line, "", parsed, f"e.g. {example}")
        else:
            rows.append(parsed)
    problems.check()
    return rows


def _mooncake_row(row: Any) -> _TraceRow | str:
    if not isinstance(row, dict):
        return "not an object"
    stamp, hash_ids = row.get("timestamp"), row.get("hash_ids", [])
    if isinstance(stamp, bool) or not isinstance(stamp, int | float) or not stamp >= 0:
        return f"timestamp must be milliseconds >= 0, got {stamp!r}"
    tokens, output = _positive(row.get("input_length")), _positive(row.get("output_length"), 0)
    if tokens is None or output is None:
        return "input_length must be a whole number >= 1 and output_length >= 0"
    if not isinstance(hash_ids, list) or not all(_positive(h, 0) is not None for h in hash_ids):
        return f"hash_ids must be a list of whole numbers >= 0, got {hash_ids!r:.60}"
    return stamp / 1000.0, tokens, output, hash_ids


def _azure_rows(path: Path, lines: list[str], limit: int | None) -> list[_TraceRow]:
    reader = csv.DictReader(lines)
    if not set(_AZURE) <= set(reader.fieldnames or ()):
        raise _fail(
            path,
            f"not a known trace format (header {reader.fieldnames})",
            "use an Azure LLM trace CSV (TIMESTAMP,ContextTokens,GeneratedTokens) "
            "or a Mooncake JSONL (timestamp, input_length, output_length, hash_ids)",
            line=1,
        )
    problems, rows = _Problems(path), list[_TraceRow]()
    for row in reader:
        if limit is not None and len(rows) >= limit:
            break
        parsed = _azure_row(row)
        if isinstance(parsed, str):
            problems.add(reader.line_num, "", parsed, "columns are " + ",".join(_AZURE))
        else:
            rows.append(parsed)
    problems.check()
    return rows


def _azure_row(row: dict[str, str]) -> _TraceRow | str:
    stamp = (row.get("TIMESTAMP") or "").strip()
    try:
        seconds = dt.datetime.fromisoformat(stamp).replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return f"TIMESTAMP {stamp!r} is not a date and time like 2023-11-16 18:17:03.979960"
    try:
        tokens, output = int(row.get("ContextTokens") or ""), int(row.get("GeneratedTokens") or "")
    except ValueError:
        return "ContextTokens and GeneratedTokens must be whole numbers"
    if tokens < 1 or output < 0:
        return f"ContextTokens must be >= 1 and GeneratedTokens >= 0, got {tokens}, {output}"
    return seconds, tokens, output, None
