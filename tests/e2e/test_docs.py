"""The docs run: every fenced block marked ``sh runnable`` in README.md and docs/*.md is run
for real, page by page, so that no documented command can rot.

How a page runs: ``perfops init`` makes a fresh workspace, and the page's runnable blocks run
in order in it, each as one ``bash -e -o pipefail`` script with the venv's ``perfops`` on the
PATH, against a ``perfops sim`` of the page's own (a child process with 2 replicas, as the
example perfops.yaml declares). A block must exit 0, or the code its info string declares
(``sh runnable exit=1``), and print no traceback. Pages are independent, so they run at the
same time: most of a page's time is spent waiting on its load tests and its sim.

Ports: the docs use the defaults of ``perfops sim`` and ``perfops init`` (8000 front, 8001 and
8002 replicas, 9400 DCGM). The sims here run on free ports, so every ``127.0.0.1:PORT`` (or
``localhost:PORT``) in a block and in the workspace's perfops.yaml is rewritten: the sim's
default ports to the page's sim's, any other port (a proxy's, say) to a free port chosen once
per page; port 0 stays 0. Nothing else in a block is changed.

Every ``perfops`` command line in any ``sh`` block, runnable or not, must also name commands
and options that exist.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from tests._servers import free_port, sim_ports
from tests.conftest import REPO, run_cli

from perfops.sim.background import SimProcess

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
STAGE_PAGES = ("observe.md", "promise.md", "prove.md", "account.md")
REPLICAS = 2
BLOCK_TIMEOUT_S = 120
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
LOOPBACK = re.compile(r"\b(?P<host>127\.0\.0\.1|localhost):(?P<port>\d{1,5})\b")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    runnable: bool
    exit_code: int
    body: str

    @property
    def where(self) -> str:
        name = self.page.relative_to(REPO) if self.page.is_relative_to(REPO) else self.page
        return f"{name}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, with their info strings read."""
    text = page.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        words = m["info"].split()
        flags = dict(w.split("=", 1) if "=" in w else (w, "") for w in words[1:])
        out.append(
            Block(
                page=page,
                line=text.count("\n", 0, m.start()) + 1,
                lang=words[0] if words else "",
                runnable="runnable" in flags,
                exit_code=int(flags.get("exit", "0")),
                body=m["body"],
            )
        )
    return out


def runnable(page: Path) -> list[Block]:
    return [b for b in blocks(page) if b.runnable]


_PORTS_LOCK = threading.Lock()
_TAKEN: set[int] = set()  # ports handed out to pages running at the same time


def _fresh_port() -> int:
    with _PORTS_LOCK:
        port = free_port()
        while port in _TAKEN:
            port = free_port()
        _TAKEN.add(port)
        return port


def _sim_block() -> tuple[int, int]:
    """Ports for one more sim: front and replicas in a row, DCGM apart, none handed out yet."""
    with _PORTS_LOCK:
        while True:
            port, dcgm = sim_ports(REPLICAS)
            block = {*range(port, port + REPLICAS + 1), dcgm}
            if not block & _TAKEN:
                _TAKEN.update(block)
                return port, dcgm


class Ports:
    """Default ports in docs -> ports of this run (see the module docstring)."""

    def __init__(self, fixed: dict[int, int]) -> None:
        self.map = dict(fixed)

    def port(self, default: int) -> int:
        if default == 0:
            return 0
        if default not in self.map:
            self.map[default] = _fresh_port()
        return self.map[default]

    def __call__(self, text: str) -> str:
        return LOOPBACK.sub(lambda m: f"{m['host']}:{self.port(int(m['port']))}", text)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFOPS")}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.update({"COLUMNS": "120", "NO_COLOR": "1"})
    return env


def _run_block(block: Block, text: str, cwd: Path) -> str | None:
    """None when the block did what it declares, else what went wrong. A block still running
    after BLOCK_TIMEOUT_S is killed with everything it started (its own process group)."""
    with subprocess.Popen(
        ["bash", "-e", "-o", "pipefail", "-c", text],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            output, _ = proc.communicate(timeout=BLOCK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return f"{block.where}: still running after {BLOCK_TIMEOUT_S}s:\n{text}"
    if proc.returncode != block.exit_code:
        return (
            f"{block.where}: exit {proc.returncode}, expected {block.exit_code}\n"
            f"--- block\n{text}--- output (tail)\n{output[-4000:]}"
        )
    if "Traceback" in output:
        return f"{block.where}: a traceback\n{output[-4000:]}"
    return None


@dataclass
class PageRun:
    seconds: float = 0.0
    failure: str | None = None


def _run_page(page: Path, tmp: Path) -> PageRun:
    """A fresh workspace and its own sim; the page's runnable blocks in order."""
    started = time.monotonic()
    try:
        failure = _page_blocks(page, tmp)
    except Exception as exc:  # a sim that did not start: the page's failure, not the others'
        failure = f"{_page_id(page)}: {exc!r}"
    return PageRun(time.monotonic() - started, failure)


def _page_blocks(page: Path, tmp: Path) -> str | None:
    port, dcgm = _sim_block()
    sim = SimProcess(
        gpu="H100-SXM", model="llama-3.1-8b", replicas=REPLICAS, seed=1, port=port, dcgm_port=dcgm
    )
    with sim:
        fixed = {8000: port, 9400: dcgm, **{8001 + i: port + 1 + i for i in range(REPLICAS)}}
        ports = Ports(fixed)
        workspace = tmp / "ws"
        init = run_cli("init", str(workspace), cwd=tmp)
        if init.returncode != 0:
            return f"perfops init failed: {init.stderr}"
        config = workspace / "perfops.yaml"
        config.write_text(ports(config.read_text()))
        for block in runnable(page):
            failure = _run_block(block, ports(block.body), workspace)
            if failure:
                return failure
    return None


def _page_id(page: Path) -> str:
    return str(page.relative_to(REPO))


RUNNABLE_PAGES = [p for p in PAGES if runnable(p)]


@pytest.fixture(scope="module")
def page_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, PageRun]:
    """Every selected page, all at once: each page's commands wait on its sim and its load
    tests most of the time, so the pages overlap instead of queueing on a 2-core machine."""
    wanted = {
        item.callspec.params["page"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_runnable_blocks_run"
    }
    pages = [p for p in RUNNABLE_PAGES if p in wanted]
    with ThreadPoolExecutor(max_workers=max(1, len(pages))) as pool:
        futures = {
            _page_id(p): pool.submit(_run_page, p, tmp_path_factory.mktemp(p.stem)) for p in pages
        }
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=_page_id)
def test_runnable_blocks_run(page: Path, page_runs: dict[str, PageRun]) -> None:
    run = page_runs[_page_id(page)]
    assert run.failure is None, f"after {run.seconds:.0f} s: {run.failure}"


def test_the_runner_holds_blocks_to_their_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```sh runnable\ntrue\nfalse\ntrue\n```\n\n"
        "```sh runnable exit=3\nexit 3\n```\n\n"
        "```sh runnable\necho 'Traceback (most recent call last):'\n```\n\n"
        "```sh runnable\nsleep 30\n```\n\n"
        "```sh\nnot run\n```\n"
    )
    first, declared, traceback, slow = runnable(page)
    assert "exit 1, expected 0" in (_run_block(first, first.body, tmp_path) or "")
    assert _run_block(declared, declared.body, tmp_path) is None
    assert "a traceback" in (_run_block(traceback, traceback.body, tmp_path) or "")
    monkeypatch.setattr(sys.modules[__name__], "BLOCK_TIMEOUT_S", 1)
    assert "still running after 1s" in (_run_block(slow, slow.body, tmp_path) or "")


def test_ports_map_the_sim_defaults_and_keep_port_0() -> None:
    ports = Ports({8000: 41000, 9400: 41003})
    text = ports("http://127.0.0.1:8000/v1 localhost:9400 127.0.0.1:9000 127.0.0.1:9000")
    first, dcgm, other, again = text.split(" ")
    assert (first, dcgm) == ("http://127.0.0.1:41000/v1", "localhost:41003")
    assert other == again != "127.0.0.1:9000"
    assert ports("--listen 127.0.0.1:0") == "--listen 127.0.0.1:0"


def test_the_readme_and_every_stage_page_have_runnable_blocks() -> None:
    names = {p.name for p in PAGES}
    assert set(STAGE_PAGES) <= names, f"missing docs pages: {set(STAGE_PAGES) - names}"
    for page in PAGES:
        if page.name in (*STAGE_PAGES, "README.md"):
            assert runnable(page), f"{page.name} has no `sh runnable` block"


# -- every documented perfops command exists -------------------------------------------------


def _command_lines(body: str) -> Iterator[str]:
    """Logical shell lines (continuations joined), without heredoc bodies."""
    lines = body.replace("\\\n", " ").splitlines()
    heredoc: str | None = None
    for line in lines:
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        m = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        if m:
            heredoc = m[1]
        yield line


def _invocations(body: str) -> Iterator[list[str]]:
    """The argument lists that follow each ``perfops`` word of a shell block."""
    for line in _command_lines(body):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            raise AssertionError(f"cannot split {line!r}: {exc}") from None
        found: list[list[str]] = []
        command: list[str] | None = None
        for word in words:
            if word in ("&&", "||", ";", "|", "&") or word.startswith(("$(", "`")):
                command = None
            elif word == "perfops" and command is None:
                command = []
                found.append(command)
            elif command is not None:
                command.append(word.rstrip(";&"))
        yield from found


def _root() -> Any:
    from perfops.cli._main import app

    return typer.main.get_command(app)


def _options(cmd: Any) -> dict[str, Any]:
    """A command's options by every name they answer to (``--json``, ``-t``, ``--no-x``)."""
    return {
        name: param
        for param in cmd.params
        for name in (*param.opts, *param.secondary_opts)
        if name.startswith("-")
    }


def _check_invocation(root: Any, args: list[str]) -> list[str]:
    """Problems with ``perfops ARGS``: an unknown command or option. Options may belong to the
    command or to any group above it; positional arguments are not checked."""
    cmd, path, problems = root, ["perfops"], []
    above: dict[str, Any] = {}
    skip_value = False
    for arg in args:
        if skip_value:
            skip_value = False
            continue
        if arg.startswith("-") and arg != "-":
            name = arg.split("=", 1)[0]
            param = {**above, **_options(cmd)}.get(name)
            if param is None:
                problems.append(f"`{' '.join(path)}` has no option {name}")
            else:
                skip_value = "=" not in arg and not getattr(param, "is_flag", False)
            continue
        commands = getattr(cmd, "commands", None)
        if commands is None:
            continue  # a positional argument of the command
        if arg not in commands:
            problems.append(f"`{' '.join(path)}` has no command {arg!r}")
            return problems
        above.update(_options(cmd))
        cmd = commands[arg]
        path.append(arg)
    if getattr(cmd, "commands", None) is not None and not cmd.invoke_without_command:
        problems.append(f"`{' '.join(path)}` needs a command")
    return problems


def test_documented_commands_and_options_exist() -> None:
    root = _root()
    problems, seen = [], 0
    for page in PAGES:
        for block in blocks(page):
            if block.lang not in ("sh", "bash", "shell"):
                continue
            for args in _invocations(block.body):
                seen += 1
                problems += [f"{block.where}: {p}" for p in _check_invocation(root, args)]
    assert seen >= 40, f"only {seen} perfops commands found in the docs: is the parser broken?"
    assert problems == []


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("perfops slo status --json", None),
        ("perfops collect --duration 5s -t dcgm", None),
        ("perfops load run --ignore-eos --rate 2", None),
        ("perfops runbook list", "has no command 'list'"),
        ("perfops slo status --windows 1h", "has no option --windows"),
        ("perfops slo", "needs a command"),
    ],
)
def test_the_command_check_catches_what_does_not_exist(line: str, problem: str | None) -> None:
    (args,) = list(_invocations(line))
    found = _check_invocation(_root(), args)
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1, found
        assert problem in found[0]


# -- links and specs in the docs ---------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\((?P<target>[^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {_slug(m[1]) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def test_links_between_pages_resolve() -> None:
    broken, seen = [], 0
    for page in PAGES:
        text = FENCE.sub("", page.read_text(encoding="utf-8"))
        for m in LINK.finditer(text):
            target = m["target"]
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not checked here
            seen += 1
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert seen >= 10, f"only {seen} relative links found: is the pattern broken?"
    assert broken == []


def test_specs_shown_in_the_docs_load(tmp_path: Path) -> None:
    """Experiment, Drill and GameDay files shown as YAML (not run) still validate against the
    workspace of `perfops init`."""
    from perfops.app.chaos import load_experiment
    from perfops.app.drill import load_drill
    from perfops.app.gameday import load_gameday
    from perfops.app.runtime import open_runtime

    assert run_cli("init", str(tmp_path), cwd=tmp_path).returncode == 0
    rt = open_runtime(tmp_path / "perfops.yaml")
    loaders = {"Experiment": load_experiment, "Drill": load_drill, "GameDay": load_gameday}
    checked = 0
    for page in PAGES:
        for i, block in enumerate(b for b in blocks(page) if b.lang == "yaml"):
            kind = re.search(r"^kind: (\w+)$", block.body, re.M)
            if kind is None or kind[1] not in loaders:
                continue
            path = tmp_path / f"{page.stem}-{i}.yaml"
            path.write_text(block.body)
            loaders[kind[1]](rt, path)  # raises ConfigError listing every problem
            checked += 1
    assert checked >= 1
