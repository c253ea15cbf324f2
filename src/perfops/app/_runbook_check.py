"""`perfops runbook check`: every alert's ``runbook_url`` resolves, and every diagnosis query
a runbook names runs on the workspace's lake.

A URL under the dashboard's default base resolves when the runbook file exists (the
dashboard serves the file); any other http(s) URL when a HEAD (or, refused, a GET) answers
2xx. A query resolves when it answers, data or not; an error is a failure.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from perfops._internal.runbook_names import runbook_url
from perfops.app._runbook_content import LakeQuery
from perfops.app.runtime import Runtime
from perfops.slo.rules import DEFAULT_RUNBOOK

__all__ = ["CheckLine", "check_queries", "check_url"]


@dataclass(frozen=True, slots=True)
class CheckLine:
    alert: str
    what: str  # url | query
    target: str  # the URL, or the perfops command
    ok: bool
    detail: str


def _http(url: str, timeout_s: float) -> tuple[bool, str]:
    for method in ("HEAD", "GET"):
        request = urllib.request.Request(url, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
                code = int(answer.status)
        except urllib.error.HTTPError as exc:
            code = exc.code
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return False, f"no answer: {getattr(exc, 'reason', exc)}"
        if code in (405, 501) and method == "HEAD":
            continue
        return 200 <= code < 300, f"HTTP {code}"
    return False, "HEAD and GET refused"


def check_url(alert: str, base: str, path: Path, *, timeout_s: float = 5.0) -> CheckLine:
    """Whether the ``runbook_url`` of ``alert`` under ``base`` resolves; ``path`` is the
    runbook file the dashboard serves for it."""
    url = runbook_url(base, alert)
    if base.rstrip("/") == DEFAULT_RUNBOOK.rstrip("/"):
        found = path.is_file()
        why = f"served by `perfops dashboard` from {path}" if found else f"no file {path}"
        return CheckLine(alert, "url", url, found, why)
    if not url.startswith(("http://", "https://")):
        return CheckLine(alert, "url", url, False, "not an http(s) URL")
    ok, why = _http(url, timeout_s)
    return CheckLine(alert, "url", url, ok, why)


def check_queries(rt: Runtime, alert: str, queries: Sequence[LakeQuery]) -> list[CheckLine]:
    """Each query run on the workspace: its one-line answer, or its error."""
    out = []
    for q in queries:
        try:
            out.append(CheckLine(alert, "query", q.query.command, True, q.run(rt)))
        except Exception as exc:  # the query's failure is the check's finding
            out.append(CheckLine(alert, "query", q.query.command, False, str(exc)))
    return out
