"""Before a chaos run, experiment or drill: can it happen at all?

Checked in this order, nothing touched: every environment variable the run reads a secret
from is set (the service's ``api_key_env``, each fault's ``token_env``), else a UsageError
(exit 2) listing them all; the service under load answers, else
:class:`~perfops.errors.Unreachable` (exit 3); each fault's target answers and takes its
token (:meth:`~perfops.chaos.faults.Fault.probe`: a simulator's admin API, a fault proxy, a
process), else Unreachable (exit 3) or a UsageError (exit 2) for a token it refuses.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Sequence

from perfops.app._fault_schedule import fault_context, token_env_for
from perfops.app.runtime import Runtime
from perfops.chaos.faults import fault_for
from perfops.config.experiment import Deploy, FaultStep
from perfops.errors import Unreachable, UsageError

__all__ = ["preflight"]

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


Steps = Sequence[tuple[str, FaultStep | Deploy]]  # (label, step)


def preflight(rt: Runtime, service: str, steps: Steps) -> None:
    """Raise unless a run of load on ``service`` with faults ``steps`` (label, step) can
    happen; see the module docstring."""
    _secrets_set(rt, service, steps)
    _service_answers(rt, service)
    for _, step in steps:
        target = step.target or service
        plugin = fault_for(step.kind)
        ctx = fault_context(rt, target, kind=step.kind, params=step.params,
                            token_env=step.token_env)  # fmt: skip
        plugin.probe(plugin.plan(ctx, step.params, fault_id="preflight", duration_s=1.0))


def _secrets_set(rt: Runtime, service: str, steps: Steps) -> None:
    wanted: dict[str, str] = {}
    svc = rt.config.service(service)
    if svc.api_key_env:
        wanted.setdefault(svc.api_key_env, f"the API key of service {svc.name} (api_key_env)")
    for label, step in steps:
        target = rt.config.service(step.target or service)
        name = token_env_for(target, step.kind, step.token_env)
        if name:
            own = "token_env" if step.token_env else f"api_key_env of service {target.name}"
            wanted.setdefault(name, f"the token of {label} ({step.kind}; {own})")
    unset = {name: why for name, why in wanted.items() if not os.environ.get(name)}
    if unset:
        listed = "; ".join(f"{name}, {why}" for name, why in unset.items())
        raise UsageError(
            f"environment variable{'s' if len(unset) > 1 else ''} not set: {listed}; nothing "
            "was run",
            hint=f"export {' '.join(f'{n}=...' for n in unset)} (the values are never stored)",
        )


def _service_answers(rt: Runtime, service: str) -> None:
    """GET the service's ``/models``: no answer is Unreachable; 401/403 a UsageError; any
    other answer will do (some servers have no such route)."""
    svc = rt.config.service(service)
    key = os.environ.get(svc.api_key_env) if svc.api_key_env else None
    url = f"{svc.endpoint}/models"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with _OPENER.open(urllib.request.Request(url, headers=headers), timeout=5) as resp:
            resp.read()
        return
    except urllib.error.HTTPError as err:
        err.close()
        if err.code not in (401, 403):
            return
        status = err.code
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        why = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
        raise Unreachable(
            f"service {svc.name} does not answer at {svc.endpoint} ({str(why).lower()}); the "
            "run could not start and nothing was injected",
            hint="start the service (for the simulator: `perfops sim`), or fix its endpoint in "
            "perfops.yaml",
        ) from None
    given = f"the key in {svc.api_key_env}" if key else "a request without an API key"
    raise UsageError(
        f"service {svc.name} at {svc.endpoint} refused {given} (HTTP {status}); nothing was run",
        hint="set api_key_env on the service in perfops.yaml and export that variable",
    )
