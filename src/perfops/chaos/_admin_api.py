"""JSON calls to the control APIs faults talk to (the simulator's admin API, the fault proxy's
API): standard library only, synchronous, short timeouts, never through an HTTP proxy; and the
check, before a run, that such an API answers and takes the token it is given."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, MutableMapping
from typing import Any

from perfops import errors
from perfops._internal import strict_json
from perfops.errors import PerfopsError, UsageError

__all__ = ["Unreachable", "call", "delete_if_present", "probe", "problem"]

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Unreachable(errors.Unreachable):
    """No answer from a control API; ``refused`` when nothing listens there any more."""

    def __init__(self, message: str, *, refused: bool, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.refused = refused


def call(
    method: str, url: str, body: object = None, *, token: str | None = None, timeout: float = 5.0
) -> tuple[int, Any]:
    """(status, JSON body or None) for any HTTP answer; raises :class:`Unreachable`."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else strict_json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _OPENER.open(request, timeout=timeout) as resp:
            return resp.status, _json(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, _json(err.read())
    except urllib.error.URLError as err:
        reason = err.reason
        refused = isinstance(reason, ConnectionRefusedError)
        raise Unreachable(f"{method} {url}: {_why(reason)}", refused=refused) from None
    except TimeoutError:
        message = f"{method} {url}: no answer within {timeout:g} s"
        raise Unreachable(message, refused=False) from None
    except OSError as err:
        raise Unreachable(f"{method} {url}: {_why(err)}", refused=False) from None


def delete_if_present(
    entry: MutableMapping[str, Any],
    url: str,
    *,
    token: str | None,
    gone: tuple[int, ...],
    owner: str,
    refused: Callable[[int, Any], PerfopsError],
) -> None:
    """DELETE a fault at ``url``, idempotently: an answer in ``gone`` means it was already
    reverted or expired, and a refused connection that its ``owner`` (the simulator, the
    proxy) is gone and the fault with it: it is noted in ``entry["_gone"]`` (in-process only)
    for a runner that wants to know the fault ended with its owner, not when planned. A
    timeout is an error `perfops chaos recover` retries; any other status is ``refused``."""
    try:
        status, answer = call("DELETE", url, token=token)
    except Unreachable as exc:
        if exc.refused:
            entry["_gone"] = f"the {owner} does not answer any more ({exc})"
            return
        raise PerfopsError(
            f"{entry['kind']} {entry['id']}: cannot revert ({exc})",
            hint=f"run `perfops chaos recover` once the {owner} answers",
        ) from None
    if status not in gone:
        raise refused(status, answer)


def probe(url: str, *, token: str | None, what: str, token_hint: str, not_found: str) -> None:
    """Before a run, GET ``url`` of the control API that ``what`` names: :class:`Unreachable`
    (exit 3) when nothing answers; a UsageError (exit 2) when it refuses the token
    (``token_hint`` says how to give it) or does not know the path (``not_found`` says why)."""
    try:
        status, answer = call("GET", url, token=token)
    except Unreachable as exc:
        raise Unreachable(
            f"{what} does not answer ({exc}); nothing was injected",
            refused=exc.refused,
            hint="start it, or fix the URL, then run again",
        ) from None
    if status in (401, 403):
        given = "the token it was given" if token else "a request without a token"
        raise UsageError(
            f"{what} refused {given} (HTTP {status}: {problem(status, answer)}); nothing was "
            "injected",
            hint=token_hint,
        )
    if status == 404:
        raise UsageError(f"{what} has no {url}: {not_found}; nothing was injected")
    if status >= 400:
        raise Unreachable(
            f"{what} is not working (HTTP {status} to GET {url}: {problem(status, answer)}); "
            "nothing was injected",
            refused=False,
        )


def problem(status: int, body: Any) -> str:
    """The error message of an answer, in the shapes perfops' APIs use."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if error:
            return str(error)
    return f"HTTP {status}"


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _why(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "no answer in time"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason)
