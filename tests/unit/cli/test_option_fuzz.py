"""No traceback from the command line: every command's options, fed arbitrary strings and
numbers (hypothesis), end in exit 2 with a one-line error, never "internal error".

The CLI runs in-process (``perfops.cli._main.main``, its click tree built once) against a
workspace whose service listens nowhere (127.0.0.1:9). Each command gets one option fuzzed
while another of its options is wrong in a way checked after every option is parsed and before
any network work (an unknown ``--endpoint``, GPU profile, target, SLO...): a valid fuzzed value
then still ends in that usage error, so no example starts a load test or a server, and every
example must end in exit 2 whichever option was at fault.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfops.cli import _main

PROPS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
)
WORKSPACE = """\
apiVersion: perfops/v1
services:
  - name: chat
    endpoint: http://127.0.0.1:9/v1
    model: llama-3.1-8b
    gpu: {type: H100-SXM, count: 2}
telemetry:
  targets:
    - {name: dcgm, kind: dcgm, url: "http://127.0.0.1:9/metrics", service: chat}
slos:
  - {name: fast, service: chat, sli: {kind: latency, metric: ttft, threshold: 500ms},
     objective: 99}
"""

# -- what the fuzz feeds ------------------------------------------------------------------------

_TEXT = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=30
) | st.text(st.sampled_from("\udc80\udcff0123456789.:,=@/-+eE \"'{}[]\\\n\t"), max_size=12)
EDGES = st.sampled_from([
    "", " ", "0", "-0", "-1", "1", "1e309", "-1e309", "inf", "-inf", "Infinity", "nan", "NaN",
    "1e-400", "0.0001", "65535", "65536", "9223372036854775808", "1" + "0" * 5000, "1_000",
    "0x10", "١٢", "0s", "1ms", "1h30m", "100000y", "9" * 400 + "s", "-5s", "5 s", "1e3s",
    "ramp:1..3", "burst:3/1s", "stages:2s@2,1s@4", "gamma:0", "poisson:1", "uniform:5,2",
    "lognormal:512,99", "ttft_p99=500ms", "ttft=0s", 'x"} or vector(1) or foo{a="',
    "[/bold]x", "\x1b[31mred", "\u202eevil", "--help", "http://127.0.0.1:0/v1",
    "http://[::1", "0001-01-01/9999-12-31", "2026-01-01/2025-01-01",
])  # fmt: skip
NUMBERS = st.one_of(
    st.sampled_from(["inf", "nan", "1e308", "-1", "0", "1", "2", "0.5", "1e-300", "100001"]),
    st.integers(-(10**30), 10**30).map(str),
    st.integers(1, 100).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(0, 1e6).map(lambda x: f"{x:g}"),
)
ANY = st.one_of(EDGES, NUMBERS, _TEXT)
UNITS = st.sampled_from(["ms", "s", "m", "h", "d", "w", "y", "", " s", "S", "sec", "us"])
DURATIONS = st.one_of(ANY, st.tuples(NUMBERS, UNITS).map("".join))
ARRIVALS = st.one_of(
    ANY,
    st.tuples(
        st.sampled_from(["poisson", "constant", "gamma", "burst", "ramp", "stages", "x"]),
        st.sampled_from([":", "", "::"]),
        st.lists(st.one_of(NUMBERS, DURATIONS), max_size=4),
        st.sampled_from([",", "..", "/", "@"]),
    ).map(lambda t: t[0] + t[1] + t[3].join(t[2])),
    st.lists(st.tuples(DURATIONS, NUMBERS).map("@".join), min_size=1, max_size=4).map(
        lambda parts: "stages:" + ",".join(parts)
    ),
)
LENGTHS = st.one_of(
    ANY,
    st.tuples(
        st.sampled_from(["fixed", "uniform", "normal", "lognormal", "weird"]),
        st.lists(NUMBERS, max_size=3),
    ).map(lambda t: f"{t[0]}:{','.join(t[1])}"),
)
SLOS = st.one_of(
    ANY,
    st.lists(
        st.tuples(
            st.sampled_from(["ttft", "tpot", "itl", "e2e", "goodput", ""]),
            st.one_of(st.just(""), NUMBERS.map(lambda q: f"_p{q}")),
            DURATIONS,
        ).map(lambda t: f"{t[0]}{t[1]}={t[2]}"),
        min_size=1,
        max_size=3,
    ).map(",".join),
)
MATCHERS = st.one_of(
    ANY,
    st.lists(
        st.tuples(
            st.sampled_from(["gpu", "__name__", "9x", "", "a-b"]),
            st.sampled_from(["=", "!=", "=~", "!~", "==", ""]),
            _TEXT.map(lambda v: f'"{v}"') | _TEXT,
        ).map("".join),
        max_size=3,
    ).map(",".join),
)
TIMES = st.one_of(
    DURATIONS,
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.just("now"),
)
PERIODS = st.one_of(
    ANY,
    st.tuples(st.dates(), st.dates()).map(lambda t: f"{t[0]}/{t[1]}"),
    st.tuples(st.datetimes(), st.datetimes()).map(lambda t: f"{t[0].isoformat()}/{t[1]}"),
)
LISTS = st.one_of(ANY, st.lists(NUMBERS, max_size=5).map(",".join))

# -- running the CLI in-process ------------------------------------------------------------------


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "perfops.yaml").write_text(WORKSPACE)
    command = typer.main.get_command(_main.app)  # built once: main() would build it per call
    with mock.patch.object(typer.main, "get_command", return_value=command):
        yield root / "perfops.yaml"


def invoke(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _main.main(argv)
    return code, out.getvalue(), err.getvalue()


def refused(argv: list[str]) -> None:
    """``argv`` ends in exit 2 with one error line (a spec file's located problems may follow,
    indented), and nothing that looks like a crash."""
    code, out, err = invoke(argv)
    shown = f"argv={argv!r}\nexit {code}\nstdout:\n{out}\nstderr:\n{err}"
    assert "Traceback" not in out + err, shown
    assert "internal error" not in out + err, shown
    assert code == 2, shown
    lines = err.rstrip("\n").split("\n")
    heads = [i for i, line in enumerate(lines) if line.startswith(("error:", "Error:"))]
    assert len(heads) == 1, shown
    assert all(line.startswith("  ") for line in lines[heads[0] + 1 :]), shown


def _option(name: str, value: str) -> list[str]:
    return [f"{name}={value}"]


Table = list[tuple[str, st.SearchStrategy[str], list[str]]]  # option, fuzz, plausible values


def _options(data: st.DataObject, table: Table) -> list[str]:
    """One option of ``table`` fuzzed, and up to three others with plausible values: a value
    that passes alone can clash with another (a rate of 1e308 with a closed loop), and only
    options that all parse reach the code behind them."""
    fuzzed = data.draw(st.sampled_from(table))
    others = data.draw(st.lists(st.sampled_from(table), max_size=3, unique_by=lambda t: t[0]))
    argv = [f"{name}={data.draw(st.sampled_from(plain))}" for name, _, plain in others]
    return [*argv, f"{fuzzed[0]}={data.draw(fuzzed[1])}"]  # the last of an option repeated wins


# -- the commands ---------------------------------------------------------------------------------

N = NUMBERS | ANY
# perfops load run|sweep|capacity: --endpoint bogus is refused after every other option is read
LOAD_RUN: Table = [
    ("--rate", N, ["1", "5", "0.5", "100"]),
    ("--timeout", N, ["1", "0.5", "30"]),
    ("--duration", DURATIONS, ["1s", "30s", "2m"]),
    ("--arrival", ARRIVALS, ["poisson", "gamma:2", "burst:3/1s", "ramp:1..3", "stages:2s@2"]),
    ("--prompt-tokens", LENGTHS, ["512", "uniform:1,9", "normal:100,10", "lognormal:64,0.5"]),
    ("--max-tokens", LENGTHS, ["16", "fixed:8"]),
    ("--slo", SLOS, ["ttft_p99=500ms", "e2e=2s,tpot_p90=50ms"]),
    ("--seed", N, ["0", "7"]),
    ("--concurrency", N, ["1", "4"]),
    ("--max-in-flight", N, ["1", "8"]),
    ("--max-requests", N, ["1", "100"]),
    ("--prefix-tokens", N, ["0", "32"]),
    ("--prefix-groups", N, ["1", "3"]),
    ("--turns", N, ["1", "3"]),
    ("--speed", N, ["1", "2.5"]),
    ("--url", ANY, ["http://127.0.0.1:9/v1"]),
    ("--api-key-env", ANY, ["PERFOPS_FUZZ_KEY"]),
    ("--metrics", ANY, ["http://127.0.0.1:9/metrics"]),
    ("--model", ANY, ["m"]),
    ("--workers", ANY, ["1", "auto"]),
]
LOAD_SWEEP: Table = [
    ("--rates", LISTS, ["1,2", "0.5"]),
    ("--concurrencies", LISTS, ["1,4"]),
    ("--duration", DURATIONS, ["1s"]),
    ("--max-requests", N, ["10"]),
]
LOAD_CAPACITY: Table = [
    ("--start-rate", N, ["1", "2"]),
    ("--max-rate", N, ["50", "500"]),
    ("--tolerance", N, ["0.1", "0.5"]),
    ("--max-runs", N, ["6", "16"]),
    ("--repeats", N, ["3", "5"]),
    ("--gpus", N, ["1", "8"]),
    ("--slo", SLOS, ["ttft_p99=500ms"]),
    ("--arrival", ARRIVALS, ["poisson", "gamma:2"]),
]


@PROPS
@given(st.data())
def test_load_run_options(workspace: Path, data: st.DataObject) -> None:
    base = ["--config", str(workspace), "load", "run", "--service", "chat", "--endpoint", "bogus"]
    refused([*base, *_options(data, LOAD_RUN)])


@PROPS
@given(st.data())
def test_load_sweep_and_capacity_options(workspace: Path, data: st.DataObject) -> None:
    base = ["--config", str(workspace), "load"]
    common = ["--service", "chat", "--endpoint", "bogus"]
    if data.draw(st.booleans()):
        argv = [*base, "sweep", *common, *_options(data, LOAD_SWEEP)]
        if not any(a.startswith(("--rates=", "--concurrencies=")) for a in argv):
            argv += ["--rates", "1,2"]
    else:
        argv = [*base, "capacity", *common, "--slo", "ttft_p99=500ms"]
        argv += _options(data, LOAD_CAPACITY)
    refused(argv)


# perfops sim: an unknown GPU profile is refused after the ports are checked
SIM: Table = [
    ("--port", N, ["0", "8000", "65000"]),
    ("--dcgm-port", N, ["0", "9400"]),
    ("--replicas", N, ["1", "2", "64"]),
    ("--tp", N, ["1", "2"]),
    ("--max-num-seqs", N, ["1", "256"]),
    ("--max-waiting", N, ["1", "1000"]),
    ("--duration", N, ["0.5", "10"]),
    ("--seed", N, ["0", "3"]),
    ("--host", ANY, ["127.0.0.1", "0.0.0.0"]),
    ("--model", ANY, ["llama-3.1-8b"]),
]
SIM_WORKLOAD: Table = [
    ("--speed", N, ["1", "2"]),
    ("--replicas", N, ["1", "4"]),
    ("--tp", N, ["1", "8"]),
    ("--seed", N, ["0"]),
]


@PROPS
@given(st.data())
def test_sim_options(workspace: Path, data: st.DataObject) -> None:
    base = ["--config", str(workspace), "sim"]
    if data.draw(st.booleans()):
        refused([*base, "--gpu", "NO-SUCH-GPU", *_options(data, SIM)])
    else:
        missing = str(workspace.parent / "missing.jsonl")
        refused([*base, "run-workload", missing, *_options(data, SIM_WORKLOAD)])


# perfops collect, metrics, slo, cost: an unknown target, SLO, --basis or service last
@PROPS
@given(st.data())
def test_collect_metrics_and_slo_options(workspace: Path, data: st.DataObject) -> None:
    config = ["--config", str(workspace)]
    cases = [
        (["collect", "--target", "nope"], "--duration", DURATIONS),
        (["collect", "import", "--query", " "], "--start", TIMES),
        (["collect", "import", "--query", " ", "--start", "1h"], "--end", TIMES),
        (["collect", "import", "--query", " ", "--start", "1h"], "--step", DURATIONS),
        (["collect", "import", "--query", " ", "--start", "1h"], "--prometheus", ANY),
        (["metrics", "show", "gpu.util"], "--labels", MATCHERS),
        (["metrics", "show", "gpu.util"], "--since", DURATIONS),
        (["metrics", "kpis", "--by", "nope"], "--since", DURATIONS),
        (["slo", "status", "nope"], "--min-events", NUMBERS | ANY),
    ]
    base, name, values = data.draw(st.sampled_from(cases))
    argv = [*config, *base, *_option(name, data.draw(values))]
    if base[:2] == ["collect", "import"] and name != "--prometheus":
        argv += ["--prometheus", "http://127.0.0.1:9"]
    refused(argv)


@PROPS
@given(st.data())
def test_cost_options(workspace: Path, data: st.DataObject) -> None:
    config = ["--config", str(workspace)]
    period = "2026-01-01/2026-01-02"
    cases = [
        (["cost", "report", "--basis", "nope"], "--since", DURATIONS),
        (["cost", "roi", "--after", period, "--service", "nope"], "--before", PERIODS),
        (["cost", "roi", "--before", period, "--service", "nope"], "--after", PERIODS),
        (["cost", "roi", "--before", period, "--after", period, "--service", "nope"],
         "--traffic", NUMBERS | ANY),
        (["cost", "roi", "--before", "a", "--after", "b", "--traffic", "x"],
         "--one-off", NUMBERS | ANY),
        (["cost", "roi", "--before", "a", "--after", "b", "--traffic", "x"],
         "--utilisation", NUMBERS | ANY),
        (["cost", "scenario", "--gpu", "H200", "--service", "nope"], "--traffic", NUMBERS | ANY),
        (["cost", "scenario", "--traffic", "10", "--service", "nope"], "--gpu", ANY),
        (["cost", "scenario", "--traffic", "10", "--gpu", "H200", "--service", "nope"],
         "--growth", NUMBERS | ANY),
        (["cost", "scenario", "--traffic", "10", "--gpu", "H200", "--service", "nope"],
         "--months", NUMBERS | ANY),
        (["cost", "scenario", "--traffic", "10", "--gpu", "H200", "--service", "nope"],
         "--utilisation", NUMBERS | ANY),
        (["cost", "scenario", "--traffic", "10", "--gpu", "H200", "--service", "nope"],
         "--output-tokens", NUMBERS | ANY),
        (["cost", "scenario", "--traffic", "10", "--gpu", "H200", "--service", "nope"],
         "--slo", SLOS),
    ]  # fmt: skip
    base, name, values = data.draw(st.sampled_from(cases))
    refused([*config, *base, *_option(name, data.draw(values))])


@PROPS
@given(ANY)
def test_the_config_option(workspace: Path, path: str) -> None:
    """Any --config path: a missing, unreadable or odd one is a located config error."""
    refused(["--config", path, "slo", "status", "nope"])


# -- the inputs seen: each refused by its own check -----------------------------------------------

LOAD = ["load", "run", "--service", "chat", "--endpoint", "bogus"]
CAPACITY = ["load", "capacity", "--service", "chat", "--endpoint", "bogus", "--slo", "ttft=1s"]
SEEN = [
    ([*LOAD, "--rate", "inf"], "Invalid value for '--rate': inf is out of range"),
    ([*LOAD, "--rate", "1e308", "--concurrency", "2"], "'--rate': 1e308 is out of range"),
    ([*LOAD, "--timeout", "-1"], "'--timeout': -1 is out of range: above 0 s"),
    ([*LOAD, "--concurrency", "0"], "'--concurrency': 0 is out of range: at least 1"),
    ([*LOAD, "--duration", "0s"], "--duration '0s': durations must be above 0"),
    ([*LOAD, "--duration", "100000y"], "--duration '100000y': at most 1d"),
    ([*LOAD, "--prompt-tokens", "99999999999999"], "value: Input should be less than"),
    ([*LOAD, "--seed", "-1"], "'--seed': -1 is out of range"),
    ([*LOAD, "--arrival", "ramp:1..999999"], "end_rate input should be less than"),
    ([*CAPACITY, "--max-runs", "0"], "'--max-runs': 0 is out of range: at least 6"),
    ([*CAPACITY, "--start-rate", "10", "--max-rate", "5"], "--start-rate 10 is above --max-rate"),
    (["load", "sweep", "--service", "chat", "--rates", "1,nan"], "--rates '1,nan': nan is out"),
    (["sim", "--port", "65535"], "--port 65535 leaves no room for the 2 port(s) after it"),
    (["sim", "--port", "70000"], "'--port': 70000 is out of range"),
    (["sim", "--port", "9000", "--dcgm-port", "9002"], "--dcgm-port 9002 is one of the fleet"),
    (["cost", "report", "--since", "100y"], "--since '100y': at most 366d"),
    (["cost", "roi", "--before", "0001-01-01/9999-12-31", "--after", "2026-01-01/2026-01-02"],
     "is outside the years 2000 to 2099"),
    (["collect", "--duration", "0s"], "--duration '0s': durations must be above 0"),
    (["collect", "import", "--prometheus", "http://127.0.0.1:9", "-q", "up", "--start", "inf"],
     "the time 'inf' is not a finite number"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "says"), SEEN)
def test_the_inputs_seen_are_refused_by_their_own_check(
    workspace: Path, argv: list[str], says: str
) -> None:
    full = ["--config", str(workspace), *argv]
    refused(full)
    assert says in invoke(full)[2]
