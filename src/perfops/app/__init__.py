"""The composition root: a Runtime holds config, store and clock; commands are built on it."""

from perfops.app.runtime import Runtime, open_runtime

__all__ = ["Runtime", "open_runtime"]
