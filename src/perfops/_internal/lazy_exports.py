"""Lazy package exports (PEP 562): a package names its whole API in ``__all__`` but imports
a heavy module (aiohttp, openai, the Grafana SDK, the lake) only when one of its names is
first used, so that importing a light part of it, or ``perfops --help``, stays fast."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: dict[str, Any], homes: Mapping[str, Iterable[str]]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for the package whose globals are ``namespace``: each name of
    ``homes[module]`` is imported from that submodule on first use, then kept."""
    package = namespace["__name__"]
    where = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    return __getattr__
