"""dcgm-exporter-compatible GPU telemetry derived from the simulated engine.

Each simulated GPU reports what dcgm-exporter's default counters report, with its labels
(``gpu``, ``UUID``, ``pci_bus_id``, ``device``, ``modelName``, ``hostname``). Values follow the
model: utilisation and power follow the batch, memory follows the KV cache, temperature
follows power with a thermal lag, energy integrates power, clocks drop under a throttle, and
``DCGM_FI_DEV_XID_ERRORS`` holds the value of the last XID (not a count), as the real one does.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from dataclasses import dataclass, replace

from perfops._internal.escape import exposition_label_value
from perfops.sim.profiles import GpuProfile

__all__ = ["GpuActivity", "GpuState", "advance", "exposition", "new_gpu"]

_MIB = 1024 * 1024
_AMBIENT_C = 28.0
_THERMAL_TAU_S = 40.0
_C_PER_WATT = 0.075  # steady-state rise above ambient per watt (H100 SXM ~ 75 C at 700 W)
_CONTEXT_MIB = 1_536  # CUDA context, cuBLAS workspaces, activations


@dataclass(frozen=True, slots=True)
class GpuActivity:
    """What the engine did on this GPU over the last interval."""

    busy: float  # fraction of the interval with a step running (0..1)
    compute: float  # share of busy time in compute-bound prefill (0..1); the rest is decode
    kv_used_bytes: int
    weight_bytes: int  # this GPU's shard
    clock_factor: float = 1.0  # < 1 under a throttle fault
    xid: int = 0  # the XID code injected on this GPU, 0 when healthy


@dataclass(frozen=True, slots=True)
class GpuState:
    index: int
    uuid: str
    pci_bus_id: str
    hostname: str
    model_name: str
    util_pct: float = 0.0
    gr_active: float = 0.0
    sm_active: float = 0.0
    tensor_active: float = 0.0
    dram_active: float = 0.0
    fb_used_mib: float = 0.0
    fb_free_mib: float = 0.0
    power_w: float = 0.0
    energy_mj: float = 0.0
    temp_c: float = _AMBIENT_C
    sm_clock_mhz: float = 0.0
    mem_clock_mhz: float = 0.0
    xid: int = 0
    clocks_event_reasons: int = 0


# DCGM_FI_DEV_CLOCKS_EVENT_REASONS bits (nvml.h, nvmlClocksEventReason*): GPU idle 0x1,
# SW power cap 0x4, HW slowdown 0x8, SW thermal slowdown 0x20, HW thermal slowdown 0x40.
_IDLE_REASON = 0x1
_THROTTLE_REASONS = 0x8 | 0x20


def new_gpu(index: int, profile: GpuProfile, hostname: str, seed: int) -> GpuState:
    """A GPU at rest; its UUID is stable for a seed, like a real board's."""
    digest = hashlib.blake2b(f"{seed}/{hostname}/{index}".encode(), digest_size=16).digest()
    ident = uuid.UUID(bytes=digest)
    return GpuState(
        index=index,
        uuid=f"GPU-{ident}",
        pci_bus_id=f"00000000:{0x18 + index * 0x10:02X}:00.0",
        hostname=hostname,
        model_name=profile.dcgm_model_name,
        power_w=profile.idle_power_w,
        temp_c=_AMBIENT_C + _C_PER_WATT * profile.idle_power_w,
        fb_free_mib=profile.memory_mib,
        sm_clock_mhz=profile.max_sm_clock_mhz,
        mem_clock_mhz=profile.max_mem_clock_mhz,
    )


def advance(state: GpuState, activity: GpuActivity, profile: GpuProfile, dt: float) -> GpuState:
    """The GPU's readings after ``dt`` seconds of ``activity`` (a pure function)."""
    busy = min(1.0, max(0.0, activity.busy))
    compute = min(1.0, max(0.0, activity.compute))
    # Prefill GEMMs keep most SMs and the tensor pipes busy; decode is bound by HBM bandwidth.
    sm = busy * (0.35 + 0.55 * compute)
    tensor = busy * (0.08 + 0.55 * compute)
    dram = busy * (0.70 - 0.45 * compute)
    clock = activity.clock_factor
    dynamic = (profile.peak_power_w - profile.idle_power_w) * (0.25 * busy + 0.75 * sm)
    power = profile.idle_power_w + dynamic * clock**2
    used_mib = min(
        profile.memory_mib, _CONTEXT_MIB + (activity.weight_bytes + activity.kv_used_bytes) / _MIB
    )
    target = _AMBIENT_C + _C_PER_WATT * power
    temp = (
        target + (state.temp_c - target) * math.exp(-dt / _THERMAL_TAU_S)
        if dt > 0
        else state.temp_c
    )
    return replace(
        state,
        util_pct=round(100.0 * busy),  # any kernel running: reads 100 with idle SMs too
        gr_active=busy * 0.98,
        sm_active=sm,
        tensor_active=tensor,
        dram_active=dram,
        fb_used_mib=round(used_mib),
        fb_free_mib=round(profile.memory_mib - used_mib),
        power_w=power,
        energy_mj=state.energy_mj + power * dt * 1000.0,
        temp_c=temp,
        sm_clock_mhz=round(profile.max_sm_clock_mhz * clock),
        mem_clock_mhz=profile.max_mem_clock_mhz,
        xid=activity.xid if activity.xid else state.xid,
        clocks_event_reasons=(_THROTTLE_REASONS if clock < 1.0 else 0)
        | (_IDLE_REASON if busy == 0 else 0),
    )


_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz).", "sm_clock_mhz"),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz).", "mem_clock_mhz"),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C).", "temp_c"),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W).", "power_w"),
    (
        "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION",
        "counter",
        "Total energy consumption since boot (in mJ).",
        "energy_mj",
    ),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).", "util_pct"),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered.", "xid"),
    (
        "DCGM_FI_DEV_CLOCKS_EVENT_REASONS",
        "gauge",
        "Current clock event reasons (bitmask of nvmlClocksEventReason*).",
        "clocks_event_reasons",
    ),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB).", "fb_free_mib"),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB).", "fb_used_mib"),
    (
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        "gauge",
        "Ratio of time the graphics engine is active.",
        "gr_active",
    ),
    (
        "DCGM_FI_PROF_SM_ACTIVE",
        "gauge",
        "The ratio of cycles an SM has at least 1 warp assigned.",
        "sm_active",
    ),
    (
        "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
        "gauge",
        "Ratio of cycles the tensor (HMMA) pipe is active.",
        "tensor_active",
    ),
    (
        "DCGM_FI_PROF_DRAM_ACTIVE",
        "gauge",
        "Ratio of cycles the device memory interface is active sending or receiving data.",
        "dram_active",
    ),
)


def _fmt(value: float) -> str:
    if float(value).is_integer():
        return str(int(value))
    return repr(round(float(value), 6))


def exposition(gpus: list[GpuState]) -> str:
    """Prometheus text format 0.0.4, as dcgm-exporter writes it."""
    lines: list[str] = []
    for name, kind, doc, attr in _FIELDS:
        lines.append(f"# HELP {name} {doc}")
        lines.append(f"# TYPE {name} {kind}")
        for g in gpus:
            labels = (
                f'gpu="{g.index}",UUID="{g.uuid}",pci_bus_id="{g.pci_bus_id}",'
                f'device="nvidia{g.index}",modelName="{exposition_label_value(g.model_name)}",'
                f'hostname="{exposition_label_value(g.hostname)}"'
            )
            lines.append(f"{name}{{{labels}}} {_fmt(getattr(g, attr))}")
    return "\n".join(lines) + "\n"
