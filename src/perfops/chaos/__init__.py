"""Chaos engineering for inference services: SLO-guarded experiments (``steady``, ``faults``,
``undo``) and the LLM-aware fault proxy.

:class:`ProxyServer` runs proxies (:class:`Proxy`) and their Toxiproxy-like control API;
:class:`ProxyClient` drives that API; :func:`running_proxy` runs it in a background thread.
Toxics are chosen by ``kind`` from :data:`TOXIC_KINDS` and validated by :func:`parse_toxic`.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfops.chaos.proxy import (
        NoSuchToxic,
        Proxy,
        ProxyApiError,
        ProxyStats,
        ToxicExists,
    )
    from perfops.chaos.proxy_api import ProxyServer
    from perfops.chaos.proxy_client import ProxyClient, ProxyThread, running_proxy
    from perfops.chaos.toxics import (
        HTTP_KINDS,
        TCP_KINDS,
        TOXIC_KINDS,
        InvalidToxic,
        Toxic,
        ToxicSpec,
        parse_toxic,
        parse_toxic_arg,
    )

__all__ = [
    "HTTP_KINDS",
    "TCP_KINDS",
    "TOXIC_KINDS",
    "InvalidToxic",
    "NoSuchToxic",
    "Proxy",
    "ProxyApiError",
    "ProxyClient",
    "ProxyServer",
    "ProxyStats",
    "ProxyThread",
    "Toxic",
    "ToxicExists",
    "ToxicSpec",
    "parse_toxic",
    "parse_toxic_arg",
    "running_proxy",
]

_HOME = {
    **dict.fromkeys(
        ("NoSuchToxic", "Proxy", "ProxyApiError", "ProxyStats", "ToxicExists"), "proxy"
    ),
    "ProxyServer": "proxy_api",
    **dict.fromkeys(("ProxyClient", "ProxyThread", "running_proxy"), "proxy_client"),
}


def __getattr__(name: str) -> Any:
    """Import the proxy (and aiohttp) only when asked for, so the experiment runner's modules
    stay light."""
    if name in __all__:
        module = import_module(f"perfops.chaos.{_HOME.get(name, 'toxics')}")
        return getattr(module, name)
    raise AttributeError(f"module 'perfops.chaos' has no attribute {name!r}")
