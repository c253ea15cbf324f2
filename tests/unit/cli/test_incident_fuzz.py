"""No traceback from `perfops incident`: its options fed arbitrary text end in exit 2 with a
one-line error (each example also carries a value known to be wrong, so none of them writes
to the lake or starts the receiver)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfops.cli import _main

WORKSPACE = """\
apiVersion: perfops/v1
services:
  - {name: chat, endpoint: "http://127.0.0.1:9/v1", model: m, gpu: {type: H100-SXM}}
slos:
  - {name: fast, service: chat, sli: {kind: latency, metric: ttft, threshold: 500ms},
     objective: 99}
"""
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = st.one_of(
    st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=30),
    st.sampled_from(["", " ", "SEV-0", "sev1", "closed", "resolved", "\x1b[31m", "\u202e",
                     "--help", "-1", "1e309", "65536", "inc-", "{{ 7*7 }}", "<!channel>"]),
)  # fmt: skip


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("incident-fuzz")
    (root / "perfops.yaml").write_text(WORKSPACE)
    command = typer.main.get_command(_main.app)
    with mock.patch.object(typer.main, "get_command", return_value=command):
        code, out, _ = invoke(["-c", str(root / "perfops.yaml"), "incident", "open", "t",
                               "--json"])  # fmt: skip
        assert code == 0
        yield root / "perfops.yaml", json.loads(out)["incident_id"]


def invoke(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = _main.main(argv)
    return code, out.getvalue(), err.getvalue()


def refused(argv: list[str]) -> None:
    code, out, err = invoke(argv)
    shown = f"argv={argv!r}\nexit {code}\nstdout:\n{out}\nstderr:\n{err}"
    assert "Traceback" not in out + err, shown
    assert "internal error" not in out + err, shown
    assert code == 2, shown
    assert len([line for line in err.splitlines() if line.startswith(("error:", "Error:"))]) == 1


@PROPS
@given(title=TEXT, severity=TEXT, slo=TEXT, role=TEXT)
def test_open(workspace: tuple[Path, str], title: str, severity: str, slo: str, role: str) -> None:
    config, _ = workspace
    refused(["-c", str(config), "incident", "open", f"--severity={severity}", f"--slo={slo}",
             f"--commander={role}", "--service=nope", "--", title])  # fmt: skip


@PROPS
@given(status=TEXT, severity=TEXT, message=TEXT)
def test_update(workspace: tuple[Path, str], status: str, severity: str, message: str) -> None:
    config, iid = workspace
    refused(["-c", str(config), "incident", "update", iid, f"--status={status}",
             f"--severity={severity}", f"-m={message}", "--service=nope"])  # fmt: skip


@PROPS
@given(ident=TEXT, kind=TEXT)
def test_show_message_and_close(workspace: tuple[Path, str], ident: str, kind: str) -> None:
    config, iid = workspace
    refused(["-c", str(config), "incident", "show", "--", f"x{ident}"])
    refused(["-c", str(config), "incident", "message", iid, f"--kind={kind}", "--channel=nope"])
    refused(["-c", str(config), "incident", "close", iid, f"-m={kind}"])  # triage: not yet


@PROPS
@given(host=TEXT, port=TEXT)
def test_serve(workspace: tuple[Path, str], host: str, port: str) -> None:
    config, _ = workspace
    refused(["-c", str(config), "incident", "serve", f"--host={host}", f"--port={port}",
             "--token-env=PERFOPS_NO_SUCH_TOKEN_VAR"])  # fmt: skip
