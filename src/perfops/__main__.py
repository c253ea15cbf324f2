"""`python -m perfops` runs the CLI."""

from perfops.cli._main import run

run()
