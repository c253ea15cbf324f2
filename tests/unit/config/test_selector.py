"""Service selectors: PromQL label matchers, checked when perfops.yaml is loaded."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perfops._internal.escape import promql_selector
from perfops.config import parse_config, parse_selector
from perfops.errors import ConfigError

BASE = """apiVersion: perfops/v1
services:
  - name: chat
    endpoint: http://127.0.0.1:8000/v1
    model: llama
    gpu: {type: H100-SXM}
"""


def test_matchers_follow_prometheus() -> None:
    sel = parse_selector('{model_name="llama", job=~"vllm-.*", env!="dev", pod!~"canary.*"}')
    assert sel.matches({"model_name": "llama", "job": "vllm-0", "pod": "chat-1"})
    assert not sel.matches({"model_name": "llama", "job": "xvllm-0"})  # anchored at the start
    assert not sel.matches({"model_name": "llama", "job": "vllm-0", "env": "dev"})
    assert not sel.matches({"model_name": "llama", "job": "vllm-0", "pod": "canary-1"})
    assert parse_selector('{a=~"x.y"}').matches({"a": "x\ny"})  # `.` matches a newline (3.x)
    assert parse_selector('{a=~"b"}').matches({"a": "b"})
    assert not parse_selector('{a=~"b"}').matches({"a": "bb"})  # anchored at the end


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{a=~"(?=x)y"}', "lookaround"),
        ('{a=~"(x)\\\\1"}', "backreference"),
        ('{a=~"x++"}', "possessive"),
        ('{a=~"("}', "does not compile"),
        ('{a="x" b="y"}', "expected ','"),
        ("{a=x}", "must be quoted"),
        ('{a=~".*"}', "matches every series"),
        ("{}", "at least one matcher"),
        ('{a="\\q"}', "unknown escape"),
    ],
)
def test_a_bad_selector_is_a_located_config_error(text: str, why: str) -> None:
    yaml = BASE + f"    selector: '{text}'\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml)
    assert "perfops.yaml:7:15 services[0].selector" in str(caught.value)
    assert why in str(caught.value)


def test_defaults_need_no_service_label() -> None:
    config = parse_config(
        BASE + "telemetry:\n  targets:\n"
        "    - {name: dcgm, kind: dcgm, url: 'http://10.0.0.5:9400/metrics', service: chat}\n"
    )
    svc = config.services[0]
    assert str(svc.series_selector) == '{model_name="llama"}'
    assert str(config.gpu_selector(svc)) == '{instance="10.0.0.5:9400"}'
    joined = parse_config(BASE + "    labels: {namespace: llm, model_name: llama-70b}\n")
    assert str(joined.services[0].series_selector) == '{model_name="llama-70b"}'
    assert str(joined.gpu_selector(joined.services[0])) == '{namespace="llm"}'


@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
                       st.text(min_size=1, max_size=20), min_size=1, max_size=4))  # fmt: skip
def test_any_value_survives_promql_escaping(labels: dict[str, str]) -> None:
    sel = parse_selector(promql_selector(labels))
    assert sel.matches(labels)
    assert sel.example() == labels
    assert parse_selector(str(sel)) == sel
