"""Root command, global options, and the error policy: one clear line and the exit code of
:data:`perfops.errors.EXIT_CODES` (1 failed check or runtime error, 2 usage or config error,
3 unreachable target); ``--debug`` shows the traceback."""

from __future__ import annotations

import os
import sys
import textwrap
import traceback
from pathlib import Path
from typing import Annotated

import typer

from perfops import __version__
from perfops.cli import (
    chaos,
    collect,
    cost,
    dashboard,
    demo,
    doctor,
    incident,
    init,
    load,
    metrics,
    report,
    review,
    runbook,
    sim,
    slo,
    store,
)
from perfops.cli._terminal import VisibleStream, echo
from perfops.errors import EXIT_CODES, PerfopsError


def _help() -> str:
    """The root help: what perfops is, and the exit codes a pipeline can gate on (``\b`` keeps
    click from rewrapping the table)."""
    rows = "\n".join(
        textwrap.fill(meaning, 76, initial_indent=f"  {code:<4} ", subsequent_indent=" " * 7)
        for code, meaning in EXIT_CODES
    )
    return (
        "Production performance operations for GPU inference services: observe, promise, "
        f"prove, respond, account, show.\n\n\b\nExit codes:\n{rows}"
    )


app = typer.Typer(
    name="perfops",
    help=_help(),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
app.command("init")(init.init)
app.command("doctor")(doctor.doctor)
app.command("demo")(demo.demo)
app.add_typer(store.app, name="store")
app.add_typer(sim.app, name="sim")
app.add_typer(collect.app, name="collect")
app.add_typer(metrics.app, name="metrics")
app.add_typer(load.app, name="load")
app.add_typer(slo.app, name="slo")
app.add_typer(cost.app, name="cost")
app.add_typer(chaos.app, name="chaos")
app.add_typer(runbook.app, name="runbook")
app.command("dashboard")(dashboard.dashboard)
app.add_typer(incident.app, name="incident")
app.command("report")(report.report)
app.add_typer(review.app, name="review")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"perfops {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="perfops.yaml to use (default: $PERFOPS_CONFIG or ./perfops.yaml)",
            envvar="PERFOPS_CONFIG",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="show tracebacks")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    ctx.obj = {"config": config, "debug": debug}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("PERFOPS_DEBUG") == "1"
    command = typer.main.get_command(app)
    try:
        # without standalone mode click returns the code of a typer.Exit instead of raising
        code = command.main(args=args, prog_name="perfops", standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.TyperException as exc:  # usage errors: bad option, missing argument
        show = getattr(exc, "show", None)
        if callable(show):
            show(file=VisibleStream(sys.stderr))
        else:
            echo(f"error: {exc.format_message()}", err=True)
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except PerfopsError as exc:
        if debug:
            traceback.print_exc()
        echo(f"{exc.label}: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # the last line of defence: no traceback unless asked
        if debug:
            traceback.print_exc()
        else:
            echo(
                f"internal error: {type(exc).__name__}: {exc} (run with --debug for the "
                "traceback, and please report it)",
                err=True,
            )
        return 1
    return 0


def run() -> None:
    sys.exit(main())
