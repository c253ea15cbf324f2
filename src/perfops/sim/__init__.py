"""The simulated GPU inference engine behind ``perfops sim``.

A pure, clock-free latency model of vLLM continuous batching (:class:`Engine`), GPU/model
profiles loaded from a cited data file (:func:`serving_profile`), a virtual-time driver that
runs fleets of engines as fast as the CPU allows (:func:`simulate`), and a vocabulary-free
approximation of the Llama 3 tokenizer (:func:`count_tokens`). The served fleet
(:class:`Fleet`, run in-process by :func:`running_fleet` or as a child process by
:class:`SimProcess`), its fault board and workload files are imported on first use: they
bring aiohttp in.
"""

from typing import TYPE_CHECKING

from perfops._internal.lazy_exports import lazy_exports
from perfops.sim._kvcache import prefix_block_hashes
from perfops.sim._records import (
    DecodePlan,
    DecodeRun,
    EngineConfig,
    EngineStats,
    FinishedRequest,
    Request,
    StepResult,
)
from perfops.sim._summary import Percentiles, VirtualSummary
from perfops.sim.model import Engine, RequestRejected
from perfops.sim.profiles import (
    GpuProfile,
    ModelProfile,
    ProfileCatalog,
    ServingProfile,
    StepCoefficients,
    load_profiles,
    serving_profile,
)
from perfops.sim.tokenizer import (
    count_chat_tokens,
    count_tokens,
    filler_text,
    filler_token,
    token_ids,
    tokenize,
)
from perfops.sim.virtual import (
    RequestTiming,
    RequestTimings,
    VirtualResult,
    WorkloadRequest,
    poisson_workload,
    simulate,
)

if TYPE_CHECKING:
    from perfops.sim.background import FleetThread, SimProcess, running_fleet
    from perfops.sim.faults import ActiveFault, FaultBoard, FaultIdTaken
    from perfops.sim.server import Fleet, FleetOptions
    from perfops.sim.workload_file import read_workload, run_file

__all__ = [
    "ActiveFault",
    "DecodePlan",
    "DecodeRun",
    "Engine",
    "EngineConfig",
    "EngineStats",
    "FaultBoard",
    "FaultIdTaken",
    "FinishedRequest",
    "Fleet",
    "FleetOptions",
    "FleetThread",
    "GpuProfile",
    "ModelProfile",
    "Percentiles",
    "ProfileCatalog",
    "Request",
    "RequestRejected",
    "RequestTiming",
    "RequestTimings",
    "ServingProfile",
    "SimProcess",
    "StepCoefficients",
    "StepResult",
    "VirtualResult",
    "VirtualSummary",
    "WorkloadRequest",
    "count_chat_tokens",
    "count_tokens",
    "filler_text",
    "filler_token",
    "load_profiles",
    "poisson_workload",
    "prefix_block_hashes",
    "read_workload",
    "run_file",
    "running_fleet",
    "serving_profile",
    "simulate",
    "token_ids",
    "tokenize",
]

__getattr__ = lazy_exports(
    globals(),
    {
        "background": ("FleetThread", "SimProcess", "running_fleet"),
        "faults": ("ActiveFault", "FaultBoard", "FaultIdTaken"),
        "server": ("Fleet", "FleetOptions"),
        "workload_file": ("read_workload", "run_file"),
    },
)
