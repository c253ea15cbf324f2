"""`perfops sim` as a user runs it: prints its endpoints, serves, stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import openai
from tests._servers import get, sim_ports
from tests.conftest import FIXTURES, run_cli


def test_sim_serves_until_ctrl_c(tmp_path: Path) -> None:
    port, dcgm = sim_ports(replicas=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFOPS")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "perfops",
            "sim",
            "--replicas",
            "2",
            "--port",
            str(port),
            "--dcgm-port",
            str(dcgm),
            "--seed",
            "3",
            "--duration",
            "60",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(6)]
        assert "2 x llama-3.1-8b@H100-SXMx1" in lines[0]
        assert f"http://127.0.0.1:{port}/v1" in lines[1]
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x")
        reply = client.completions.create(model="llama-3.1-8b", prompt="hi", max_tokens=3)
        assert reply.usage is not None
        assert reply.usage.completion_tokens == 3
        assert "vllm:generation_tokens_total" in get(f"http://127.0.0.1:{port + 1}/metrics") + get(
            f"http://127.0.0.1:{port + 2}/metrics"
        )
        assert "DCGM_FI_DEV_GPU_UTIL" in get(f"http://127.0.0.1:{dcgm}/metrics")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "perfops sim: stopped" in out
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_sim_stops_by_itself_after_duration(tmp_path: Path) -> None:
    port, dcgm = sim_ports(replicas=1)
    start = time.monotonic()
    result = run_cli(
        "sim",
        "--replicas",
        "1",
        "--port",
        str(port),
        "--dcgm-port",
        str(dcgm),
        "--duration",
        "1",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - start < 20
    assert "stops by itself after 1 s" in result.stdout


def test_sim_refuses_a_public_bind_without_token(tmp_path: Path) -> None:
    result = run_cli("sim", "--host", "0.0.0.0", "--duration", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert "pass --token" in result.stderr


def test_unknown_gpu_lists_the_choices(tmp_path: Path) -> None:
    result = run_cli(
        "sim", "--gpu", "B300", "--model", "llama-3.1-8b", "--duration", "1", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "H100-SXM" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_workload_on_the_azure_trace(tmp_path: Path) -> None:
    trace = FIXTURES / "trace-azure-llm-2023-conv.csv"
    result = run_cli("sim", "run-workload", str(trace), "--replicas", "2", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["requests"] == summary["completed"] > 1000
    assert 0 < summary["latency_ms"]["ttft"]["p50"] < summary["latency_ms"]["e2e"]["p50"]
    assert summary["definitions"]["tpot"] == "(e2e - ttft) / (output_tokens - 1)"
    table = run_cli("sim", "run-workload", str(trace), "--speed", "4", cwd=tmp_path)
    assert "latency (ms)" in table.stdout


def test_run_workload_reports_a_bad_line(tmp_path: Path) -> None:
    bad = tmp_path / "w.jsonl"
    bad.write_text(
        '{"arrival_s": 0, "prompt_tokens": 10, "output_tokens": 5}\n'
        '{"arrival_s": 1, "prompt_tokens": -4, "output_tokens": 5}\n'
    )
    result = run_cli("sim", "run-workload", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert f"{bad}:2" in result.stderr
    assert "prompt_tokens must be >= 1" in result.stderr


def test_sim_takes_its_defaults_from_perfops_yaml(tmp_path: Path) -> None:
    port, dcgm = sim_ports(replicas=2)
    (tmp_path / "perfops.yaml").write_text(
        "apiVersion: perfops/v1\nservices:\n  - name: big\n"
        f"    endpoint: http://127.0.0.1:{port}/v1\n    model: llama-3.1-70b\n"
        "    gpu: {type: H200, count: 4}\n"
    )
    result = run_cli(
        "sim", "--tp", "2", "--dcgm-port", str(dcgm), "--duration", "0.5", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "2 x llama-3.1-70b@H200x2" in result.stdout
    assert f"http://127.0.0.1:{port}/v1" in result.stdout
