"""The canonical metric catalog against real exporter scrapes (tests/fixtures/*.prom).

prometheus_client's parser is the oracle for reading the scrapes; note that it renames counter
samples written without ``_total`` (DCGM, TGI, Triton) to ``X_total``, which the catalog must
accept as well as the name the exporter wrote.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import FIXTURES

from perfops.errors import ConfigError
from perfops.telemetry.catalog import (
    DEFAULT_CATALOG_PATH,
    Catalog,
    Resolved,
    load_catalog,
    normalize_labels,
    parse_catalog,
)

MiB = 1048576


@dataclass(frozen=True)
class Row:
    raw: str
    resolved: Resolved
    value: float  # raw value x scale


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def scrape(catalog: Catalog, name: str) -> tuple[dict[str, list[Row]], set[str]]:
    """Canonical sample name -> rows, plus the raw sample names the catalog left alone."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    rows: dict[str, list[Row]] = defaultdict(list)
    unmapped: set[str] = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found = catalog.resolve(sample.name, sample.labels, family.type)
            if found is None:
                unmapped.add(sample.name)
            else:
                rows[found.metric].append(Row(sample.name, found, sample.value * found.scale))
    return dict(rows), unmapped


def families(rows: dict[str, list[Row]]) -> set[str]:
    return {row.resolved.family for group in rows.values() for row in group}


def by_label(rows: list[Row], label: str) -> dict[str, float]:
    return {row.resolved.labels[label]: row.value for row in rows}


# --- the bundled catalog ------------------------------------------------------------------

REQUIRED = {
    "gpu.util": ("gauge", "percent"),
    "gpu.sm_active": ("gauge", "ratio"),
    "gpu.tensor_active": ("gauge", "ratio"),
    "gpu.dram_active": ("gauge", "ratio"),
    "gpu.gr_engine_active": ("gauge", "ratio"),
    "gpu.fb_used_bytes": ("gauge", "bytes"),
    "gpu.fb_free_bytes": ("gauge", "bytes"),
    "gpu.power_watts": ("gauge", "watts"),
    "gpu.energy_joules": ("counter", "joules"),
    "gpu.temp_celsius": ("gauge", "celsius"),
    "gpu.sm_clock_hz": ("gauge", "hertz"),
    "gpu.mem_clock_hz": ("gauge", "hertz"),
    "gpu.xid": ("gauge", "code"),
    "llm.ttft_seconds": ("histogram", "seconds"),
    "llm.itl_seconds": ("histogram", "seconds"),
    "llm.e2e_seconds": ("histogram", "seconds"),
    "llm.queue_seconds": ("histogram", "seconds"),
    "llm.prefill_seconds": ("histogram", "seconds"),
    "llm.decode_seconds": ("histogram", "seconds"),
    "llm.requests_running": ("gauge", "requests"),
    "llm.requests_waiting": ("gauge", "requests"),
    "llm.kv_cache_usage": ("gauge", "ratio"),
    "llm.prompt_tokens": ("counter", "tokens"),
    "llm.generation_tokens": ("counter", "tokens"),
    "llm.requests": ("counter", "requests"),
    "llm.preemptions": ("counter", "count"),
    "llm.prefix_cache_queries": ("counter", "tokens"),
    "llm.prefix_cache_hits": ("counter", "tokens"),
}


@pytest.mark.parametrize(("name", "expected"), sorted(REQUIRED.items()))
def test_required_metric_has_its_type_and_unit(
    catalog: Catalog, name: str, expected: tuple[str, str]
) -> None:
    info = catalog.metric(name)
    assert (info.type, info.unit) == expected
    assert info.description
    assert catalog.raw_names(name), f"{name} has no vendor name"


def test_every_vendor_name_is_in_a_fixture_or_cites_its_source() -> None:
    """Only names real exporters write: seen in a scrape, or documented with a citation."""
    seen: set[str] = set()
    for path in FIXTURES.glob("*.prom"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                seen.add(line.split("{")[0].split(" ")[0])
    data = yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))
    missing = []
    for source in data["sources"].values():
        for raw, spec in source["map"].items():
            names = {raw, raw + "_bucket", raw.removesuffix("_total")}
            if not names & seen and not (isinstance(spec, dict) and spec.get("cite")):
                missing.append(raw)
    assert missing == []


def test_the_train_family_is_reserved(catalog: Catalog) -> None:
    text = DEFAULT_CATALOG_PATH.read_text(encoding="utf-8")
    assert "train" in yaml.safe_load(text)["families"]
    assert {m.family for m in catalog.metrics()} <= {"gpu", "llm", "train"}


def test_metric_lookup_names_close_matches(catalog: Catalog) -> None:
    with pytest.raises(KeyError, match=r"gpu\.sm_active"):
        catalog.metric("gpu.sm_activ")
    assert catalog.metric("gpu.util").sample_names() == ("gpu.util",)
    assert catalog.metric("llm.requests").sample_names() == (
        "llm.requests_total",
        "llm.requests_created",
    )


# --- DCGM ---------------------------------------------------------------------------------


def test_dcgm_h100x8_gives_utilisation_of_8_gpus_with_hostname_and_uuid(catalog: Catalog) -> None:
    rows, unmapped = scrape(catalog, "dcgm-h100x8-k8s-labels-sampled-aicr.prom")
    assert families(rows) == {
        "gpu.util",
        "gpu.temp_celsius",
        "gpu.power_watts",
        "gpu.mem_copy_util",
    }
    assert unmapped == set()
    util = rows["gpu.util"]
    assert sorted(r.resolved.labels["gpu"] for r in util) == [str(i) for i in range(8)]
    assert len({r.resolved.labels["uuid"] for r in util}) == 8
    for row in util:
        labels = row.resolved.labels
        assert labels["hostname"] == "gpu-node-1"
        assert "Hostname" not in labels
        assert "UUID" not in labels
        assert labels["modelName"] == "NVIDIA H100 80GB HBM3"  # the GPU product, kept
        assert "pod_uid" not in labels  # pod_uid="" is no label, as in Prometheus
        assert row.resolved.source == "dcgm"
        assert row.resolved.unit == "percent"
    gpu0 = next(r for r in util if r.resolved.labels["gpu"] == "0")
    assert gpu0.resolved.labels["pod"] == "vllm-agg-0-vllmdecodeworker-s65j5"
    power = by_label(rows["gpu.power_watts"], "gpu")
    assert power["0"] == pytest.approx(113.611)


def test_dcgm_l4_converts_units(catalog: Catalog) -> None:
    rows, _ = scrape(catalog, "dcgm-l4-single-gpu-kops.prom")
    (free,) = rows["gpu.fb_free_bytes"]
    assert free.resolved.scale == MiB
    assert free.value == 22563 * MiB
    (reserved,) = rows["gpu.fb_reserved_bytes"]
    assert reserved.value == 470 * MiB
    (used,) = rows["gpu.fb_used_bytes"]
    assert used.value == 0
    (energy,) = rows["gpu.energy_joules_total"]  # a counter written without _total
    assert energy.raw == "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total"
    assert energy.value == pytest.approx(4742.776)
    (sm_clock,) = rows["gpu.sm_clock_hz"]
    assert sm_clock.value == pytest.approx(210e6)
    (mem_clock,) = rows["gpu.mem_clock_hz"]
    assert mem_clock.value == pytest.approx(405e6)
    (power,) = rows["gpu.power_watts"]
    assert power.resolved.scale == 1.0
    assert power.value == pytest.approx(16.365)


def test_dcgm_counter_resolves_with_and_without_total(catalog: Catalog) -> None:
    bare = catalog.resolve("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", {}, "counter")
    suffixed = catalog.resolve("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION_total", {}, "counter")
    assert bare == suffixed
    assert bare is not None
    assert (bare.metric, bare.scale) == ("gpu.energy_joules_total", 0.001)


def test_sm_active_absent_from_l4_so_consumers_fall_back(catalog: Catalog) -> None:
    rows, _ = scrape(catalog, "dcgm-l4-single-gpu-kops.prom")
    present = families(rows)
    assert "gpu.sm_active" not in present
    assert catalog.fallbacks("gpu.sm_active") == ["gpu.gr_engine_active"]
    assert catalog.first_available("gpu.sm_active", present) == "gpu.gr_engine_active"
    assert {"gpu.tensor_active", "gpu.dram_active", "gpu.gr_engine_active"} <= present


def test_sm_active_present_in_t4_is_used_as_is(catalog: Catalog) -> None:
    rows, _ = scrape(catalog, "dcgm-t4x2-gke-k8s-labels-excerpt.prom")
    present = families(rows)
    assert present == {"gpu.sm_active", "gpu.sm_occupancy", "gpu.tensor_active"}
    assert catalog.first_available("gpu.sm_active", present) == "gpu.sm_active"
    assert catalog.first_available("gpu.sm_active", {"gpu.util"}) is None
    pods = {r.resolved.labels["gpu"]: r.resolved.labels.get("pod") for r in rows["gpu.sm_active"]}
    assert pods == {"0": "triton-84d57987c9-kks4k", "1": None}  # pod="" dropped


def test_dcgm_a800_mig_instances_keep_their_labels(catalog: Catalog) -> None:
    rows, _ = scrape(catalog, "dcgm-a800x8-mig-hostname.prom")
    assert families(rows) == {
        "gpu.sm_clock_hz",
        "gpu.mem_clock_hz",
        "gpu.mem_temp_celsius",
        "gpu.temp_celsius",
    }
    clocks = rows["gpu.sm_clock_hz"]
    assert len(clocks) == 10
    mig = sorted(r.resolved.labels["GPU_I_ID"] for r in clocks if "GPU_I_ID" in r.resolved.labels)
    assert mig == ["3", "5", "6"]
    assert {r.resolved.labels["hostname"] for r in clocks} == {"msxf-hpc-64-35-ai"}
    assert max(r.value for r in clocks) == pytest.approx(1410e6)


def test_xid_is_the_last_code_as_a_gauge_not_a_count(catalog: Catalog) -> None:
    info = catalog.metric("gpu.xid")
    assert info.type == "gauge"
    assert "LAST" in info.description
    assert "not a count" in info.description
    line = 'DCGM_FI_DEV_XID_ERRORS{gpu="0",UUID="GPU-1",Hostname="h"} 79\n'
    text = "# TYPE DCGM_FI_DEV_XID_ERRORS gauge\n" + line
    (family,) = text_string_to_metric_families(text)
    (sample,) = family.samples
    found = catalog.resolve(sample.name, sample.labels, family.type)
    assert found is not None
    assert found.metric == "gpu.xid"  # no _total: never summed or rated
    assert sample.value * found.scale == 79  # the code itself survives


# --- vLLM and NIM -------------------------------------------------------------------------


def test_vllm_v1_maps_every_required_llm_metric(catalog: Catalog) -> None:
    rows, unmapped = scrape(catalog, "vllm-v1-qwen2.5-0.5b-idle-kops.prom")
    assert families(rows) == {
        "llm.requests_running",
        "llm.requests_waiting",
        "llm.kv_cache_usage",
        "llm.prefix_cache_queries",
        "llm.prefix_cache_hits",
        "llm.preemptions",
        "llm.prompt_tokens",
        "llm.generation_tokens",
        "llm.requests",
        "llm.request_prompt_tokens",
        "llm.request_generation_tokens",
        "llm.ttft_seconds",
        "llm.itl_seconds",
        "llm.tpot_seconds",
        "llm.e2e_seconds",
        "llm.queue_seconds",
        "llm.prefill_seconds",
        "llm.decode_seconds",
        "llm.inference_seconds",
    }
    assert "vllm:iteration_tokens_total_bucket" in unmapped  # a histogram named *_total
    (tokens,) = rows["llm.generation_tokens_total"]
    assert tokens.resolved.labels == {"engine": "0", "model_name": "Qwen/Qwen2.5-0.5B-Instruct"}
    (created,) = rows["llm.generation_tokens_created"]
    assert created.resolved.scale == 1.0
    assert created.value == pytest.approx(1.7740114612876709e9)


def test_vllm_finished_reason_becomes_outcome_with_its_value(catalog: Catalog) -> None:
    rows, _ = scrape(catalog, "vllm-v1-qwen2.5-0.5b-idle-kops.prom")
    outcomes = {r.resolved.labels["outcome"] for r in rows["llm.requests_total"]}
    assert outcomes == {"stop", "length", "abort", "error", "repetition"}
    assert all("finished_reason" not in r.resolved.labels for r in rows["llm.requests_total"])
    assert catalog.good_outcomes == {"stop", "length", "success"}
    assert not {"abort", "error"} & catalog.good_outcomes


def test_vllm_histogram_buckets_keep_le(catalog: Catalog) -> None:
    rows, _ = scrape(catalog, "vllm-v1-qwen2.5-0.5b-idle-kops.prom")
    buckets = rows["llm.ttft_seconds_bucket"]
    assert [r.resolved.labels["le"] for r in buckets][:3] == ["0.001", "0.005", "0.01"]
    assert buckets[-1].resolved.labels["le"] == "+Inf"
    assert "2.0" not in {r.resolved.labels["le"] for r in buckets}  # vLLM's TTFT trap
    assert len(rows["llm.ttft_seconds_sum"]) == 1
    assert len(rows["llm.ttft_seconds_count"]) == 1
    assert len(rows["llm.ttft_seconds_created"]) == 1
    assert all(r.resolved.family == "llm.ttft_seconds" for r in buckets)


def test_vllm_v0_deprecated_names_map_to_the_same_metrics(catalog: Catalog) -> None:
    rows, _ = scrape(catalog, "vllm-v0-opt125m-datadog.prom")
    (kv,) = rows["llm.kv_cache_usage"]
    assert kv.raw == "vllm:gpu_cache_usage_perc"
    assert rows["llm.itl_seconds_bucket"][0].raw == "vllm:time_per_output_token_seconds_bucket"
    (finished,) = rows["llm.requests_total"]
    assert finished.resolved.labels == {"model_name": "facebook/opt-125m", "outcome": "length"}
    assert finished.value == 1.0
    assert {"vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc"} <= set(
        catalog.raw_names("llm.kv_cache_usage")
    )
    assert {
        "vllm:time_per_output_token_seconds",
        "vllm:inter_token_latency_seconds",
    } <= set(catalog.raw_names("llm.itl_seconds"))


def test_deprecated_name_beside_its_replacement_is_superseded(catalog: Catalog) -> None:
    both = {
        "vllm:gpu_cache_usage_perc",
        "vllm:kv_cache_usage_perc",
        "vllm:time_per_output_token_seconds_bucket",
        "vllm:time_per_output_token_seconds_sum",
        "vllm:inter_token_latency_seconds_count",
    }
    assert catalog.superseded(both) == {
        "vllm:gpu_cache_usage_perc",
        "vllm:time_per_output_token_seconds_bucket",
        "vllm:time_per_output_token_seconds_sum",
    }
    assert catalog.superseded({"vllm:gpu_cache_usage_perc"}) == frozenset()


def test_nim_unprefixed_names_and_no_double_counted_requests(catalog: Catalog) -> None:
    rows, unmapped = scrape(catalog, "nim.prom")
    assert families(rows) == {
        "llm.requests_running",
        "llm.requests_waiting",
        "llm.kv_cache_usage",
        "llm.prompt_tokens",
        "llm.generation_tokens",
        "llm.requests",
        "llm.ttft_seconds",
        "llm.itl_seconds",
        "llm.e2e_seconds",
        "llm.request_prompt_tokens",
        "llm.request_generation_tokens",
    }
    (finished,) = rows["llm.requests_total"]
    assert finished.raw == "request_finish_total"
    assert finished.resolved.labels["outcome"] == "length"
    assert finished.value == 5
    assert {"request_success_total", "request_failure_total"} <= unmapped
    assert {r.resolved.source for group in rows.values() for r in group} == {"nim"}
    (kv,) = rows["llm.kv_cache_usage"]
    assert kv.value == pytest.approx(0.0002848191398461977)


def test_time_per_output_token_is_inter_token_latency(catalog: Catalog) -> None:
    """Why the deprecated name maps to llm.itl_seconds: one observation per token after the
    first (NIM: 174 tokens over 5 requests gave 169 observations), not one per request."""
    rows, _ = scrape(catalog, "nim.prom")
    (itl,) = rows["llm.itl_seconds_count"]
    (tokens,) = rows["llm.generation_tokens_total"]
    (requests,) = rows["llm.ttft_seconds_count"]
    assert itl.value == tokens.value - requests.value


# --- TGI and Triton -----------------------------------------------------------------------


def test_tgi(catalog: Catalog) -> None:
    rows, unmapped = scrape(catalog, "tgi.prom")
    assert families(rows) == {
        "llm.requests",
        "llm.requests_waiting",
        "llm.requests_running",
        "llm.e2e_seconds",
        "llm.queue_seconds",
        "llm.inference_seconds",
        "llm.request_prompt_tokens",
    }
    assert "tgi_request_count_total" in unmapped  # success + failure: would double count
    outcomes = {r.resolved.labels["outcome"]: r for r in rows["llm.requests_total"]}
    assert outcomes["success"].value == 109
    assert outcomes["error"].value == 2
    assert outcomes["error"].resolved.labels["err"] == "validation"
    buckets = rows["llm.e2e_seconds_bucket"]
    assert len(buckets) == 36
    assert buckets[0].resolved.labels == {"le": "0.00015000000000000001"}
    (count,) = rows["llm.queue_seconds_count"]
    assert count.value == 109


def test_triton(catalog: Catalog) -> None:
    rows, _ = scrape(catalog, "triton.prom")
    assert families(rows) == {
        "llm.requests",
        "llm.requests_waiting",
        "llm.request_duration_seconds",
        "llm.queue_duration_seconds",
        "gpu.util",
        "gpu.fb_used_bytes",
        "gpu.power_watts",
        "gpu.energy_joules",
    }
    uuid = "GPU-951eeeeb-d284-d263-688e-d98a5306389b"
    (util,) = rows["gpu.util"]
    assert util.resolved.scale == 100.0  # nv_gpu_utilization is a 0-1 ratio
    assert util.resolved.labels == {"uuid": uuid}
    (energy,) = rows["gpu.energy_joules_total"]
    assert energy.value == pytest.approx(4879631.328000044)  # already joules
    (memory,) = rows["gpu.fb_used_bytes"]
    assert memory.value == 266338304
    requests = rows["llm.requests_total"]
    assert {r.resolved.labels["outcome"] for r in requests} == {"success", "error"}
    assert all(set(r.resolved.labels) == {"model_name", "version", "outcome"} for r in requests)
    durations = rows["llm.request_duration_seconds_total"]
    assert {r.resolved.scale for r in durations} == {1e-6}
    assert len(rows["llm.queue_duration_seconds_total"]) == 8


def test_node_exporter_maps_nothing(catalog: Catalog) -> None:
    rows, unmapped = scrape(catalog, "node-exporter.prom")
    assert rows == {}
    assert unmapped


# --- resolve() details ----------------------------------------------------------------------


def test_a_different_exposition_shape_is_not_mapped(catalog: Catalog) -> None:
    labels = {"quantile": "0.5"}
    assert catalog.resolve("vllm:e2e_request_latency_seconds_sum", labels, "summary") is None
    assert catalog.resolve("vllm:e2e_request_latency_seconds_sum", {}, "histogram") is not None
    assert catalog.resolve("vllm:e2e_request_latency_seconds_sum", {}, "unknown") is not None
    assert catalog.resolve("vllm:prompt_tokens_created", {}, "gauge") is not None
    assert catalog.resolve("not_a_vendor_metric", {}) is None


def test_normalize_labels() -> None:
    raw = {"Hostname": "h", "UUID": "GPU-1", "modelName": "NVIDIA L4", "pod": "", "gpu": "0"}
    assert normalize_labels(raw) == {
        "hostname": "h",
        "uuid": "GPU-1",
        "modelName": "NVIDIA L4",
        "gpu": "0",
    }
    assert normalize_labels({"hostname": "new"}) == {"hostname": "new"}
    clash = normalize_labels({"Hostname": "a", "hostname": "b"})
    assert clash == {"hostname": "a", "exported_hostname": "b"}


# --- other catalogs: unit scaling and errors ------------------------------------------------

HEAD = """\
apiVersion: perfops/v1
kind: MetricCatalog
version: 1
families: {llm: serving}
outcomes: {values: [stop, error], good: [stop]}
"""

MS_CATALOG = (
    HEAD
    + """\
metrics:
  llm.ttft_seconds: {type: histogram, unit: seconds, description: TTFT}
sources:
  triton:
    cite: test
    map:
      nv_inference_first_response_histogram_ms: {metric: llm.ttft_seconds, unit: ms}
"""
)


def test_millisecond_histogram_scales_le_and_sum_but_not_counts(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(MS_CATALOG, encoding="utf-8")
    catalog = load_catalog(path)
    raw = "nv_inference_first_response_histogram_ms"
    bucket = catalog.resolve(f"{raw}_bucket", {"le": "15", "model": "m"}, "histogram")
    assert bucket is not None
    assert bucket.metric == "llm.ttft_seconds_bucket"
    assert bucket.labels == {"le": "0.015", "model": "m"}
    assert bucket.scale == 1.0
    inf = catalog.resolve(f"{raw}_bucket", {"le": "+Inf"}, "histogram")
    assert inf is not None
    assert inf.labels["le"] == "+Inf"
    total = catalog.resolve(f"{raw}_sum", {}, "histogram")
    count = catalog.resolve(f"{raw}_count", {}, "histogram")
    assert total is not None
    assert count is not None
    assert (total.scale, count.scale) == (0.001, 1.0)


def problems_of(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_catalog(path)
    return [str(p) for p in info.value.problems]


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    (problem,) = problems_of(HEAD + "metrics:\n\tllm.x: 1\n", tmp_path)
    assert "bad.yaml:7:1 " in problem
    assert "YAML syntax error" in problem


def test_every_problem_is_listed_with_its_line_and_a_hint(tmp_path: Path) -> None:
    text = (
        HEAD
        + """\
metrics:
  llm.ttft_seconds: {type: histogram, unit: seconds, description: TTFT, colour: red}
  llm.wait_total: {type: counter, unit: requests, description: bad suffix}
sources:
  vllm:
    cite: test
    map:
      vllm:time_to_first_token_seconds: llm.ttft_second
      vllm:e2e_request_latency_seconds: {metric: llm.ttft_seconds, unit: MiB}
      vllm:request_success_total: {metric: llm.wait_total, set: {outcome: stopped}}
      vllm:request_success: llm.wait_total
"""
    )
    problems = problems_of(text, tmp_path)
    expected = [
        ('bad.yaml:7:73 metrics["llm.ttft_seconds"].colour: unknown field', "description"),
        ('bad.yaml:8:3 metrics["llm.wait_total"]: a canonical metric may not end', "total"),
        ("bad.yaml:13:41 sources.vllm.map", 'did you mean "llm.ttft_seconds"?'),
        ("bad.yaml:14:74", "no conversion from 'MiB' to 'seconds'; known conversions: MiB->"),
        ("bad.yaml:15:75", "'stopped' is not an outcome; one of stop, error"),
        ("bad.yaml:16:7", "already mapped by vllm:request_success_total"),
    ]
    assert len(problems) == len(expected), problems
    for problem, (start, part) in zip(problems, expected, strict=True):
        assert start in problem
        assert part in problem


def test_duplicate_keys_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    text = HEAD + "metrics: {}\nsources: {}\nversion: 2\n"
    (problem,) = problems_of(text, tmp_path)
    assert "bad.yaml:8:1 version: duplicate key" in problem
    with pytest.raises(ConfigError, match="cannot read the metric catalog"):
        load_catalog(tmp_path / "absent.yaml")


def test_parse_catalog_takes_text() -> None:
    catalog = parse_catalog(HEAD + "metrics: {}\nsources: {}\n", source="inline")
    assert catalog.metrics() == []
    assert catalog.version == 1
