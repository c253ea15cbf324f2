"""`python -m perfops` runs the CLI."""

from perfops.cli import run

run()
