"""`perfops load` as a user runs it against the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests._servers import FleetThread, get, sim_fleet, sim_service_yaml
from tests.conftest import FIXTURES, run_cli

from perfops.store import Store


@pytest.mark.timeout(420)  # two capacity searches of up to six runs each
def test_load_run_sweep_and_capacity(tmp_path: Path) -> None:
    with sim_fleet(replicas=1) as fleet:
        (tmp_path / "perfops.yaml").write_text(
            sim_service_yaml(
                fleet,
                extra=f"""telemetry:
  targets:
    - {{name: dcgm, kind: dcgm, url: "{fleet.url("dcgm-metrics")}", service: chat}}
""",
            )
        )
        out = tmp_path / "run.json"
        run = run_cli(
            "load",
            "run",
            "--service",
            "chat",
            "--rate",
            "6",
            "--duration",
            "2s",
            "--prompt-tokens",
            "uniform:100,300",
            "--max-tokens",
            "16",
            "--slo",
            "ttft_p99=2s",
            "--json",
            str(out),
            cwd=tmp_path,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        assert "TTFT from schedule" in run.stdout
        result = json.loads(out.read_text())
        summary = result["summary"]
        assert summary["completed"] == summary["count"] > 3
        assert summary["errors"] == {}
        assert summary["tokens_source"] == {"usage": summary["completed"]}
        assert summary["slo_met"] is True
        # 2 s at 6 req/s is too short for a p99, and the run says so, with the numbers
        assert summary["valid"] is False
        assert summary["invalid"][0].startswith("too short: ttft_p99 rests on ")
        assert summary["slo_detail"]["ttft_p99"]["min_samples"] == 299
        assert summary["target_limited"] in (True, False)  # the sim's loop lag was scraped
        assert result["server"]["loop_steps"] > 0
        assert "coordinated omission" in summary["definitions"]["e2e_from_schedule"]
        assert result["server"]["running_max"] >= 1  # /metrics were scraped during the run
        assert result["server"]["gpu_util_mean"] > 0  # and the GPUs behind the service

        sweep = run_cli(
            "load",
            "sweep",
            "--url",
            fleet.url(),
            "--rates",
            "2,8",
            "--duration",
            "1.5s",
            "--max-tokens",
            "8",
            "--json",
            "-",
            cwd=tmp_path,
            timeout=120,
        )
        assert sweep.returncode == 0, sweep.stderr
        steps = json.loads(sweep.stdout)["steps"]
        assert [s["value"] for s in steps] == [2.0, 8.0]

        cap = run_cli(
            "load",
            "capacity",
            "--service",
            "chat",
            "--slo",
            "ttft_p99=400ms",
            "--duration",
            "2s",
            "--prompt-tokens",
            "1000",
            "--max-tokens",
            "16",
            "--start-rate",
            "2",
            "--max-rate",
            "64",
            "--max-runs",
            "6",
            "--json",
            "-",
            cwd=tmp_path,
            timeout=180,
        )
        found = json.loads(cap.stdout)
        missed = found["capacity_rps"] is None and not found["points"][0]["summary"]["slo_met"]
        assert cap.returncode == (1 if missed else 0), cap.stderr
        _check_capacity(found, tmp_path)
        shown = run_cli(
            "load", "capacity", "--service", "chat", "--slo", "ttft_p99=400ms",
            "--duration", "1s", "--max-tokens", "8", "--start-rate", "4", "--max-rate", "4",
            "--max-runs", "6", cwd=tmp_path, timeout=180,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert lines[0].startswith("time budget: at most 3 runs x 1s")  # before any run
        assert "verdict: INVALID: too short" in shown.stdout  # 1 s of 4 req/s for a p99

    lake = json.loads(run_cli("store", "info", "--json", cwd=tmp_path).stdout)
    rows = {t["name"]: t["rows"] for t in lake["tables"]}
    assert rows["requests"] >= summary["count"]


def _check_capacity(found: dict, workspace: Path) -> None:
    """The answer agrees with its own points and with the run journaled in the lake."""
    from perfops.store import Store

    assert (found["slo"], found["gpus"]) == (["ttft_p99<=400ms"], 1)
    points = found["points"]
    assert 1 <= len(points) <= 6
    assert points[0]["rate"] == 2.0
    for p in points:  # a point passes when the judge says the run met the SLO
        assert p["passed"] == p["summary"]["slo_met"]
        assert p["invalid"] == p["summary"]["invalid"]
    if found["capacity_rps"] is None:
        assert not points[0]["passed"]
        assert found["reason"]  # why there is no answer
    else:
        low, high = found["interval_rps"]
        assert 0 < low <= found["capacity_rps"]
        assert high is None or found["capacity_rps"] <= high
        assert found["capacity_rps_per_gpu"] == pytest.approx(found["capacity_rps"])  # 1 GPU
        assert f"{found['capacity_rps']:.1f} req/s" in found["text"]
    # 2 s runs at a few req/s cannot support a p99: INVALID, and each reason says why
    assert found["valid"] is False
    assert any(why.startswith("too short") for why in found["invalid"])
    assert "nearest rank" in found["percentile"]
    journal = Store(workspace / ".perfops" / "lake").journal.run(found["run_id"])
    assert journal.kind == "capacity"
    assert journal.summary["capacity_rps"] == found["capacity_rps"]
    assert journal.summary["valid"] is False
    assert len(journal.summary["points"]) == len(points)


def test_closed_loop_is_named_as_such(tmp_path: Path) -> None:
    with sim_fleet(replicas=1) as fleet:
        result = run_cli(
            "load",
            "run",
            "--url",
            fleet.url(),
            "--concurrency",
            "2",
            "--duration",
            "1s",
            "--max-tokens",
            "4",
            cwd=tmp_path,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert "closed loop x2" in result.stdout


def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    bad = run_cli(
        "load",
        "run",
        "--url",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        "--arrival",
        "zigzag",
        cwd=tmp_path,
    )
    assert bad.returncode == 2
    assert "zigzag" in bad.stderr
    slo = run_cli(
        "load",
        "capacity",
        "--url",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        "--slo",
        "latency<1s",
        cwd=tmp_path,
    )
    assert slo.returncode == 2
    assert "ttft_p99=500ms" in slo.stderr
    none = run_cli("load", "run", cwd=tmp_path)
    assert none.returncode == 2
    assert "--url" in none.stderr


def served(fleet: FleetThread) -> float:
    """Requests the sim has answered (its vLLM counter)."""
    text = get(fleet.url("replica-0-metrics"))
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("vllm:request_success_total{")
    )


def test_ctrl_c_stops_cleanly_and_keeps_what_was_measured(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    (tmp_path / "perfops.yaml").write_text("apiVersion: perfops/v1\n")
    with sim_fleet(replicas=1) as fleet:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERFOPS")}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "perfops",
                "load",
                "run",
                "--url",
                fleet.url(),
                "--rate",
                "5",
                "--duration",
                "60s",
                "--max-tokens",
                "8",
                "--json",
                "out.json",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 50  # however long a busy machine takes to start it
        while served(fleet) < 5:  # Ctrl-C once the test is under way, not at a fixed time
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no 5 answers in 50 s"
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    summary = json.loads((tmp_path / "out.json").read_text())["summary"]
    assert 5 <= summary["count"] < 150  # what was sent until Ctrl-C, not 60 s worth (300)
    runs = json.loads(run_cli("store", "info", "--json", cwd=tmp_path).stdout)
    assert {t["name"]: t["rows"] for t in runs["tables"]}["requests"] == summary["count"]
    from perfops.store import Store

    (run,) = Store(tmp_path / ".perfops" / "lake").journal.runs(kind="load")
    assert run.status == "interrupted"


@pytest.mark.parametrize(
    ("arrival", "label"),
    [
        ("ramp:1..3", "ramp:1..3 req/s"),
        ("burst:3/1s", "burst:3/1s"),
        ("stages:1s@2,1s@4", "stages:1s@2,1s@4 req/s"),
    ],
)
def test_arrivals_with_rates_of_their_own_run_without_a_rate(
    tmp_path: Path, arrival: str, label: str
) -> None:
    from perfops.store import Store

    with sim_fleet(replicas=1) as fleet:
        result = run_cli(
            "load",
            "run",
            "--url",
            fleet.url(),
            "--arrival",
            arrival,
            "--duration",
            "2s",
            "--max-tokens",
            "4",
            "--json",
            "out.json",
            cwd=tmp_path,
            timeout=90,
        )
    assert result.returncode == 0, result.stderr
    assert f"perfops load ({label})" in result.stdout
    summary = json.loads((tmp_path / "out.json").read_text())["summary"]
    assert summary["completed"] == summary["count"] > 0
    if arrival.startswith("burst"):
        assert summary["count"] == 6  # 3 at 0 s and 3 at 1 s
    (run,) = Store(tmp_path / ".perfops" / "lake").journal.runs(kind="load")
    assert run.spec["schedule"] == label
    assert run.spec["arrival"]["kind"] == arrival.split(":")[0]


def test_a_trace_replay_is_named_as_one(tmp_path: Path) -> None:
    import datetime as dt

    from perfops.store import Store

    trace = FIXTURES / "trace-azure-llm-2023-conv.csv"
    stamps = [
        dt.datetime.fromisoformat(line.split(",")[0][:26])
        for line in trace.read_text().splitlines()[1:]
    ]
    due = sum((t - stamps[0]).total_seconds() / 4 < 3 for t in stamps)  # at 4x, in 3 s
    with sim_fleet(replicas=1) as fleet:
        result = run_cli(
            "load",
            "run",
            "--url",
            fleet.url(),
            "--trace",
            str(trace),
            "--speed",
            "4",
            "--duration",
            "3s",
            "--json",
            "out.json",
            cwd=tmp_path,
            timeout=90,
        )
    assert result.returncode == 0, result.stderr
    label = "trace replay of trace-azure-llm-2023-conv.csv at 4x"
    assert f"perfops load ({label})" in result.stdout
    assert "poisson" not in result.stdout
    assert json.loads((tmp_path / "out.json").read_text())["summary"]["count"] == due
    (run,) = Store(tmp_path / ".perfops" / "lake").journal.runs(kind="load")
    assert (run.spec["schedule"], run.spec["arrival"]) == (label, None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "--arrival", "ramp:1..3", "--rate", "3"), "drop --rate"),
        (("run", "--trace", "t.csv", "--rate", "3"), "--trace replays the trace"),
        (("run", "--trace", "t.csv", "--arrival", "constant"), "drop --arrival"),
        (("sweep", "--arrival", "burst:3/1s", "--rates", "1,2"), "sweep varies the rate"),
        (("capacity", "--arrival", "stages:1s@2", "--slo", "ttft_p99=1s"), "capacity varies"),
    ],
)
def test_a_rate_that_would_be_ignored_is_refused(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    command, *rest = args
    result = run_cli(
        "load", command, "--url", "http://127.0.0.1:9/v1", "--model", "m", *rest, cwd=tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["option", "service"])
def test_an_unset_api_key_variable_is_refused_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    import socket

    monkeypatch.delenv("CHAT_API_KEY", raising=False)
    with socket.socket() as server:  # a target that notes any connection made to it
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        url = f"http://127.0.0.1:{server.getsockname()[1]}/v1"
        if where == "option":
            args = ["--url", url, "--api-key-env", "CHAT_API_KEY"]
        else:
            (tmp_path / "perfops.yaml").write_text(
                "apiVersion: perfops/v1\nservices:\n  - name: chat\n"
                f"    endpoint: {url}\n    model: m\n    gpu: {{type: H100-SXM}}\n"
                "    api_key_env: CHAT_API_KEY\n"
            )
            args = ["--service", "chat"]
        result = run_cli("load", "run", *args, "--duration", "1s", cwd=tmp_path)
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing was sent: not even GET /v1/models
    assert result.returncode == 2, result.stderr
    assert "CHAT_API_KEY" in result.stderr
    assert "not set" in result.stderr


@pytest.mark.timeout(180)
def test_workers_share_one_schedule(tmp_path: Path) -> None:
    """``--workers 2`` splits the schedule over two processes: every planned request is
    sent once, in the run's records, and the run says how many workers sent it."""
    with sim_fleet(replicas=1) as fleet:
        run = run_cli(
            "load", "run", "--url", fleet.url(), "--rate", "20", "--duration", "1s",
            "--max-tokens", "4", "--workers", "2", "--seed", "7", "--json", "-",
            cwd=tmp_path, timeout=150,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        result = json.loads(run.stdout)
        summary = result["summary"]
        single = run_cli(
            "load", "run", "--url", fleet.url(), "--rate", "20", "--duration", "1s",
            "--max-tokens", "4", "--seed", "7", "--json", "-",
            cwd=tmp_path, timeout=150,
        )  # fmt: skip
        assert single.returncode == 0, single.stderr
        # the same seeded schedule, the same number of requests, all completed
        assert summary["count"] == json.loads(single.stdout)["summary"]["count"] > 10
        assert summary["completed"] == summary["count"]
        assert result["workers"] == 2
        # the workers' shared start is anchored after their spawn head start (3 s); a single
        # loop starts within 50 ms of setting up
        lake = Store(tmp_path / ".perfops" / "lake")
        run_row = lake.journal.run(result["run_id"])
        first = min(lake.journal.requests(result["run_id"]).column("scheduled_ns").to_pylist())
        assert first - run_row.started_ns >= 3_000_000_000
