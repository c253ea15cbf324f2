"""The `perfops` command line: thin shells that parse, call the library and render."""

from perfops.cli._main import app, main, run

__all__ = ["app", "main", "run"]
