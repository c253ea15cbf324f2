"""``proxy.<toxic>``: a toxic on a fault proxy (``perfops chaos proxy``), through its
Toxiproxy-like control API.

Probe, before a run, GETs the proxy from the API, so that a proxy that is down, unknown or
that refuses the token stops the run before anything lands. Inject adds the toxic named after
the fault id with ``expires_in`` = the step's duration, so
the proxy removes it by itself if nobody reverts it; adding it again is harmless (409: it is
already there). Revert removes it; a toxic or proxy the API no longer knows (404), or a proxy
that is gone (connection refused), counts as reverted: toxics live in the proxy's memory.

Params: ``proxy``, the proxy's name in the API (default ``proxy``, as ``perfops chaos proxy
--name`` defaults); ``api``, the control API's URL when the context has none (or another);
plus the toxic's own fields (:mod:`perfops.chaos.toxics`), less ``kind``,
``name`` and ``expires_in``, which the runner sets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from perfops.chaos._admin_api import Unreachable, call, delete_if_present, probe, problem
from perfops.chaos._fault_base import (
    FaultContext,
    UndoEntry,
    base_entry,
    bearer,
    model_problems,
    refuse,
    reserved_params,
    with_token,
)
from perfops.chaos.toxics import MAX_EXPIRES_IN, TOXIC_KINDS
from perfops.errors import PerfopsError

__all__ = ["PROXY_FAULTS", "ProxyFault"]

DEFAULT_PROXY = "proxy"
_PROXY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_API_URL = re.compile(r"^https?://[^/\s]+/?\S*$")
_OWN = ("proxy", "api")  # params of the fault, not of the toxic
TOKEN_HINT = (
    "name the variable holding the proxy's --token (PERFOPS_PROXY_TOKEN) in the step's "
    "token_env, and export it"
)
_RESERVED = {
    "kind": "the fault kind",
    "type": "the fault kind",
    "name": "the fault id",
    "expires_in": "the step's duration",
}


class ProxyFault:
    """Base of the ``proxy.*`` kinds; each subclass names one toxic kind."""

    kind: ClassVar[str]
    toxic: ClassVar[str]
    model: ClassVar[type[BaseModel]]

    @classmethod
    def fields(cls) -> list[str]:
        return ["proxy", "api", *(f for f in cls.model.model_fields if f not in _RESERVED)]

    @classmethod
    def check(cls, params: Mapping[str, Any]) -> list[str]:
        if not isinstance(params, Mapping):
            return [f"params: {cls.kind} takes a mapping of {', '.join(cls.fields())}"]
        problems = reserved_params(cls.kind, params, _RESERVED)
        proxy = params.get("proxy", DEFAULT_PROXY)
        if not isinstance(proxy, str) or not _PROXY_NAME.match(proxy):
            problems.append(
                f"params.proxy: {proxy!r} is not a proxy name (1-100 of A-Z, a-z, 0-9, _ . -)"
            )
        api = params.get("api")
        if api is not None and (not isinstance(api, str) or not _API_URL.match(api)):
            problems.append(
                f"params.api: the proxy's control API URL, http://HOST:PORT (got {api!r})"
            )
        body = {k: v for k, v in params.items() if k not in _RESERVED and k not in _OWN}
        try:
            cls.model.model_validate({**body, "kind": cls.toxic})
        except ValidationError as exc:
            problems += model_problems(cls.kind, exc, cls.fields())
        return problems

    def plan(
        self, ctx: FaultContext, params: Mapping[str, Any], *, fault_id: str, duration_s: float
    ) -> UndoEntry:
        refuse(self.kind, self.check(params))
        entry = base_entry(
            self.kind, ctx, fault_id=fault_id, duration_s=duration_s, max_s=MAX_EXPIRES_IN
        )
        api = params.get("api") or ctx.proxy_api
        if not api:
            raise PerfopsError(
                f"{self.kind}: service {ctx.service} has no fault proxy",
                hint="give the proxy's control API URL (params.api), e.g. http://127.0.0.1:8474",
            )
        fields = {k: v for k, v in params.items() if k not in _OWN}
        toxic = {**fields, "kind": self.toxic, "name": fault_id, "expires_in": float(duration_s)}
        entry.update(
            url=str(api).rstrip("/"),
            proxy=str(params.get("proxy", DEFAULT_PROXY)),
            toxic=toxic,
        )
        return with_token(entry, ctx)

    def probe(self, entry: UndoEntry) -> None:
        probe(
            f"{entry['url']}/proxies/{quote(entry['proxy'], safe='')}",
            token=bearer(entry),
            what=f"{self.kind}: the fault proxy's API at {entry['url']}",
            token_hint=TOKEN_HINT,
            not_found=f"it runs no proxy named {entry['proxy']!r} (params.proxy; `perfops "
            "chaos proxy --name` sets it)",
        )

    def inject(self, entry: UndoEntry) -> None:
        url = f"{entry['url']}/proxies/{quote(entry['proxy'], safe='')}/toxics"
        try:
            status, answer = call("POST", url, entry["toxic"], token=bearer(entry))
        except Unreachable as exc:
            raise PerfopsError(
                f"{entry['kind']} {entry['id']}: cannot reach the fault proxy's API ({exc})",
                hint="start it with `perfops chaos proxy`",
            ) from None
        if status not in (200, 201, 409):  # 409: a retry, the toxic is already there
            raise _refused(entry, "inject", status, answer)

    def revert(self, entry: UndoEntry) -> None:
        name = quote(entry["id"], safe="")
        delete_if_present(
            entry,
            f"{entry['url']}/proxies/{quote(entry['proxy'], safe='')}/toxics/{name}",
            token=bearer(entry),
            gone=(200, 204, 404),
            owner="proxy",
            refused=lambda status, answer: _refused(entry, "revert", status, answer),
        )


def _refused(entry: UndoEntry, action: str, status: int, answer: Any) -> PerfopsError:
    hint = TOKEN_HINT if status in (401, 403) else None
    return PerfopsError(
        f"{entry['kind']} {entry['id']}: the proxy refused to {action} it on proxy "
        f"{entry['proxy']!r} (HTTP {status}: {problem(status, answer)})",
        hint=hint,
    )


def _proxy_class(toxic: str, model: type[BaseModel]) -> type[ProxyFault]:
    fields = ", ".join(f for f in model.model_fields if f not in _RESERVED)
    doc = f"The fault proxy's {toxic} toxic; params: proxy, {fields}."
    return type(
        f"Proxy_{toxic}",
        (ProxyFault,),
        {"kind": f"proxy.{toxic}", "toxic": toxic, "model": model, "__doc__": doc},
    )


PROXY_FAULTS: dict[str, type[ProxyFault]] = {
    f"proxy.{kind}": _proxy_class(kind, model) for kind, model in TOXIC_KINDS.items()
}
