"""OpenSLO v1 import: realistic documents to perfops SLO entries, warnings, located errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from perfops.config.models import SLO
from perfops.errors import ConfigError
from perfops.slo.openslo import import_openslo, render_slos_yaml

Imported = tuple[dict[str, dict[str, Any]], list[str]]
FIXTURES = Path(__file__).parents[2] / "fixtures" / "openslo"


def _fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.fixture(scope="module")
def imported() -> Imported:
    entries, warnings = import_openslo(_fixture("inference.yaml"), source="inference.yaml")
    return {e["name"]: e for e in entries}, warnings


def test_every_entry_validates_as_perfops_slo(imported: Imported) -> None:
    entries, _ = imported
    assert sorted(entries) == ["chat-availability", "chat-ttft-acceptable", "chat-ttft-fast"]
    for entry in entries.values():
        SLO.model_validate(entry)


def test_ratio_via_indicator_ref(imported: Imported) -> None:
    entry = imported[0]["chat-availability"]
    assert entry["service"] == "chat-api"
    assert entry["objective"] == 99.5  # target 0.995 -> percent
    assert entry["window"] == "28d"
    assert entry["sli"] == {
        "kind": "ratio",
        "total": 'sum(rate(http_requests_total{service="chat-api"}[{{.window}}]))',
        "good": 'sum(rate(http_requests_total{service="chat-api",code!~"5.."}[{{.window}}]))',
    }
    assert SLO.model_validate(entry).window == 28 * 86400.0


def test_latency_threshold_calendar_month_target_percent(imported: Imported) -> None:
    entries, warnings = imported
    fast, ok = entries["chat-ttft-fast"], entries["chat-ttft-acceptable"]
    assert fast["sli"] == {
        "kind": "latency",
        "metric": "ttft",
        "threshold": 0.5,
        "source": "histogram",
    }
    assert (fast["objective"], ok["objective"]) == (95.0, 99.0)
    assert ok["sli"]["threshold"] == 2.0
    assert fast["window"] == ok["window"] == "month"
    assert fast["service"] == "chat-api"  # "Chat-API" lower-cased, with a warning
    assert any("'Chat-API' renamed to 'chat-api'" in w for w in warnings)


def test_warnings_name_unmapped_pieces_with_lines(imported: Imported) -> None:
    text = "\n".join(imported[1])
    assert "raw ratioMetric skipped" in text  # gpu-errors: no SLO produced
    assert "burnrate condition (threshold 14.4 over 1h)" in text
    assert "alert condition kind 'remainingBudget' not supported" in text
    assert all(w.startswith("inference.yaml:") for w in imported[1])


def test_render_round_trips(imported: Imported) -> None:
    entries = list(imported[0].values())
    text = render_slos_yaml(entries, source="inference.yaml")
    assert text.startswith("# Imported from inference.yaml")
    data = yaml.safe_load(text)
    assert data["slos"] == entries
    for entry in data["slos"]:
        SLO.model_validate(entry)


def _slo(**spec: str) -> str:
    body = {
        "service": "chat",
        "indicator": {
            "metadata": {"name": "x"},
            "spec": {
                "thresholdMetric": {
                    "metricSource": {"type": "Prometheus", "spec": {"query": spec.pop("query")}}
                }
            },
        },
        "timeWindow": [{"duration": spec.pop("duration", "7d"), "isRolling": True}],
        "objectives": [{"op": spec.pop("op", "lt"), "value": 300, "target": 0.99}],
    }
    return yaml.safe_dump(
        {"apiVersion": "openslo/v1", "kind": "SLO", "metadata": {"name": "s"}, "spec": body}
    )


def test_unrecognised_threshold_query_is_skipped_with_warning() -> None:
    entries, warnings = import_openslo(_slo(query="avg(api_server_request_msec)"))
    assert entries == []
    assert any("not a known latency histogram" in w for w in warnings)
    assert any("no SLO could be imported" in w for w in warnings)


def test_threshold_needs_lt_op() -> None:
    entries, warnings = import_openslo(
        _slo(query="vllm:e2e_request_latency_seconds_bucket", op="gt")
    )
    assert entries == []
    assert any("op lt|lte" in w for w in warnings)


def test_rolling_month_becomes_30d() -> None:
    entries, warnings = import_openslo(
        _slo(query="vllm:e2e_request_latency_seconds_bucket", duration="1M")
    )
    assert entries[0]["window"] == "30d"
    assert entries[0]["sli"]["metric"] == "e2e"
    assert any("imported as 30d" in w for w in warnings)
    SLO.model_validate(entries[0])


def test_unsupported_api_version_is_located() -> None:
    with pytest.raises(ConfigError) as err:
        import_openslo(_fixture("bad_version.yaml"), source="bad_version.yaml")
    (problem,) = err.value.problems
    assert problem.location == "bad_version.yaml:11:13"
    assert "openslo/v1alpha" in problem.message
    assert problem.hint


def test_unsupported_kind_and_yaml_syntax_are_located() -> None:
    with pytest.raises(ConfigError) as err:
        import_openslo("apiVersion: openslo/v1\nkind: Budget\n", source="o.yaml")
    assert err.value.problems[0].location == "o.yaml:2:7"
    with pytest.raises(ConfigError) as err:
        import_openslo("apiVersion: openslo/v1\n---\nkind: [SLO\n", source="o.yaml")
    assert err.value.problems[0].location.startswith("o.yaml:")
    assert "YAML syntax error" in err.value.problems[0].message


def test_missing_indicator_ref_and_bad_target_are_all_reported() -> None:
    text = _fixture("inference.yaml").replace(
        "indicatorRef: chat-availability", "indicatorRef: nope"
    )
    text = text.replace("targetPercent: 95", "targetPercent: 120")
    with pytest.raises(ConfigError) as err:
        import_openslo(text, source="i.yaml")
    messages = [str(p) for p in err.value.problems]
    assert len(messages) == 2
    assert "indicatorRef 'nope' names no SLI" in messages[0]
    assert "chat-availability" in messages[0]
    assert "out of range" in messages[1]
    assert "i.yaml:" in messages[1]


def test_fixed_range_ratio_query_is_kept_with_warning() -> None:
    text = _fixture("bad_version.yaml").split("---")[0] + (
        "---\napiVersion: openslo/v1\nkind: SLO\nmetadata: {name: errs}\n"
        "spec:\n  service: web\n  indicatorRef: ok\n"
        "  timeWindow: [{duration: 30d, isRolling: true}]\n  objectives: [{target: 0.99}]\n"
    )
    entries, warnings = import_openslo(text)
    assert entries[0]["sli"] == {"kind": "ratio", "total": "requests_total", "bad": "errors_total"}
    assert warnings == []
    entries, warnings = import_openslo(text.replace("query: errors_total", "query: 'rate(e[5m])'"))
    assert entries[0]["sli"]["bad"] == "rate(e[5m])"
    assert any("fixed range" in w for w in warnings)
