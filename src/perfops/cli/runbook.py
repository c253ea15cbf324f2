"""`perfops runbook`: generate, show, check, serve and update the workspace's runbooks."""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated

import typer

from perfops.cli._context import echo_json, runtime
from perfops.cli._terminal import echo
from perfops.errors import CheckFailed, UsageError

app = typer.Typer(
    help="Runbooks, one per generated alert (runbooks/<AlertName>.md next to perfops.yaml), "
    "with mitigations ranked by the drills that exercised them.",
    no_args_is_help=True,
)

_JSON = Annotated[bool, typer.Option("--json", help="print JSON")]


def _written(rows: list[object], as_json: bool) -> None:
    from perfops.app.runbook import Written

    items = [r for r in rows if isinstance(r, Written)]
    if as_json:
        echo_json(
            [
                {"path": str(w.path), "state": w.state, "edited": w.edited,
                 "orig": str(w.orig) if w.orig else None}
                for w in items
            ]
        )  # fmt: skip
        return
    for w in items:
        kept = f" (previous file kept as {w.orig})" if w.orig else ""
        edited = f", hand-edited: {', '.join(w.edited)}" if w.edited else ""
        echo(f"{w.state:9} {w.path}{edited}{kept}")


@app.command("generate")
def generate(
    ctx: typer.Context,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="regenerate generated blocks edited by hand (the old file is kept as .md.orig)",
        ),
    ] = False,
    as_json: _JSON = False,
) -> None:
    """Write or regenerate a runbook per alert; text outside the generated blocks is kept."""
    from perfops.app.runbook import generate_runbooks

    _written(list(generate_runbooks(runtime(ctx), force=force)), as_json)


@app.command("update")
def update(
    ctx: typer.Context,
    slo: Annotated[
        list[str] | None, typer.Option("--slo", help="only the runbooks of this SLO (repeatable)")
    ] = None,
    as_json: _JSON = False,
) -> None:
    """Rewrite the mitigation and evidence blocks from the drills and experiments in the lake."""
    from perfops.app.runbook import update_evidence

    rt = runtime(ctx)
    known = {s.name for s in rt.config.slos}
    unknown = sorted(set(slo or ()) - known)
    if unknown:
        raise UsageError(
            f"no SLO {', '.join(map(repr, unknown))} in perfops.yaml",
            hint=f"SLOs: {', '.join(sorted(known)) or 'none'}",
        )
    say = (lambda m: echo(m, err=True)) if as_json else echo
    _written(list(update_evidence(rt, slos=slo or None, say=say)), as_json)


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="the alert (or runbook) name, e.g. ChatTtftPageBurnRate")
    ],
) -> None:
    """Print a runbook's Markdown (without the block markers)."""
    from perfops.app.runbook import list_runbooks, read_runbook

    rt = runtime(ctx)
    text = read_runbook(rt, name)
    if text is None:
        names = list_runbooks(rt)
        raise UsageError(
            f"no runbook {name!r} in {rt.config.runbooks.dir}",
            hint=f"runbooks: {', '.join(names)}" if names else "run `perfops runbook generate`",
        )
    echo(text.rstrip("\n"))


@app.command("check")
def check(
    ctx: typer.Context,
    runbook_url: Annotated[
        str | None,
        typer.Option(
            help="base URL to check (default: workspace.runbook_url, else the dashboard's)"
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, max=60, help="seconds per URL")] = 5.0,
    as_json: _JSON = False,
) -> None:
    """Check that every alert's runbook_url resolves and every diagnosis query runs on the
    lake; exit 1 naming each that does not."""
    from perfops.app.runbook import check_runbooks

    lines = check_runbooks(runtime(ctx), runbook_url, timeout_s=timeout)
    if as_json:
        echo_json([{"alert": c.alert, "what": c.what, "target": c.target, "ok": c.ok,
                    "detail": c.detail} for c in lines])  # fmt: skip
    else:
        for c in lines:
            echo(f"{'ok ' if c.ok else 'BAD'} {c.alert:28} {c.target}: {c.detail}")
    bad = [c for c in lines if not c.ok]
    if bad:
        raise CheckFailed(
            f"{len(bad)} of {len(lines)} runbook checks failed: "
            + "; ".join(f"{c.alert} {c.what} {c.target} ({c.detail})" for c in bad),
            hint="`perfops runbook generate` writes missing runbooks; a base URL must answer "
            "2xx for <base>/<AlertName>",
            result=[c.target for c in bad],
        )


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="bind address; loopback unless --token-env")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port (0: a free one)")] = 8080,
    token_env: Annotated[
        str | None, typer.Option("--token-env", help="environment variable holding the token")
    ] = None,
) -> None:
    """Serve the runbooks at /runbooks/<name> (the dashboard's server, the same URLs) until
    Ctrl-C."""
    import asyncio

    from perfops.cli.dashboard import _token
    from perfops.web import check_bind
    from perfops.web import serve as serve_web

    token = _token(token_env)
    check_bind(host, token)
    rt = runtime(ctx)

    def ready(url: str) -> None:
        echo(f"runbooks of {rt.config.runbooks.dir} at {url}runbooks/ (Ctrl-C stops it)")

    with suppress(KeyboardInterrupt):  # a second Ctrl-C while stopping
        asyncio.run(serve_web(rt, host, port, token, ready))
    echo("stopped")
