"""Runtime: what a command needs, built once and passed down (no globals)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from perfops._internal.clock import Clock, SystemClock
from perfops.config import Config, load_config
from perfops.store import Store

__all__ = ["Runtime", "open_runtime"]


@dataclass(frozen=True, kw_only=True)
class Runtime:
    config: Config
    store: Store
    clock: Clock


def open_runtime(
    config_path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    warn: Callable[[str], None] | None = None,
) -> Runtime:
    """Load perfops.yaml and open its lake."""
    config = load_config(config_path, environ=environ, warn=warn)
    clock = clock or SystemClock()
    return Runtime(config=config, store=Store(config.workspace.lake, clock=clock), clock=clock)
