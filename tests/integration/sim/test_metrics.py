"""The sim's /metrics as Prometheus sees them: exact vLLM and DCGM names, scraped for real."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import openai
from prometheus_client.parser import text_string_to_metric_families
from tests._servers import FleetThread, get, prometheus, sim_fleet

from perfops.sim.metrics import E2E_BUCKETS, ITL_BUCKETS, TTFT_BUCKETS

MODEL = "llama-3.1-8b"
VLLM = {
    "vllm:num_requests_running": "gauge",
    "vllm:num_requests_waiting": "gauge",
    "vllm:kv_cache_usage_perc": "gauge",
    "vllm:prefix_cache_queries": "counter",
    "vllm:prefix_cache_hits": "counter",
    "vllm:num_preemptions": "counter",
    "vllm:prompt_tokens": "counter",
    "vllm:generation_tokens": "counter",
    "vllm:request_success": "counter",
    "vllm:time_to_first_token_seconds": "histogram",
    "vllm:inter_token_latency_seconds": "histogram",
    "vllm:e2e_request_latency_seconds": "histogram",
    "vllm:request_queue_time_seconds": "histogram",
    "vllm:request_prefill_time_seconds": "histogram",
    "vllm:request_decode_time_seconds": "histogram",
    "http_requests": "counter",
}
DCGM = [
    "DCGM_FI_DEV_GPU_UTIL",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
    "DCGM_FI_PROF_SM_ACTIVE",
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
    "DCGM_FI_PROF_DRAM_ACTIVE",
    "DCGM_FI_DEV_FB_USED",
    "DCGM_FI_DEV_FB_FREE",
    "DCGM_FI_DEV_POWER_USAGE",
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
    "DCGM_FI_DEV_GPU_TEMP",
    "DCGM_FI_DEV_SM_CLOCK",
    "DCGM_FI_DEV_XID_ERRORS",
]


def families(url: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(get(url))}


def load(fleet: FleetThread, n: int, *, tokens: int = 64, prompt: str = "tell me a story ") -> None:
    client = openai.OpenAI(base_url=fleet.url(), api_key="sim", max_retries=0)

    def one(i: int) -> None:
        client.completions.create(model=MODEL, prompt=f"{i} {prompt * 40}", max_tokens=tokens)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(one, range(n)))


def sample(url: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Samples of ``name`` (a counter may be named with or without ``_total``)."""
    fam = families(url)[name.removesuffix("_total")]
    wanted = {name, name.removesuffix("_total") + "_total"}
    return [(s.labels, s.value) for s in fam.samples if s.name in wanted]  # type: ignore[attr-defined]


def test_vllm_names_types_labels_and_buckets() -> None:
    with sim_fleet(replicas=1) as fleet:
        load(fleet, 4, tokens=8)
        fams = families(fleet.url("replica-0-metrics"))
        for name, kind in VLLM.items():
            assert fams[name].type == kind, name  # type: ignore[attr-defined]
        running = fams["vllm:num_requests_running"].samples[0]  # type: ignore[attr-defined]
        assert running.labels == {"model_name": MODEL, "engine": "0"}
        for name, buckets in (
            ("vllm:time_to_first_token_seconds", TTFT_BUCKETS),
            ("vllm:inter_token_latency_seconds", ITL_BUCKETS),
            ("vllm:e2e_request_latency_seconds", E2E_BUCKETS),
        ):
            les = [
                float(s.labels["le"])
                for s in fams[name].samples  # type: ignore[attr-defined]
                if s.name.endswith("_bucket")
            ]
            assert les == [*buckets, float("inf")]
        assert 2.0 not in TTFT_BUCKETS  # vLLM's TTFT histogram has no le="2" bucket
        success = [
            (s.labels["finished_reason"], s.value)  # type: ignore[attr-defined]
            for s in fams["vllm:request_success"].samples
            if s.name == "vllm:request_success_total"
        ]
        assert success == [("length", 4.0)]
        gen = sample(fleet.url("replica-0-metrics"), "vllm:generation_tokens_total")
        assert gen[0][1] == 32
        http = [
            s
            for s in fams["http_requests"].samples  # type: ignore[attr-defined]
            if s.name == "http_requests_total"
        ]
        assert http[0].labels == {"handler": "/v1/completions", "method": "POST", "status": "2xx"}


def test_dcgm_names_and_labels_follow_load() -> None:
    with sim_fleet(replicas=2, dcgm_interval=0.2) as fleet:
        url = fleet.url("dcgm-metrics")
        fams = families(url)
        for name in DCGM:
            assert name in fams, name
        labels, _ = sample(url, "DCGM_FI_DEV_GPU_UTIL")[0]
        assert set(labels) == {"gpu", "UUID", "pci_bus_id", "device", "modelName", "hostname"}
        assert labels["modelName"] == "NVIDIA H100 80GB HBM3"
        assert fams["DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"].type == "counter"  # type: ignore[attr-defined]
        idle = {
            n: max(v for _, v in sample(url, n))
            for n in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_FB_USED")
        }
        energy_idle = sum(v for _, v in sample(url, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION"))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            running = pool.submit(load, fleet, 32, tokens=160)
            busy = dict(idle)
            while not running.done():  # sample while the batch runs, however slowly it starts
                busy = {n: max(busy[n], *(v for _, v in sample(url, n))) for n in idle}
                if all(busy[n] > idle[n] for n in idle if n != "DCGM_FI_DEV_FB_USED"):
                    break
                time.sleep(0.1)
            running.result()
        assert busy["DCGM_FI_DEV_GPU_UTIL"] > idle["DCGM_FI_DEV_GPU_UTIL"]
        assert busy["DCGM_FI_DEV_POWER_USAGE"] > idle["DCGM_FI_DEV_POWER_USAGE"]
        assert sum(v for _, v in sample(url, "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION")) > energy_idle


def test_prometheus_scrapes_the_sim_and_answers_promql(tmp_path: Path) -> None:
    with (
        sim_fleet(replicas=2) as fleet,
        prometheus(
            tmp_path,
            {
                "vllm": fleet.url("replica-0-metrics"),
                "vllm1": fleet.url("replica-1-metrics"),
                "dcgm": fleet.url("dcgm-metrics"),
            },
        ) as prom,
    ):
        up = prom.wait_for('sum(up{job=~"vllm|vllm1|dcgm"}) == 3')
        assert float(up[0]["value"][1]) == 3
        load(fleet, 6, tokens=10)
        total = prom.wait_for("sum(vllm:generation_tokens_total) >= 60", timeout=20)
        assert float(total[0]["value"][1]) == 60
        gpus = prom.wait_for("count(DCGM_FI_DEV_POWER_USAGE) by (modelName)")
        assert gpus[0]["metric"]["modelName"] == "NVIDIA H100 80GB HBM3"
        assert float(gpus[0]["value"][1]) == 2
        ratio = prom.wait_for(
            'sum(vllm:time_to_first_token_seconds_bucket{le="0.5"}) / '
            "sum(vllm:time_to_first_token_seconds_count)"
        )
        assert 0 < float(ratio[0]["value"][1]) <= 1
