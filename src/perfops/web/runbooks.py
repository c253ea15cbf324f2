"""The workspace's runbooks as HTML pages: ``/runbooks/`` lists them, ``/runbooks/<name>``
shows one (the ``runbook_url`` the generated alerts carry when no base URL is set).

The Markdown is rendered by markdown-it-py with raw HTML disabled, so whatever the file holds
(a hostile description from perfops.yaml, a hand edit) is shown as text, never run; the page
loads no script and only the dashboard's own stylesheet, under the dashboard's CSP.
"""

from __future__ import annotations

import asyncio
import html
from functools import cache

from aiohttp import web
from markdown_it import MarkdownIt

from perfops.app import Runtime, list_runbooks, read_runbook

__all__ = ["add_runbook_routes", "render_runbook"]


@cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<link rel="stylesheet" href="/static/dashboard.css"></head>'
        f'<body><main class="runbook">{body}</main></body></html>\n'
    )


def render_runbook(name: str, markdown: str) -> str:
    """The HTML page of a runbook: its Markdown, raw HTML in it escaped."""
    return _page(f"runbook {name}", _markdown().render(markdown))


def add_runbook_routes(app: web.Application, rt: Runtime) -> None:
    async def one(request: web.Request) -> web.Response:
        name = request.match_info["name"].removesuffix(".md")
        text = await asyncio.to_thread(read_runbook, rt, name)
        if text is None:
            raise web.HTTPNotFound(reason=f"no runbook {name!r}: `perfops runbook generate`")
        return web.Response(text=render_runbook(name, text), content_type="text/html")

    async def index(request: web.Request) -> web.Response:
        names = await asyncio.to_thread(list_runbooks, rt)
        items = "".join(
            f'<li><a href="/runbooks/{html.escape(n)}">{html.escape(n)}</a></li>' for n in names
        )
        body = f"<h1>Runbooks</h1><ul>{items or '<li>none yet</li>'}</ul>"
        return web.Response(text=_page("runbooks", body), content_type="text/html")

    app.router.add_get("/runbooks", index)
    app.router.add_get("/runbooks/", index)
    app.router.add_get("/runbooks/{name}", one)
