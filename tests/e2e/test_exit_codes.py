"""Exit codes a pipeline can trust: 1 when the run happened but failed its check, 2 for usage,
3 when the run could not happen; one table for them in errors.py, the README, docs/cli.md and
`perfops --help`."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests._servers import free_port, quirky_targets, scripted_llm
from tests.conftest import REPO, run_cli

from perfops.errors import EXIT_CODES, CheckFailed, ConfigError, StoreError, Unreachable, UsageError

SHORT = ("--rate", "4", "--duration", "1s", "--max-tokens", "4", "--prompt-tokens", "16")


def _table(page: Path, heading: str) -> list[tuple[int, str]]:
    """The ``| code | meaning |`` table of the section ``heading``."""
    section = page.read_text(encoding="utf-8").split(heading, 1)[1]
    table = section[section.index("| code | meaning |") :].split("\n\n", 1)[0]
    return [(int(c), m) for c, m in re.findall(r"^\| (\d+) \| (.+) \|$", table, re.M)]


def test_the_readme_docs_and_help_show_the_codes_the_errors_carry() -> None:
    assert _table(REPO / "README.md", "## Exit codes") == list(EXIT_CODES)
    assert _table(REPO / "docs" / "cli.md", "## Exit codes") == list(EXIT_CODES)
    helped = run_cli("--help", cwd=REPO)
    assert helped.returncode == 0
    text = " ".join(helped.stdout.split())
    for code, meaning in EXIT_CODES:
        assert f"{code} {meaning}" in text
    codes = {code for code, _ in EXIT_CODES}
    for error in (CheckFailed, ConfigError, StoreError, Unreachable, UsageError):
        assert error.exit_code in codes


def _failed(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    for word in words:
        assert word in last, last


def test_a_load_run_against_nothing_could_not_happen(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    listed = run_cli("load", "run", "--url", url, *SHORT, cwd=tmp_path)
    _failed(listed, 3, "cannot reach", "/models")
    sent = run_cli("load", "run", "--url", url, "--model", "m", *SHORT, cwd=tmp_path)
    _failed(sent, 3, "refused every connection")
    assert "connect" in sent.stdout  # the result is shown before the verdict


def test_a_load_run_whose_every_request_failed_exits_1(tmp_path: Path) -> None:
    with scripted_llm() as server:
        server.mode = "fail"  # HTTP 503 to every request
        out = tmp_path / "run.json"
        result = run_cli(
            "load", "run", "--url", server.url, *SHORT, "--json", str(out), cwd=tmp_path
        )
        _failed(result, 1, "every request failed", "http_503")
        assert result.stderr.startswith("failed: ")
        summary = json.loads(out.read_text())["summary"]  # written before the verdict
        assert summary["completed"] == 0 < summary["count"]

        sweep = run_cli(
            "load", "sweep", "--url", server.url, "--rates", "2,4", *SHORT[2:], cwd=tmp_path
        )
        _failed(sweep, 1, "every request of every step failed")


def test_a_missed_slo_exits_1_after_the_result_is_out(tmp_path: Path) -> None:
    with scripted_llm(ttft=0.05) as server:
        run = run_cli(
            "load",
            "run",
            "--url",
            server.url,
            *SHORT,
            "--slo",
            "ttft_p99=1ms",
            "--json",
            "-",
            cwd=tmp_path,
        )
        _failed(run, 1, "SLO missed", "ttft_p99")
        assert json.loads(run.stdout)["summary"]["slo_met"] is False

        met = run_cli(
            "load", "run", "--url", server.url, *SHORT, "--slo", "ttft_p99=30s", cwd=tmp_path
        )
        assert met.returncode == 0, met.stderr
        assert "SLO met" in met.stdout

        capacity = run_cli(
            "load",
            "capacity",
            "--url",
            server.url,
            "--slo",
            "ttft_p99=1ms",
            "--max-runs",
            "6",
            *SHORT[2:],
            "--json",
            "-",
            cwd=tmp_path,
        )
        _failed(capacity, 1, "no rate met the SLO")
        assert json.loads(capacity.stdout)["capacity_rps"] is None


def _collect_config(ws: Path, *urls: str) -> None:
    targets = "\n".join(
        f'    - {{name: t{i}, kind: prometheus, url: "{url}"}}' for i, url in enumerate(urls)
    )
    ws.mkdir(exist_ok=True)
    (ws / "perfops.yaml").write_text(
        f"apiVersion: perfops/v1\ntelemetry:\n  interval: 1s\n  timeout: 0.5s\n"
        f"  targets:\n{targets}\n"
    )


def test_a_collect_with_every_target_down_does_not_pass(tmp_path: Path) -> None:
    refused = f"http://127.0.0.1:{free_port()}/metrics"
    _collect_config(tmp_path / "nothing", refused)
    nothing = run_cli("collect", "--duration", "2s", "--json", cwd=tmp_path / "nothing")
    _failed(nothing, 3, "no target accepted a connection", "t0")
    assert json.loads(nothing.stdout)["targets"]["t0"]["up"] is False  # printed first

    with quirky_targets() as quirky:
        _collect_config(tmp_path / "down", refused, quirky.url("/error"))
        down = run_cli("collect", "--duration", "2s", "--json", cwd=tmp_path / "down")
        _failed(down, 1, "every target was down", "t1")

        _collect_config(tmp_path / "some", refused, quirky.url("/good"))
        some = run_cli("collect", "--duration", "2s", "--json", cwd=tmp_path / "some")
        assert some.returncode == 0, some.stderr  # one target up: the JSON says which was down


def test_an_openslo_file_with_no_slo_in_it_is_a_usage_error(tmp_path: Path) -> None:
    only_sli = tmp_path / "sli.yaml"
    only_sli.write_text(
        "apiVersion: openslo/v1\nkind: SLI\nmetadata: {name: latency}\n"
        "spec:\n  thresholdMetric:\n    metricSource:\n      type: Prometheus\n"
        "      spec: {query: 'histogram_quantile(0.9, x)'}\n"
    )
    result = run_cli("slo", "import", str(only_sli), cwd=tmp_path)
    _failed(result, 2, "no SLO imported", "kind: SLO")
    assert result.stdout == ""  # no empty slos: block to paste


def test_doctor_with_a_failing_required_check_exits_1(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("a file where the lake should be\n")
    (tmp_path / "perfops.yaml").write_text(
        "apiVersion: perfops/v1\nworkspace: {lake: not-a-folder}\n"
    )
    result = run_cli("doctor", cwd=tmp_path)
    _failed(result, 1, "required check(s) failed", "lake")
    assert "FAIL" in result.stdout  # the table comes first
