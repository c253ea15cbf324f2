"""The numbers of a status update equal an independent count over the lake's request
records: requests and tokens served since the incident opened, those outside the SLO, the
SLI and the share of the error budget consumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests._servers import sim_fleet, sim_service_yaml
from tests.conftest import run_cli

from perfops.store import Store

THRESHOLD_S = 0.060
SLOS = f"""slos:
  - name: fast-first-token
    service: chat
    sli: {{kind: latency, metric: ttft, threshold: {THRESHOLD_S * 1000:.0f}ms, source: requests}}
    objective: 99
  - name: loose
    service: chat
    sli: {{kind: latency, metric: e2e, threshold: 60s, source: requests}}
    objective: 90
"""


@pytest.mark.timeout(300)
def test_an_update_shows_what_the_request_records_say(tmp_path: Path) -> None:
    with sim_fleet(replicas=1) as fleet:
        (tmp_path / "perfops.yaml").write_text(sim_service_yaml(fleet, metrics=False, extra=SLOS))
        opened = run_cli("incident", "open", "chat slow", "--service", "chat", "--slo",
                         "fast-first-token", "--json", cwd=tmp_path)  # fmt: skip
        assert opened.returncode == 0, opened.stderr
        iid = json.loads(opened.stdout)["incident_id"]
        load = run_cli("load", "run", "--service", "chat", "--rate", "8", "--duration", "2s",
                       "--max-tokens", "8", cwd=tmp_path, timeout=120)  # fmt: skip
        assert load.returncode == 0, load.stderr
    shown = run_cli("incident", "message", iid, "--kind", "update", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr

    [run] = Store(tmp_path / ".perfops" / "lake").journal.runs(kind="load")
    rows = Store(tmp_path / ".perfops" / "lake").journal.requests(run.run_id).to_pylist()
    assert rows

    def bad(r: dict[str, object]) -> bool:
        if r["error"] is not None or r["first_token_ns"] is None:
            return True
        return (int(r["first_token_ns"]) - int(r["sent_ns"])) / 1e9 > THRESHOLD_S  # type: ignore[call-overload]

    def tokens(r: dict[str, object]) -> int:
        return int(r["prompt_tokens"] or 0) + int(r["output_tokens"] or 0)  # type: ignore[call-overload]

    n_bad = sum(1 for r in rows if bad(r))
    total_tokens = sum(tokens(r) for r in rows)
    bad_tokens = sum(tokens(r) for r in rows if bad(r))
    sli = 100.0 * (len(rows) - n_bad) / len(rows)
    consumed = 100.0 * (n_bad / len(rows)) / 0.01
    text = shown.stdout
    assert (
        f"fast-first-token (chat): SLI {sli:,.3f}% against 99.000%, {consumed:,.1f}% of the "
        "error budget consumed"
    ) in text
    assert f"{len(rows):,} requests and {total_tokens:,} tokens served" in text
    assert f"{n_bad:,} requests and {bad_tokens:,} tokens outside the SLOs" in text
