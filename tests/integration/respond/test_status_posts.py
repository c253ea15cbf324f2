"""`perfops incident ... --post` sends Slack and PagerDuty bodies that fit their documented
schemas to a loopback receiver; the secrets (a Slack webhook URL, a PagerDuty routing key)
come from the environment and never reach the lake or the terminal."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests._notify_schemas import check_pagerduty, check_slack
from tests.conftest import run_cli

SLACK_SECRET = "T0000/B0000/XyZsecretHookPath"
ROUTING_KEY = "R0UT1NGKEYsecret0000000000000000"
HOSTILE = "<!channel> chat <b>slow</b> & *down*"


class _Catcher(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.status = 200

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Catcher

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        assert self.headers["Content-Type"] == "application/json"
        self.server.bodies.append((self.path, json.loads(body)))
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def catcher() -> Iterator[_Catcher]:
    server = _Catcher()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def workspace(tmp_path: Path, catcher: _Catcher) -> Path:
    assert run_cli("init", cwd=tmp_path).returncode == 0
    config = tmp_path / "perfops.yaml"
    text = config.read_text()
    pd = "{name: oncall, kind: pagerduty, target_env: PAGERDUTY_ROUTING_KEY}"
    assert pd in text
    text = text.replace(pd, "{name: oncall, kind: pagerduty, target_env: PAGERDUTY_ROUTING_KEY, "
                        f"target: '{catcher.base}/v2/enqueue'}}")  # fmt: skip
    config.write_text(text)
    return tmp_path


def _env(catcher: _Catcher) -> dict[str, str]:
    return {"SLACK_WEBHOOK_URL": f"{catcher.base}/services/{SLACK_SECRET}",
            "PAGERDUTY_ROUTING_KEY": ROUTING_KEY}  # fmt: skip


def _lake_bytes(workspace: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (workspace / ".perfops").rglob("*") if p.is_file())


def test_posts_fit_the_schemas_escape_the_title_and_keep_the_secrets(
    workspace: Path, catcher: _Catcher
) -> None:
    env = _env(catcher)
    args = ["--service", "chat", "--slo", "chat-ttft", "--severity", "SEV-1", "--commander", "a"]
    opened = run_cli("incident", "open", HOSTILE, *args, "--json", cwd=workspace)
    assert opened.returncode == 0, opened.stderr
    inc = json.loads(opened.stdout)["incident_id"]
    outputs = []
    for args in (["update", inc, "--status", "investigating", "-m", "KV cache full", "--post"],
                 ["update", inc, "--post", "--to", "team-chat"],
                 ["resolve", inc, "-m", "rolled back", "--post"]):  # fmt: skip
        done = run_cli("incident", *args, cwd=workspace, env=env)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout + done.stderr)
    slack = [b for path, b in catcher.bodies if path.startswith("/services/")]
    pager = [b for path, b in catcher.bodies if path == "/v2/enqueue"]
    assert len(slack) == 3
    assert len(pager) == 2  # the second update went to team-chat only
    for body in slack:
        check_slack(body)
        assert "&lt;!channel&gt; chat &lt;b&gt;slow&lt;/b&gt; &amp; *down*" in body["text"]
        assert "<!channel>" not in body["text"]
    assert "Incident inc-" in slack[0]["text"]  # the first post is the initial message
    assert "Next update by" in slack[0]["text"]
    assert " update: " in slack[1]["text"]
    assert " resolved: " in slack[2]["text"]
    for event in pager:
        check_pagerduty(event)
        assert (event["routing_key"], event["dedup_key"]) == (ROUTING_KEY, inc)
    assert [e["event_action"] for e in pager] == ["trigger", "resolve"]
    assert pager[0]["payload"]["severity"] == "critical"
    assert pager[0]["payload"]["custom_details"]["incident_id"] == inc

    shown = run_cli("incident", "show", inc, "--json", cwd=workspace)
    posted = [e["posted"] for e in json.loads(shown.stdout)["timeline"] if e.get("posted")]
    assert posted == [{"kind": "initial", "receivers": ["oncall", "team-chat"]},
                      {"kind": "update", "receivers": ["team-chat"]},
                      {"kind": "resolution", "receivers": ["oncall", "team-chat"]}]  # fmt: skip
    lake = _lake_bytes(workspace)
    for secret in (SLACK_SECRET, ROUTING_KEY):
        assert secret.encode() not in lake
        assert all(secret not in out for out in outputs)


def test_a_missing_secret_or_a_refusing_receiver_fails_without_showing_the_url(
    workspace: Path, catcher: _Catcher
) -> None:
    opened = run_cli("incident", "open", "chat slow", "--json", cwd=workspace)
    inc = json.loads(opened.stdout)["incident_id"]
    env = _env(catcher)
    missing = run_cli("incident", "update", inc, "--post", cwd=workspace,
                      env={"PAGERDUTY_ROUTING_KEY": ROUTING_KEY})  # fmt: skip
    assert missing.returncode == 2
    assert "$SLACK_WEBHOOK_URL is not set" in missing.stderr
    catcher.status = 500
    refused = run_cli("incident", "update", inc, "--post", "--to", "team-chat", cwd=workspace,
                      env=env)  # fmt: skip
    assert refused.returncode == 1
    assert "receiver team-chat (slack) refused the update: HTTP 500" in refused.stderr
    assert SLACK_SECRET not in refused.stderr + refused.stdout
    unknown = run_cli("incident", "update", inc, "--post", "--to", "team-chta", cwd=workspace,
                      env=env)  # fmt: skip
    assert unknown.returncode == 2
    assert "receivers: oncall, team-chat" in unknown.stderr
