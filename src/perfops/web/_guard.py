"""The dashboard's doorman: security headers on every answer, the token check off loopback,
and read-only methods.

A token arrives as ``Authorization: Bearer TOKEN``, or once as ``?token=TOKEN`` on the page,
which sets an HttpOnly, SameSite=Strict cookie and redirects to the same URL without it (so
the token leaves the address bar and the history).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

__all__ = ["COOKIE", "CSP", "bearer_authorised", "guard_middleware"]

COOKIE = "perfops_dashboard"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def bearer_authorised(request: web.Request, token: str) -> bool:
    """Whether the request carries ``Authorization: Bearer TOKEN`` (compared in constant
    time); what a machine client such as Alertmanager sends."""
    auth = request.headers.get("Authorization", "")
    return _same(auth[7:] if auth.startswith("Bearer ") else None, token)


def _authorised(request: web.Request, token: str) -> bool:
    return bearer_authorised(request, token) or _same(request.cookies.get(COOKIE), token)


def guard_middleware(token: str | None) -> Any:
    """Middleware: only GET/HEAD; with a token, every request proves it; headers always."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await _answer(request, handler, token)
        response.headers.update(_HEADERS)
        return response

    return guard


async def _answer(request: web.Request, handler: Handler, token: str | None) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD"):
        return web.json_response(
            {"error": "the dashboard is read-only", "hint": "use GET"}, status=405
        )
    if token is not None and not _authorised(request, token):
        given = request.query.get("token")
        if given is not None and _same(given, token):
            query = {k: v for k, v in request.query.items() if k != "token"}
            response = web.Response(
                status=302, headers={"Location": str(request.rel_url.with_query(query))}
            )
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
            return response
        return web.json_response(
            {
                "error": "this dashboard needs its token",
                "hint": "send Authorization: Bearer TOKEN, or open the page once with ?token=TOKEN",
            },
            status=401,
        )
    try:
        return await handler(request)
    except web.HTTPException as exc:  # 404 and friends, as JSON with the headers above
        return web.json_response({"error": exc.reason}, status=exc.status)
