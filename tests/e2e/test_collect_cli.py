"""`perfops collect`, `perfops collect import` and `perfops metrics` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest
from tests._servers import get, prometheus, sim_fleet, sim_service_yaml
from tests.conftest import FIXTURES, run_cli


def test_collect_then_browse(tmp_path: Path) -> None:
    with sim_fleet(replicas=1, dcgm_interval=0.1) as fleet:
        (tmp_path / "perfops.yaml").write_text(
            sim_service_yaml(
                fleet,
                extra=f"""telemetry:
  interval: 1s
  targets:
    - {{name: dcgm, kind: dcgm, url: "{fleet.url("dcgm-metrics")}", service: chat}}
    - {{name: ghost, kind: prometheus, url: "http://127.0.0.1:9/metrics"}}
""",
            )
        )
        client = openai.OpenAI(base_url=fleet.url(), api_key="sim")
        for i in range(4):
            client.completions.create(model="llama-3.1-8b", prompt=f"q{i}", max_tokens=16)
        result = run_cli("collect", "--duration", "2.5s", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    health = json.loads(result.stdout)["targets"]
    writer = json.loads(result.stdout)["writer"]  # what reached the lake, what was dropped
    assert writer["samples"] > 0
    assert (writer["dropped_batches"], writer["queued_samples"], writer["error"]) == (0, 0, None)
    assert health["dcgm"]["up"] is True
    assert health["chat-vllm"]["samples"] > 0
    assert health["ghost"]["up"] is False
    assert "connection failed" in health["ghost"]["last_error"]

    listed = json.loads(run_cli("metrics", "ls", "--json", cwd=tmp_path).stdout)
    names = {m["metric"] for m in listed}
    assert {"gpu.util", "gpu.power_watts", "llm.ttft_seconds_bucket", "up"} <= names
    util = next(m for m in listed if m["metric"] == "gpu.util")
    assert util["raw_names"] == ["DCGM_FI_DEV_GPU_UTIL"]

    shown = run_cli(
        "metrics", "show", "gpu.power_watts", "--labels", 'gpu="0"', "--json", cwd=tmp_path
    )
    assert shown.returncode == 0, shown.stderr
    series = json.loads(shown.stdout)["series"]
    assert len(series) == 1
    assert series[0]["labels"]["service"] == "chat"
    assert series[0]["last"] > 50  # watts: at least the idle power of an H100

    table = run_cli("metrics", "show", "gpu.power_watts", cwd=tmp_path)
    assert "gpu.power_watts since 1h" in table.stdout

    kpis = json.loads(run_cli("metrics", "kpis", "--since", "10m", "--json", cwd=tmp_path).stdout)
    chat = next(r for r in kpis if r["group"] == "chat")
    assert chat["gpu_hours"] > 0

    missing = run_cli("metrics", "show", "gpu.nothing", cwd=tmp_path)
    assert missing.returncode == 2
    assert "metrics ls" in missing.stderr
    bad = run_cli("metrics", "show", "gpu.util", "--labels", "gpu=0", cwd=tmp_path)
    assert bad.returncode == 2
    assert "bad label matcher" in bad.stderr


def test_collect_without_targets_says_what_to_add(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text("apiVersion: perfops/v1\n")
    result = run_cli("collect", "--duration", "1s", cwd=tmp_path)
    assert result.returncode == 2
    assert "add telemetry.targets" in result.stderr


def test_import_with_a_bad_time_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text("apiVersion: perfops/v1\n")
    result = run_cli(
        "collect",
        "import",
        "--prometheus",
        "http://127.0.0.1:9",
        "--query",
        "up",
        "--start",
        "last tuesday",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "cannot read the time 'last tuesday'" in result.stderr


def test_an_expression_needs_a_name_and_a_dead_prometheus_is_unreachable(tmp_path: Path) -> None:
    (tmp_path / "perfops.yaml").write_text("apiVersion: perfops/v1\n")
    base = ["collect", "import", "--prometheus", "http://127.0.0.1:9", "--start", "1h"]
    unnamed = run_cli(*base, "-q", "sum(rate(vllm:request_success_total[5m]))", cwd=tmp_path)
    assert unnamed.returncode == 2
    assert "is an expression, not a series selector" in unnamed.stderr
    assert "--as NAME" in unnamed.stderr
    bad = run_cli(*base, "-q", "rate(x[5m])", "--as", "rate(x)", cwd=tmp_path)
    assert (bad.returncode, "'rate(x)' is not a metric name" in bad.stderr) == (2, True)
    dead = run_cli(*base, "-q", "vllm:request_success_total", cwd=tmp_path, timeout=120)
    assert dead.returncode == 3, dead.stderr
    assert "still failing after 5 tries" in dead.stderr


def _init_for(workspace: Path, fleet: object, cwd: Path) -> None:
    """`perfops init` at ``workspace``, its URLs pointed at ``fleet``, scraped every second."""
    assert run_cli("init", str(workspace), cwd=cwd).returncode == 0
    path = workspace / "perfops.yaml"
    text = path.read_text()
    for old, new in (
        ("http://127.0.0.1:8000/v1", fleet.url()),  # type: ignore[attr-defined]
        ("http://127.0.0.1:8001/metrics", fleet.url("replica-0-metrics")),  # type: ignore[attr-defined]
        ("http://127.0.0.1:8002/metrics", fleet.url("replica-1-metrics")),  # type: ignore[attr-defined]
        ("http://127.0.0.1:9400/metrics", fleet.url("dcgm-metrics")),  # type: ignore[attr-defined]
        ("interval: 15s", "interval: 1s"),
    ):
        assert old in text
        text = text.replace(old, new)
    path.write_text(text)


def _traffic(fleet: object, n: int) -> None:
    """Requests that finish, and streams the client drops (vLLM counts those as aborts)."""
    client = openai.OpenAI(base_url=fleet.url(), api_key="sim", max_retries=0)  # type: ignore[attr-defined]
    for i in range(n):
        if i % 3 == 2:
            stream = client.completions.create(
                model="llama-3.1-8b", prompt=f"q{i}", max_tokens=2000, stream=True
            )
            next(iter(stream))
            stream.close()
        else:
            client.completions.create(model="llama-3.1-8b", prompt=f"q{i}", max_tokens=8)


def _scraping(url: str, targets: int) -> None:
    """Wait until Prometheus has scraped every target (it starts them seconds after ready)."""
    deadline = time.time() + 60
    while time.time() < deadline:
        body = json.loads(get(f"{url}/api/v1/query?query=up"))
        if len(body["data"]["result"]) == targets:
            return
        time.sleep(0.5)
    raise AssertionError("Prometheus never scraped its targets")


def _availability(workspace: Path) -> dict:
    status = run_cli("slo", "status", "--json", cwd=workspace)
    assert status.returncode == 0, status.stderr
    return next(s for s in json.loads(status.stdout) if s["name"] == "chat-availability")


@pytest.mark.timeout(480)  # a sim, Prometheus, collect and four CLI runs: slow on a busy machine
def test_an_init_workspace_importing_from_prometheus_sees_what_collect_saw(tmp_path: Path) -> None:
    """Prometheus and `perfops collect` scrape the same simulated fleet; a fresh workspace
    that imports Prometheus' history gets the availability SLO that the live lake shows.
    Prometheus adds no ``service`` label: both lakes find the series through the service's
    default selector, vLLM's own ``model_name``."""
    live, imported = tmp_path / "live", tmp_path / "imported"
    with sim_fleet(replicas=2, dcgm_interval=0.5) as fleet:
        for ws in (live, imported):
            _init_for(ws, fleet, tmp_path)
        _traffic(fleet, 6)  # every counter series exists before either scraper starts
        jobs = {f"chat-{i}": fleet.url(f"replica-{i}-metrics") for i in range(2)}
        with prometheus(tmp_path, jobs) as prom:
            _scraping(prom.url, len(jobs))
            began = time.time() - 2
            collect = subprocess.Popen(
                [sys.executable, "-m", "perfops", "collect", "--duration", "12s", "--json"],
                cwd=live,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            log = live / ".perfops" / "lake" / "samples" / "_delta_log"
            deadline = time.time() + 60
            while not (log / f"{1:020d}.json").exists() and time.time() < deadline:
                time.sleep(0.2)  # the collector's second commit: it is scraping
            time.sleep(1.5)  # both scrapers have seen the fleet before the first request
            _traffic(fleet, 12)
            out, err = collect.communicate(timeout=120)
            assert collect.returncode == 0, err
            time.sleep(1.5)  # Prometheus' scrape after the last request
            span = ["--start", f"{began:.3f}", "--end", f"{time.time():.3f}"]  # both times
            base = ["collect", "import", "--prometheus", prom.url, *span, "--json"]
            once = run_cli(*base, "-q", "vllm:request_success_total", cwd=imported, timeout=120)
            assert once.returncode == 0, once.stderr
            again = run_cli(*base, "-q", "vllm:request_success_total", cwd=imported, timeout=120)
            named = run_cli(
                *base,
                "-q",
                "sum by (finished_reason) (vllm:request_success_total)",
                "--as",
                "chat:requests:sum",
                cwd=imported,
                timeout=120,
            )
            assert named.returncode == 0, named.stderr
    first, second = json.loads(once.stdout), json.loads(again.stdout)
    assert first["samples"] > 0
    assert (second["samples"], second["duplicates"]) == (0, first["samples"])
    listed = {
        m["metric"] for m in json.loads(run_cli("metrics", "ls", "--json", cwd=imported).stdout)
    }
    assert {"llm.requests_total", "chat:requests:sum"} <= listed

    shown = run_cli("metrics", "show", "llm.requests_total", "--json", cwd=imported)
    series = json.loads(shown.stdout)["series"]
    assert series
    assert not any("service" in s["labels"] for s in series)  # none needed, none added
    theirs, ours = _availability(live), _availability(imported)
    # 12 requests, 4 of them dropped; both extrapolate the counters to the period's edges
    # from their own scrape times (Prometheus' increase), so they agree closely, not exactly
    assert theirs["total"] == pytest.approx(12, rel=0.25), theirs
    assert ours["total"] == pytest.approx(theirs["total"], rel=0.1), (ours, theirs)
    assert ours["good"] == pytest.approx(theirs["good"], rel=0.1), (ours, theirs)
    assert ours["sli_pct"] == pytest.approx(theirs["sli_pct"], abs=5.0), (ours, theirs)
    assert ours["sli_pct"] < 80  # the aborts are in both


def _fill_lake(workspace: Path) -> None:
    """Real exporter scrapes (tests/fixtures) in the lake, on two UTC days, through the same
    catalog and sink as `perfops collect`: canonical names, raw names up to 65 characters."""
    from perfops.app.collect import LakeSink
    from perfops.store import Store
    from perfops.telemetry.catalog import load_catalog
    from perfops.telemetry.exposition import parse
    from perfops.telemetry.series import SeriesMapper

    (workspace / "perfops.yaml").write_text("apiVersion: perfops/v1\n")
    sink = LakeSink(Store(workspace / ".perfops" / "lake"))
    for day, (name, kind) in enumerate(
        [
            ("vllm-v1-qwen2.5-0.5b-idle-kops.prom", "vllm"),
            ("dcgm-h100x8-k8s-labels-sampled-aicr.prom", "dcgm"),
            ("tgi.prom", "tgi"),
            ("triton.prom", "triton"),
            ("node-exporter.prom", "node"),
        ]
    ):
        mapper = SeriesMapper(load_catalog(), source=kind, target_labels={"job": kind})
        exposition = parse((FIXTURES / name).read_text())
        sink(mapper.rows(exposition, 1_700_000_000_000 + day * 86_400_000))
    sink.flush()


def _ls_cells(stdout: str) -> list[tuple[str, str, str, list[str]]]:
    """The rows of `metrics ls` as (metric, series, samples, vendor names), with the names
    folded over several lines put back together."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "series" in line)
    width = lines[header].index("series")  # the metric column ends where `series` starts
    rows: list[tuple[str, str, str, list[str]]] = []
    for line in lines[header + 2 :]:
        left, right = line[:width], line[width:].split()
        if not line.strip():  # the table's last line
            continue
        if right:  # a metric's own line
            rows.append((left.strip(), right[0], right[1], []))
        elif left.startswith("   "):  # a vendor name
            rows[-1][3].append(left.strip())
        elif left.strip():  # the rest of a folded name
            metric, series, samples, vendor = rows[-1]
            if vendor:
                vendor[-1] += left.strip()
            else:
                rows[-1] = (metric + left.strip(), series, samples, vendor)
    return rows


def test_metrics_ls_fits_80_columns_and_shows_everything(tmp_path: Path) -> None:
    _fill_lake(tmp_path)
    listed = json.loads(run_cli("metrics", "ls", "--json", cwd=tmp_path).stdout)
    assert max(len(m["metric"]) for m in listed) > 60  # names that cannot fit on one line
    expected = {m["metric"]: (str(m["series"]), f"{m['samples']:,}") for m in listed}
    narrow = {"COLUMNS": "80", "NO_COLOR": "1"}
    plain = run_cli("metrics", "ls", cwd=tmp_path, env=narrow)
    assert plain.returncode == 0, plain.stderr
    assert max(len(line) for line in plain.stdout.splitlines()) <= 80
    assert "DCGM_FI_DEV_GPU_UTIL" not in plain.stdout  # vendor names only with --vendor
    cells = _ls_cells(plain.stdout)
    assert {metric: (series, samples) for metric, series, samples, _ in cells} == expected
    assert len(cells) == len(expected)

    vendor = run_cli("metrics", "ls", "--vendor", cwd=tmp_path, env=narrow)
    assert vendor.returncode == 0, vendor.stderr
    assert max(len(line) for line in vendor.stdout.splitlines()) <= 80
    raw = {metric: names for metric, _, _, names in _ls_cells(vendor.stdout)}
    for m in listed:  # every vendor name, except a name kept as written
        assert raw[m["metric"]] == ([] if m["raw_names"] == [m["metric"]] else m["raw_names"])
