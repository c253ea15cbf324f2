"""The NVML collector: real GPUs only (no fake NVML). Without one it says so clearly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.integration.telemetry.test_collect import runtime

from perfops.telemetry.nvml import NvmlUnavailable, nvml_exposition
from perfops.telemetry.runner import TargetSpec


def _gpu_present() -> bool:
    try:
        nvml_exposition()
    except NvmlUnavailable:
        return False
    return True


HAS_GPU = _gpu_present()


@pytest.mark.skipif(HAS_GPU, reason="this host has a GPU")
def test_without_a_gpu_the_target_is_down_with_a_clear_reason(tmp_path: Path) -> None:
    from perfops.app.collect import run_collect

    with pytest.raises(NvmlUnavailable, match="perfops sim"):
        nvml_exposition()
    rt = runtime(tmp_path)
    runner = asyncio.run(
        run_collect(rt, [TargetSpec("gpu", "nvml://local", "nvml", 0.5, 2)], duration=0.8)
    )
    assert runner.health["gpu"].up is False
    assert "NVML" in (runner.health["gpu"].last_error or "")


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_GPU, reason="needs an NVIDIA GPU and driver")
def test_nvml_yields_canonical_gpu_metrics(tmp_path: Path) -> None:
    from perfops.app.collect import run_collect

    rt = runtime(tmp_path)
    asyncio.run(run_collect(rt, [TargetSpec("gpu", "nvml://local", "nvml", 0.5, 5)], duration=1.2))
    for metric in ("gpu.util", "gpu.fb_used_bytes", "gpu.power_watts", "gpu.temp_celsius"):
        assert rt.store.timeseries.series(metric), metric
    used = (
        rt.store.timeseries.query_samples("gpu.fb_used_bytes", 0, 2**62).column("value").to_pylist()
    )
    assert min(used) > 0
