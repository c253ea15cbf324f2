"""The dashboard serves the workspace's runbooks at /runbooks/<name>, the runbook_url the
generated alerts carry: Markdown rendered to HTML with anything hostile in it escaped, under
the dashboard's CSP, and nothing outside the runbooks folder reachable."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from tests._servers import served_until_ctrl_c

from perfops.app import open_runtime
from perfops.app.runbook import generate_runbooks
from perfops.web import running_dashboard

HOSTILE = '<script>alert("rb")</script><img src=x onerror=alert(2)>'


def _get(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "perfops.yaml").write_text(f"""apiVersion: perfops/v1
services:
  - {{name: chat, endpoint: "http://127.0.0.1:9/v1", model: m, gpu: {{type: H100-SXM}}}}
slos:
  - name: chat-ttft
    service: chat
    description: '{HOSTILE}'
    sli: {{kind: latency, metric: ttft, threshold: 500ms}}
    objective: 99
""")
    return tmp_path


def test_a_runbook_page_is_served_with_hostile_text_escaped(workspace: Path) -> None:
    rt = open_runtime(workspace / "perfops.yaml")
    generate_runbooks(rt)
    path = workspace / "runbooks" / "ChatTtftPageBurnRate.md"
    path.write_text(path.read_text() + f"\n## Hand notes\n\n{HOSTILE}\n")
    with running_dashboard(rt) as dash:
        status, headers, body = _get(f"{dash.url}runbooks/ChatTtftPageBurnRate")
        listing = _get(f"{dash.url}runbooks/")
        outside = _get(f"{dash.url}runbooks/..%2Fperfops.yaml")
        missing = _get(f"{dash.url}runbooks/NoSuchAlert")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "<h2>Meaning</h2>" in body
    assert "<h2>Hand notes</h2>" in body
    assert "<script" not in body
    assert "<img" not in body
    assert "&lt;script&gt;" in body
    assert "perfops:begin" not in body
    assert listing[0] == 200
    assert 'href="/runbooks/GpuXidErrors"' in listing[2]
    assert outside[0] == 404
    assert "apiVersion" not in outside[2]
    assert missing[0] == 404


def test_runbook_serve_serves_them_until_ctrl_c(workspace: Path) -> None:
    generate_runbooks(open_runtime(workspace / "perfops.yaml"))
    with served_until_ctrl_c(workspace, "runbook", "serve", "--port", "0",
                             url=r"http://127\.0\.0\.1:\d+/runbooks/") as served:  # fmt: skip
        status, _, body = _get(served.url + "GpuEccErrors")
        assert status == 200
        assert "<h2>Diagnosis</h2>" in body
    assert served.returncode == 0, served.output
    assert "stopped" in served.output
