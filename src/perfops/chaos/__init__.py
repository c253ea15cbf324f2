"""Chaos engineering for inference services: SLO-guarded experiments (``steady``, ``faults``,
``undo``) and the LLM-aware fault proxy.

:class:`ProxyServer` runs proxies (:class:`Proxy`) and their Toxiproxy-like control API;
:class:`ProxyClient` drives that API; :func:`running_proxy` runs it in a background thread.
Toxics are chosen by ``kind`` from :data:`TOXIC_KINDS` and validated by :func:`parse_toxic`.
Faults are chosen by ``kind`` from :data:`FAULTS` (:func:`fault_for`); the runner journals
each one in an :class:`UndoJournal` before injecting it, and :func:`recover` reverts what a
lost run left behind. :func:`to_chaostoolkit` exports an experiment for Chaos Toolkit.

Each module is imported on first use, so that the experiment runner does not load the proxy
(and aiohttp).
"""

from typing import TYPE_CHECKING

from perfops._internal.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from perfops.chaos.ctk import (
        CTK_JOURNAL_VERSION,
        RUN_KEY,
        ctk_fault_id,
        ctk_status,
        journal_to_chaostoolkit,
        to_chaostoolkit,
        unsupported_steps,
    )
    from perfops.chaos.faults import (
        FAULTS,
        Fault,
        FaultContext,
        UndoEntry,
        fault_for,
        public_entry,
        revert_entry,
    )
    from perfops.chaos.proxy import (
        NoSuchToxic,
        Proxy,
        ProxyApiError,
        ProxyStats,
        ToxicExists,
    )
    from perfops.chaos.proxy_api import ProxyServer
    from perfops.chaos.proxy_client import ProxyClient, ProxyThread, running_proxy
    from perfops.chaos.steady import (
        Check,
        FaultImpact,
        HypothesisResult,
        Outcome,
        bad_events,
        burn,
        check_hypothesis,
        fault_impact,
        stop_reason,
    )
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
    from perfops.chaos.undo import UndoJournal, recover

__all__ = [
    "CTK_JOURNAL_VERSION",
    "FAULTS",
    "HTTP_KINDS",
    "RUN_KEY",
    "TCP_KINDS",
    "TOXIC_KINDS",
    "Check",
    "Fault",
    "FaultContext",
    "FaultImpact",
    "HypothesisResult",
    "InvalidToxic",
    "NoSuchToxic",
    "Outcome",
    "Proxy",
    "ProxyApiError",
    "ProxyClient",
    "ProxyServer",
    "ProxyStats",
    "ProxyThread",
    "Toxic",
    "ToxicExists",
    "ToxicSpec",
    "UndoEntry",
    "UndoJournal",
    "bad_events",
    "burn",
    "check_hypothesis",
    "ctk_fault_id",
    "ctk_status",
    "fault_for",
    "fault_impact",
    "journal_to_chaostoolkit",
    "parse_toxic",
    "parse_toxic_arg",
    "public_entry",
    "recover",
    "revert_entry",
    "running_proxy",
    "stop_reason",
    "to_chaostoolkit",
    "unsupported_steps",
]

__getattr__ = lazy_exports(
    globals(),
    {
        "ctk": (
            "CTK_JOURNAL_VERSION",
            "RUN_KEY",
            "ctk_fault_id",
            "ctk_status",
            "journal_to_chaostoolkit",
            "to_chaostoolkit",
            "unsupported_steps",
        ),
        "faults": (
            "FAULTS",
            "Fault",
            "FaultContext",
            "UndoEntry",
            "fault_for",
            "public_entry",
            "revert_entry",
        ),
        "proxy": ("NoSuchToxic", "Proxy", "ProxyApiError", "ProxyStats", "ToxicExists"),
        "proxy_api": ("ProxyServer",),
        "proxy_client": ("ProxyClient", "ProxyThread", "running_proxy"),
        "steady": (
            "Check",
            "FaultImpact",
            "HypothesisResult",
            "Outcome",
            "bad_events",
            "burn",
            "check_hypothesis",
            "fault_impact",
            "stop_reason",
        ),
        "toxics": (
            "HTTP_KINDS",
            "TCP_KINDS",
            "TOXIC_KINDS",
            "InvalidToxic",
            "Toxic",
            "ToxicSpec",
            "parse_toxic",
            "parse_toxic_arg",
        ),
        "undo": ("UndoJournal", "recover"),
    },
)
