"""The OpenAI API surface of the simulator: request parsing, response and SSE shapes.

Shapes follow vLLM's OpenAI server (chunk fields, usage chunk with ``choices: []`` when
``stream_options.include_usage`` is set, ``data: [DONE]``) and OpenAI's error body
``{"error": {"message", "type", "param", "code"}}``, so the official clients work unchanged.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any, Literal

from perfops.sim._kvcache import prefix_block_hashes
from perfops.sim.tokenizer import count_chat_tokens, count_tokens, token_ids

__all__ = [
    "ApiError",
    "Endpoint",
    "ParsedRequest",
    "block_hashes",
    "error_body",
    "parse_request",
    "sse_chunk_encoder",
]

Endpoint = Literal["chat", "completions"]
_ERROR_TYPES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    404: "NotFoundError",
    429: "RateLimitError",
    500: "InternalServerError",
    503: "ServiceUnavailableError",
}


class ApiError(Exception):
    """An error answered in OpenAI's JSON shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.retry_after = retry_after


def error_body(err: ApiError) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(err.status, "APIError" if err.status >= 500 else "BadRequestError")
    return {"error": {"message": err.message, "type": kind, "param": err.param, "code": err.status}}


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    endpoint: Endpoint
    model: str
    prompt_text: str
    prompt_tokens: int
    max_tokens: int
    explicit_max: bool  # False: the length was drawn, and the answer "stops" on its own
    stream: bool
    include_usage: bool


def _int(body: dict[str, Any], name: str, lo: int, hi: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ApiError(
            400, f"{name} must be an integer between {lo} and {hi}, got {value!r}", param=name
        )
    return value


def _prompt(endpoint: Endpoint, body: dict[str, Any]) -> tuple[str, int]:
    if endpoint == "chat":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "messages must be a non-empty list", param="messages")
        flat = []
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str):
                raise ApiError(
                    400, f"messages[{i}] must be an object with a role", param="messages"
                )
            content = m.get("content") or ""
            if isinstance(content, list):  # content parts: keep the text ones
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            flat.append({"role": m["role"], "content": str(content)})
        text = "".join(f"<|{m['role']}|>{m['content']}" for m in flat)
        return text, count_chat_tokens(flat)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if isinstance(prompt, list) and prompt and all(isinstance(t, int) for t in prompt):
        return " ".join(map(str, prompt)), len(prompt)
    if not isinstance(prompt, str):
        raise ApiError(
            400, "prompt must be a string (batched prompts are not supported)", param="prompt"
        )
    return prompt, 1 + count_tokens(prompt)  # vLLM adds BOS


def _drawn_length(text: str, seed: int, room: int) -> int:
    """A deterministic answer length when the client sets none: 32..512 tokens."""
    mixed = zlib.crc32(text.encode()) ^ (seed * 2654435761 & 0xFFFFFFFF)
    return max(1, min(room, 32 + mixed % 481))


def parse_request(
    endpoint: Endpoint, body: object, *, served_model: str, max_model_len: int, seed: int
) -> ParsedRequest:
    """Validate a completions or chat request as vLLM would, or raise ApiError(400/404)."""
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    model = body.get("model")
    if model != served_model:
        raise ApiError(404, f"The model `{model}` does not exist.", param="model")
    if _int(body, "n", 1, 1) is None and body.get("n") is not None:
        raise ApiError(400, "only n=1 is supported", param="n")
    text, prompt_tokens = _prompt(endpoint, body)
    room = max_model_len - prompt_tokens
    limit = _int(body, "max_completion_tokens", 1, max_model_len)
    limit = limit if limit is not None else _int(body, "max_tokens", 1, max_model_len)
    if room < 1 or (limit is not None and limit > room):
        asked = prompt_tokens + (limit or 1)
        raise ApiError(
            400,
            f"This model's maximum context length is {max_model_len} tokens. "
            f"However, you requested {asked} tokens ({prompt_tokens} in the "
            f"messages, {limit or 1} in the completion). Please reduce the length "
            "of the messages or completion.",
            param="max_tokens",
        )
    options = body.get("stream_options") or {}
    return ParsedRequest(
        endpoint=endpoint,
        model=model,
        prompt_text=text,
        prompt_tokens=prompt_tokens,
        max_tokens=limit if limit is not None else _drawn_length(text, seed, room),
        explicit_max=limit is not None,
        stream=bool(body.get("stream")),
        include_usage=bool(isinstance(options, dict) and options.get("include_usage")),
    )


def block_hashes(text: str, block_size: int) -> tuple[int, ...]:
    """vLLM's prefix-cache keys for ``text``: chained hashes of its full token blocks."""
    return prefix_block_hashes(token_ids(text), block_size)


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "total_tokens": prompt + completion,
        "completion_tokens": completion,
        "prompt_tokens_details": None,
    }


_QUOTED: dict[str, bytes] = {}  # JSON-quoted token texts; the filler vocabulary is small


class sse_chunk_encoder:  # noqa: N801  (a callable namespace, used like a function)
    """Pre-encoded SSE chunks for one streamed response: a content chunk costs one
    ``json.dumps`` of the token text and three byte concatenations. ``created``: Unix
    seconds, from the server's clock."""

    def __init__(self, req: ParsedRequest, request_id: str, *, created: int) -> None:
        self.req = req
        self.chat = req.endpoint == "chat"
        obj = "chat.completion.chunk" if self.chat else "text_completion"
        self.head = (
            f'data: {{"id":"{request_id}","object":"{obj}","created":{created},'
            f'"model":{json.dumps(req.model)},"choices":['
        ).encode()
        if self.chat:
            self.open = b'{"index":0,"delta":{"content":'
            self.close = b'},"logprobs":null,"finish_reason":null}]}\n\n'
        else:
            self.open = b'{"index":0,"text":'
            self.close = b',"logprobs":null,"finish_reason":null,"stop_reason":null}]}\n\n'

    def role(self) -> bytes:
        return self.head + (
            b'{"index":0,"delta":{"role":"assistant","content":""},'
            b'"logprobs":null,"finish_reason":null}]}\n\n'
        )

    def content(self, text: str) -> bytes:
        quoted = _QUOTED.get(text)
        if quoted is None:
            quoted = _QUOTED[text] = (
                json.dumps(text).encode() if len(_QUOTED) < 4096 else json.dumps(text).encode()
            )
        return self.head + self.open + quoted + self.close

    def finish(self, reason: str) -> bytes:
        body = '{"index":0,"delta":{}' if self.chat else '{"index":0,"text":""'
        return (
            self.head
            + (
                f'{body},"logprobs":null,"finish_reason":"{reason}","stop_reason":null}}]}}\n\n'
            ).encode()
        )

    def usage(self, completion: int) -> bytes:
        return (
            self.head
            + b"],"
            + json.dumps({"usage": _usage(self.req.prompt_tokens, completion)})[1:].encode()
            + b"\n\n"
        )

    @staticmethod
    def done() -> bytes:
        return b"data: [DONE]\n\n"


def full_response(
    req: ParsedRequest, request_id: str, text: str, completion: int, reason: str, *, created: int
) -> dict[str, Any]:
    """The non-streaming body; ``created``: Unix seconds, from the server's clock."""
    usage = _usage(req.prompt_tokens, completion)
    if req.endpoint == "chat":
        return {
            "id": request_id,
            "object": "chat.completion",
            "created": created,
            "model": req.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "tool_calls": []},
                    "logprobs": None,
                    "finish_reason": reason,
                    "stop_reason": None,
                }
            ],
            "usage": usage,
        }
    return {
        "id": request_id,
        "object": "text_completion",
        "created": created,
        "model": req.model,
        "choices": [
            {
                "index": 0,
                "text": text,
                "logprobs": None,
                "finish_reason": reason,
                "stop_reason": None,
            }
        ],
        "usage": usage,
    }
