"""The simulated GPU inference engine behind ``perfops sim``.

A pure, clock-free latency model of vLLM continuous batching (:class:`Engine`), GPU/model
profiles loaded from a cited data file (:func:`serving_profile`), a virtual-time driver that
runs fleets of engines as fast as the CPU allows (:func:`simulate`), and a vocabulary-free
approximation of the Llama 3 tokenizer (:func:`count_tokens`).
"""

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

__all__ = [
    "DecodePlan",
    "DecodeRun",
    "Engine",
    "EngineConfig",
    "EngineStats",
    "FinishedRequest",
    "GpuProfile",
    "ModelProfile",
    "Percentiles",
    "ProfileCatalog",
    "Request",
    "RequestRejected",
    "RequestTiming",
    "RequestTimings",
    "ServingProfile",
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
    "serving_profile",
    "simulate",
    "token_ids",
    "tokenize",
]
