"""The example workspaces (`perfops init --example NAME`): every perfops.yaml loads, every
experiment, drill and game day validates against the perfops.yaml beside it, the comments say
what the files do, and one example experiment really runs against the sim."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from tests._servers import FleetThread, sim_fleet
from tests.conftest import REPO, run_cli

import perfops
from perfops.app.metrics import owner_of
from perfops.chaos import running_proxy
from perfops.config import load_config
from perfops.finops.pricing import price_book
from perfops.store import Store
from perfops.telemetry.catalog import normalize_labels

CONFIG = "perfops.yaml"
EXAMPLES = Path(perfops.__file__).parent / "examples"
NAMES = sorted(p.parent.name for p in EXAMPLES.glob("*/perfops.yaml"))
LAB = EXAMPLES / "sim-chaos"
SPECS = sorted(p.relative_to(LAB).as_posix() for p in LAB.rglob("*.yaml") if p != LAB / CONFIG)


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    }


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each example copied by `perfops init DIR --example NAME`, as a user gets it."""
    root = tmp_path_factory.mktemp("examples")
    out = {}
    for name in NAMES:
        result = run_cli("init", name, "--example", name, cwd=root)
        assert result.returncode == 0, result.stderr
        out[name] = root / name
    return out


def test_the_examples_are_the_sim_lab_and_the_k8s_fleet() -> None:
    assert NAMES == ["fleet-k8s", "sim-chaos"]
    listed = run_cli("init", "--list-examples", cwd=REPO)
    assert listed.returncode == 0, listed.stderr
    rows = dict(line.split(maxsplit=1) for line in listed.stdout.splitlines())
    assert sorted(rows) == NAMES
    for name, description in rows.items():
        first = (EXAMPLES / name / CONFIG).read_text().partition("\n")[0]
        assert first == f"# {description}"
        assert len(description) > 40  # a sentence, not a stub


def test_examples_at_the_repository_root_are_the_packaged_ones() -> None:
    """One copy: the folder users browse is a link to the one the wheel ships."""
    assert (REPO / "examples").is_symlink()
    assert (REPO / "examples").resolve() == (REPO / "src" / "perfops" / "examples").resolve()
    readme = (EXAMPLES / "README.md").read_text()
    for name in NAMES:
        assert f"`{name}/`" in readme


@pytest.mark.parametrize("name", NAMES)
def test_every_example_config_loads_without_a_warning(name: str) -> None:
    warnings: list[str] = []
    config = load_config(EXAMPLES / name / CONFIG, environ={}, warn=warnings.append)
    assert warnings == []
    assert config.services
    assert config.slos
    book = price_book(config.pricing)
    for svc in config.services:
        assert book.hourly(svc.gpu.type) > 0  # every GPU has a price


def test_every_lab_spec_validates_against_the_lab_config(workspaces: dict[str, Path]) -> None:
    """Each experiment, the drill and the game day of sim-chaos, in the copy `perfops init`
    made, checked by `perfops chaos validate` against the perfops.yaml beside them."""
    assert len(SPECS) >= 12  # ten experiments, a drill and a game day
    result = run_cli("chaos", "validate", *SPECS, cwd=workspaces["sim-chaos"])
    assert result.returncode == 0, result.stderr
    valid = [line.partition(": valid")[0] for line in result.stdout.splitlines()]
    assert valid == SPECS


@pytest.mark.parametrize("name", NAMES)
def test_init_example_copies_every_file_and_the_workspace_works(tmp_path: Path, name: str) -> None:
    result = run_cli("init", "ws", "--example", name, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    directory = tmp_path / "ws"
    assert _files(directory) == _files(EXAMPLES / name)
    for rel in _files(directory):
        assert f"  {rel}\n" in result.stdout  # each file it wrote is named
    info = run_cli("store", "info", "--json", cwd=directory)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["lake"] == str((directory / ".perfops" / "lake").resolve())


def test_an_unknown_example_is_a_usage_error_with_a_suggestion(tmp_path: Path) -> None:
    result = run_cli("init", "ws", "--example", "sim-choas", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: unknown example 'sim-choas'; did you mean sim-chaos? examples: fleet-k8s, "
        "sim-chaos (`perfops init --list-examples`)"
    )
    assert not (tmp_path / "ws").exists()


def test_init_example_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    assert run_cli("init", "--example", "fleet-k8s", cwd=tmp_path).returncode == 0
    (tmp_path / CONFIG).write_text("mine\n")
    again = run_cli("init", "--example", "fleet-k8s", cwd=tmp_path)
    assert again.returncode == 2
    assert "already has perfops.yaml" in again.stderr
    assert (tmp_path / CONFIG).read_text() == "mine\n"
    forced = run_cli("init", "--example", "fleet-k8s", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert _files(tmp_path) == _files(EXAMPLES / "fleet-k8s")


def test_validate_locates_a_drill_or_game_day_mistake(tmp_path: Path) -> None:
    directory = tmp_path
    for name in (CONFIG, "drill.yaml", "gameday.yaml"):
        shutil.copy(LAB / name, directory / name)
    drill = (directory / "drill.yaml").read_text().replace("slo: chat-tpot", "slo: chat-tpt")
    (directory / "bad-drill.yaml").write_text(drill)
    result = run_cli("chaos", "validate", "bad-drill.yaml", cwd=directory)
    assert result.returncode == 2
    assert re.search(r"bad-drill\.yaml:\d+:\d+ slo: no SLO 'chat-tpt'", result.stderr)
    day = (directory / "gameday.yaml").read_text().replace("sim.crash", "sim.crahs")
    (directory / "bad-day.yaml").write_text(day)
    result = run_cli("chaos", "validate", "drill.yaml", "bad-day.yaml", cwd=directory)
    assert result.returncode == 2  # one good file, one bad: each reported, exit 2
    assert result.stdout.startswith("drill.yaml: valid drill")
    assert re.search(r"bad-day\.yaml:\d+:\d+ experiments\[1\]\.method\[0\]\.kind", result.stderr)
    assert "did you mean sim.crash?" in result.stderr


def test_the_lab_header_lists_each_experiment_with_its_fault() -> None:
    """sim-chaos/perfops.yaml's comments name every experiment file and the fault it injects,
    and the experiments cover the sim, proxy and process fault families."""
    header = (LAB / CONFIG).read_text()
    listed = dict(re.findall(r"^#\s+(experiments/\S+\.yaml)\s+(\S+)", header, re.MULTILINE))
    actual = {
        p.relative_to(LAB).as_posix(): yaml.safe_load(p.read_text())["method"][0]["kind"]
        for p in sorted(LAB.glob("experiments/*.yaml"))
    }
    assert listed == actual
    assert {kind.partition(".")[0] for kind in actual.values()} == {"sim", "proxy", "process"}


def test_the_k8s_fleet_joins_gpus_to_services_and_prices_both_options() -> None:
    config = load_config(EXAMPLES / "fleet-k8s" / CONFIG, environ={})
    # a dcgm-exporter series as Prometheus federates it (honorLabels: true)
    gpu = {"gpu": "3", "UUID": "GPU-3bc2", "device": "nvidia3", "Hostname": "gpu-h100-07",
           "modelName": "NVIDIA H100 80GB HBM3", "namespace": "llm-serving",
           "pod": "vllm-chat-1", "container": "vllm-chat"}  # fmt: skip
    owner = owner_of(normalize_labels(gpu), config)
    assert owner is not None
    assert owner.name == "chat"
    code = {**gpu, "pod": "vllm-code-2", "container": "vllm-code", "modelName": "NVIDIA H200"}
    owner = owner_of(normalize_labels(code), config)
    assert owner is not None
    assert owner.name == "code"
    idle = {k: v for k, v in gpu.items() if k not in ("namespace", "pod", "container")}
    assert owner_of(normalize_labels(idle), config) is None  # idle: no one's GPU
    book = price_book(config.pricing)
    for svc in config.services:
        committed = book.rate(svc.gpu.type, purchase="committed")
        on_demand = book.rate(svc.gpu.type, purchase="on_demand")
        assert committed.source.startswith("perfops.yaml pricing.gpus")
        assert on_demand.source.startswith("perfops.yaml pricing.gpus")
        assert committed.hourly < on_demand.hourly
        assert book.hourly(svc.gpu.type) == committed.hourly  # attribution: the reservation


@pytest.mark.parametrize("name", NAMES)
def test_every_example_rules_pass_promtool_check_and_test(
    workspaces: dict[str, Path], name: str
) -> None:
    """`perfops slo rules` in each example: the SLO and cost rules load in promtool, and
    their generated unit tests (alerts, $/h from the workspace's prices) pass."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: run `make test` (it apt-get installs it)")
    directory = workspaces[name]
    result = run_cli("slo", "rules", "--out", "deploy", cwd=directory)
    assert result.returncode == 0, result.stderr
    rules = yaml.safe_load((directory / "deploy" / "rules.yml").read_text())
    assert rules["groups"][-1]["name"] == "perfops-cost"
    if name == "fleet-k8s":
        text = (directory / "deploy" / "rules.yml").read_text()
        assert 'model_name="meta-llama/Llama-3.1-70B-Instruct"' in text  # vLLM's own label
    for command, file in (("check", "rules.yml"), ("test", "rules_test.yml")):
        done = subprocess.run(
            [promtool, command, "rules", f"deploy/{file}"],
            cwd=directory, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert command == "test" or re.search(r"SUCCESS: \d+ rules found", done.stdout)
    tests = yaml.safe_load((directory / "deploy" / "rules_test.yml").read_text())
    assert any("promql_expr_test" in case for case in tests["tests"])  # the cost rules'


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[Path, FleetThread, dict[str, str]]]:
    """sim-chaos as a user copies it, with the sim and the proxy "edge" on free ports: the
    service endpoint is overridden from the environment, as perfops.yaml's header says."""
    assert run_cli("init", "lab", "--example", "sim-chaos", cwd=tmp_path).returncode == 0
    with (
        sim_fleet(replicas=2) as fleet,
        running_proxy(urlsplit(fleet.url()).netloc, name="edge") as proxy,
    ):
        env = {"PERFOPS__SERVICES__0__ENDPOINT": proxy.url("edge", "/v1")}
        yield tmp_path / "lab", fleet, env


def test_an_example_sim_experiment_runs_through_the_proxy(
    lab: tuple[Path, FleetThread, dict[str, str]],
) -> None:
    directory, fleet, env = lab
    result = run_cli(
        "chaos", "run", "experiments/slow-first-token.yaml", "--json", "out.json",
        cwd=directory, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr  # not passed: it deviated
    out = json.loads((directory / "out.json").read_text())
    assert out["status"] == "deviated", out["reason"]  # what its description promises
    assert out["before"]["met"] is True
    assert out["during"]["met"] is False
    [fault] = out["faults"]
    assert fault["kind"] == "sim.ttft_latency"
    assert fault["injected_ns"] is not None
    assert fault["reverted_ns"] is not None
    assert fault["error"] is None
    assert out["impact"][0]["bad"]["chat-ttft"] > 0
    status, body = fleet.admin("GET")
    assert status == 200
    assert body["faults"] == []  # the sim has nothing left in force
    lake = Store(directory / ".perfops" / "lake")
    assert lake.journal.run(out["run_id"]).status == "deviated"
    kinds = [e.kind for e in lake.journal.events() if e.run_id == out["run_id"]]
    assert kinds.count("fault_injected") == kinds.count("fault_reverted") == 1
