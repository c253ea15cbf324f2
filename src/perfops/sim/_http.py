"""aiohttp plumbing the fleet's routes share: the API-key guard, and errors answered in
OpenAI's JSON shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from perfops.sim.openai_api import ApiError, error_body

__all__ = ["Handler", "error_response", "guarded"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def guarded(handler: Handler, token: str | None) -> Handler:
    """``handler`` behind ``Authorization: Bearer TOKEN`` when a token is set (401 else)."""

    async def guard(request: web.Request) -> web.StreamResponse:
        if token and request.headers.get("Authorization") != f"Bearer {token}":
            return error_response(
                ApiError(401, "missing or wrong API key (send the sim's --token as a Bearer token)")
            )
        return await handler(request)

    return guard if token else handler


def error_response(err: ApiError, rid: str | None = None) -> web.Response:
    headers = {}
    if err.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(err.retry_after)))
    if rid:
        headers["X-Request-Id"] = rid
    return web.json_response(error_body(err), status=err.status, headers=headers)
