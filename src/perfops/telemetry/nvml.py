"""NVML as a telemetry source for hosts without dcgm-exporter.

It reads the GPUs through nvidia-ml-py and writes what it reads under dcgm-exporter's names
and labels, so the same catalog maps both to the same canonical metrics. NVML has no DCGM
profiling counters (SM, tensor, DRAM activity) and no XID history: those stay absent, and
consumers fall back as they do for a dcgm-exporter without SM_ACTIVE.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from perfops._internal.escape import exposition_label_value
from perfops.errors import PerfopsError

__all__ = ["NvmlUnavailable", "nvml_exposition"]

_MIB = 1024 * 1024


class NvmlUnavailable(PerfopsError):
    """No NVIDIA driver, library or GPU on this host."""


def _load() -> Any:
    try:
        import pynvml  # type: ignore[import-untyped]
    except ImportError:
        raise NvmlUnavailable(
            "nvidia-ml-py is not installed", hint="pip install 'perfops[nvml]'"
        ) from None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise NvmlUnavailable(
            f"NVML cannot start here: {exc}",
            hint="this host has no NVIDIA driver or GPU; scrape "
            "dcgm-exporter, or use `perfops sim` for a simulated fleet",
        ) from None
    return pynvml


def _fields(nv: Any, h: Any) -> dict[str, Callable[[], float]]:
    return {
        "DCGM_FI_DEV_GPU_UTIL": lambda: nv.nvmlDeviceGetUtilizationRates(h).gpu,
        "DCGM_FI_DEV_FB_USED": lambda: nv.nvmlDeviceGetMemoryInfo(h).used // _MIB,
        "DCGM_FI_DEV_FB_FREE": lambda: nv.nvmlDeviceGetMemoryInfo(h).free // _MIB,
        "DCGM_FI_DEV_POWER_USAGE": lambda: nv.nvmlDeviceGetPowerUsage(h) / 1000.0,
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": lambda: nv.nvmlDeviceGetTotalEnergyConsumption(h),
        "DCGM_FI_DEV_GPU_TEMP": lambda: nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU),
        "DCGM_FI_DEV_SM_CLOCK": lambda: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM),
        "DCGM_FI_DEV_MEM_CLOCK": lambda: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM),
    }


def _text(value: Any) -> str:
    """An NVML string (or the hostname) as an escaped label value of the text format."""
    return exposition_label_value(value.decode() if isinstance(value, bytes) else str(value))


def nvml_exposition(hostname: str | None = None) -> str:
    """One reading of every GPU, as dcgm-exporter text. Raises NvmlUnavailable without a GPU."""
    nv = _load()
    host = hostname or socket.gethostname()
    lines: dict[str, list[str]] = {}
    try:
        for index in range(nv.nvmlDeviceGetCount()):
            h = nv.nvmlDeviceGetHandleByIndex(index)
            labels = (
                f'gpu="{index}",UUID="{_text(nv.nvmlDeviceGetUUID(h))}",'
                f'pci_bus_id="{_text(nv.nvmlDeviceGetPciInfo(h).busId)}",'
                f'device="nvidia{index}",modelName="{_text(nv.nvmlDeviceGetName(h))}",'
                f'Hostname="{_text(host)}"'
            )
            for name, read in _fields(nv, h).items():
                try:
                    value = float(read())
                except nv.NVMLError:  # not supported on this board: leave it out
                    continue
                lines.setdefault(name, []).append(f"{name}{{{labels}}} {value:g}")
    finally:
        nv.nvmlShutdown()
    out = []
    for name, samples in lines.items():
        kind = "counter" if name.endswith("ENERGY_CONSUMPTION") else "gauge"
        out += [f"# TYPE {name} {kind}", *samples]
    return "\n".join(out) + "\n"
