"""Runtime: what a command needs, built once and passed down (no globals)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from perfops._internal.clock import Clock, SystemClock
from perfops.config import CONFIG_ENV, Config, load_config, parse_config
from perfops.store import Store

__all__ = ["SCRATCH_LAKE", "Runtime", "open_runtime"]

SCRATCH_LAKE = Path(".perfops/lake")
"""Where results go when no perfops.yaml is around (relative to the working directory)."""


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
    scratch: bool = False,
) -> Runtime:
    """Load perfops.yaml and open its lake.

    With ``scratch``, having no perfops.yaml at all is no error: when none is named (no
    ``config_path``, no $PERFOPS_CONFIG) and ./perfops.yaml does not exist, the runtime has an
    empty config and a lake in ./.perfops/lake, so results are kept all the same. A named file
    that is missing, or a perfops.yaml that is invalid, is still a ConfigError.
    """
    env = os.environ if environ is None else environ
    clock = clock or SystemClock()
    if scratch and _none_around(config_path, env):
        config = parse_config("apiVersion: perfops/v1\n")
        return Runtime(config=config, store=Store(SCRATCH_LAKE.resolve(), clock=clock), clock=clock)
    config = load_config(config_path, environ=env, warn=warn)
    return Runtime(config=config, store=Store(config.workspace.lake, clock=clock), clock=clock)


def _none_around(config_path: str | Path | None, environ: Mapping[str, str]) -> bool:
    named = config_path or environ.get(CONFIG_ENV)
    return not named and not Path("perfops.yaml").exists()
