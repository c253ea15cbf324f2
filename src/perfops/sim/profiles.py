"""GPU, model and step-time profiles of the simulator, loaded from ``profiles.yaml``.

The data file is versioned and cites the public figures each number comes from. This module
validates it once into frozen pydantic models; the latency model only ever sees a
:class:`ServingProfile` (one GPU type, one model, one tensor-parallel degree).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from perfops.errors import ConfigError, Problem

__all__ = [
    "DEFAULT_PROFILES_PATH",
    "GpuProfile",
    "ModelProfile",
    "ProfileCatalog",
    "ServingProfile",
    "StepCoefficients",
    "load_profiles",
    "serving_profile",
]

DEFAULT_PROFILES_PATH = Path(__file__).with_name("profiles.yaml")
_GIB = 1024**3
_MIB = 1024**2


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GpuProfile(_Frozen):
    """One GPU type: memory, bandwidth, compute and power envelope."""

    name: str = ""
    dcgm_model_name: str
    memory_mib: int = Field(gt=0)
    memory_bandwidth_gbps: float = Field(gt=0)
    bf16_dense_tflops: float = Field(gt=0)
    effective_prefill_tflops: float = Field(gt=0)
    interconnect: Literal["nvlink", "pcie"]
    sm_count: int = Field(gt=0)
    max_sm_clock_mhz: int = Field(gt=0)
    max_mem_clock_mhz: int = Field(gt=0)
    tdp_w: float = Field(gt=0)
    peak_power_w: float = Field(gt=0)
    idle_power_w: float = Field(gt=0)
    source: tuple[str, ...]

    @property
    def memory_bytes(self) -> int:
        return self.memory_mib * _MIB


class ModelProfile(_Frozen):
    """One model architecture: what sets its weight and KV-cache footprint."""

    name: str = ""
    hf_id: str
    params_b: float = Field(gt=0)
    num_layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    num_kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    dtype_bytes: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    max_context: int = Field(gt=0)
    source: tuple[str, ...]

    @property
    def weight_bytes(self) -> int:
        return int(self.params_b * 1e9 * self.dtype_bytes)

    @property
    def kv_bytes_per_token(self) -> int:
        """K and V for every layer, summed over all tensor-parallel shards."""
        return 2 * self.num_layers * self.num_kv_heads * self.head_dim * self.dtype_bytes


class StepCoefficients(_Frozen):
    """``step_s = a + b*prefill_tokens + c*kv_tokens_attended + d*num_seqs`` (seconds)."""

    a: float = Field(gt=0)
    b: float = Field(ge=0)
    c: float = Field(ge=0)
    d: float = Field(ge=0)
    idle_ttft_1k_ms: float = Field(gt=0)
    idle_itl_ms: float = Field(gt=0)
    source: str = Field(min_length=20)


class ServingProfile(_Frozen):
    """A model served on ``tensor_parallel`` GPUs of one type, with its step coefficients."""

    gpu: GpuProfile
    model: ModelProfile
    tensor_parallel: int = Field(ge=1)
    coefficients: StepCoefficients

    @property
    def name(self) -> str:
        return f"{self.model.name}@{self.gpu.name}x{self.tensor_parallel}"

    def bytes_per_block(self, block_size: int) -> int:
        """KV bytes of one block on ONE GPU (the KV heads are split across the TP shards)."""
        return block_size * self.model.kv_bytes_per_token // self.tensor_parallel

    def kv_cache_bytes(self, gpu_memory_utilization: float) -> int:
        """KV-cache bytes on ONE GPU: its memory budget less its shard of the weights."""
        budget = self.gpu.memory_bytes * gpu_memory_utilization
        return int(budget - self.model.weight_bytes / self.tensor_parallel)

    def kv_capacity_blocks(self, gpu_memory_utilization: float, block_size: int) -> int:
        """Blocks the KV cache holds (<= 0 when the weights alone do not fit)."""
        return self.kv_cache_bytes(gpu_memory_utilization) // self.bytes_per_block(block_size)


class _Source(_Frozen):
    id: str
    text: str = Field(min_length=20)


class _Deployment(StepCoefficients):
    gpu: str
    model: str
    tensor_parallel: int = Field(ge=1)


class _Unsupported(_Frozen):
    gpu: str
    model: str
    tensor_parallel: int = Field(ge=1)
    reason: str


class _ProfileFile(_Frozen):
    version: int
    method: dict[str, object]
    sources: tuple[_Source, ...] = Field(min_length=1)
    gpus: dict[str, GpuProfile]
    models: dict[str, ModelProfile]
    deployments: tuple[_Deployment, ...]
    unsupported: tuple[_Unsupported, ...] = ()

    @model_validator(mode="after")
    def _check_references(self) -> _ProfileFile:
        known = {s.id for s in self.sources}
        cited = [c for g in self.gpus.values() for c in g.source]
        cited += [c for m in self.models.values() for c in m.source]
        if missing := sorted(set(cited) - known):
            raise ValueError(f"cites unknown source ids {missing}; add them under `sources:`")
        pairs = [(d.gpu, d.model) for d in self.deployments]
        pairs += [(u.gpu, u.model) for u in self.unsupported]
        for gpu, model in pairs:
            if gpu not in self.gpus or model not in self.models:
                raise ValueError(f"{gpu}/{model}: unknown gpu or model name")
        return self


_CHECK_UTILIZATION = 0.9
_CHECK_BLOCK_SIZE = 16


class ProfileCatalog:
    """Every GPU, model and deployment in one validated profile file."""

    __slots__ = ("deployments", "gpus", "models", "path", "sources", "unsupported", "version")

    def __init__(self, data: _ProfileFile, path: Path) -> None:
        self.path = path
        self.version = data.version
        self.sources = {s.id: s.text for s in data.sources}
        self.gpus = {k: g.model_copy(update={"name": k}) for k, g in data.gpus.items()}
        self.models = {k: m.model_copy(update={"name": k}) for k, m in data.models.items()}
        self.unsupported = {(u.gpu, u.model, u.tensor_parallel): u.reason for u in data.unsupported}
        self.deployments = {
            (d.gpu, d.model, d.tensor_parallel): ServingProfile(
                gpu=self.gpus[d.gpu],
                model=self.models[d.model],
                tensor_parallel=d.tensor_parallel,
                coefficients=StepCoefficients.model_validate(
                    d.model_dump(exclude={"gpu", "model", "tensor_parallel"})
                ),
            )
            for d in data.deployments
        }

    def names(self) -> list[str]:
        """``gpu/model/tpN`` for every deployment, sorted."""
        return sorted(f"{g}/{m}/tp{tp}" for g, m, tp in self.deployments)

    def get(self, gpu: str, model: str, tensor_parallel: int = 1) -> ServingProfile:
        """The deployment, or a :class:`ConfigError` that lists the valid choices."""
        found = self.deployments.get((gpu, model, tensor_parallel))
        if found is not None:
            return found
        raise ConfigError(
            self._lookup_problems(gpu, model, tensor_parallel),
            source=f"simulator profile {gpu}/{model}/tp{tensor_parallel}",
        )

    def _lookup_problems(self, gpu: str, model: str, tp: int) -> list[Problem]:
        where = str(self.path)
        problems = []
        if gpu not in self.gpus:
            problems.append(
                Problem(
                    where,
                    "gpu",
                    f"unknown GPU {gpu!r}",
                    f"valid GPUs: {', '.join(sorted(self.gpus))}",
                )
            )
        if model not in self.models:
            problems.append(
                Problem(
                    where,
                    "model",
                    f"unknown model {model!r}",
                    f"valid models: {', '.join(sorted(self.models))}",
                )
            )
        if not problems:
            tps = sorted(t for g, m, t in self.deployments if (g, m) == (gpu, model))
            reason = self.unsupported.get((gpu, model, tp)) or self._fit_reason(gpu, model, tp)
            hint = (
                f"{model} on {gpu} runs at tensor_parallel {', '.join(map(str, tps))}"
                if tps
                else f"{model} has no profile on {gpu}"
            )
            problems.append(
                Problem(
                    where,
                    "tensor_parallel",
                    f"{model} on {gpu} at tensor_parallel {tp} is not supported: {reason}",
                    f"{hint}; valid deployments: {', '.join(self.names())}",
                )
            )
        return problems

    def _fit_reason(self, gpu: str, model: str, tp: int) -> str:
        g, m = self.gpus[gpu], self.models[model]
        budget = g.memory_bytes * tp * _CHECK_UTILIZATION
        if m.weight_bytes >= budget:
            return (
                f"{m.weight_bytes / 1e9:.1f} GB of weights exceed {tp} x {g.memory_mib} MiB"
                f" x {_CHECK_UTILIZATION} = {budget / 1e9:.1f} GB"
            )
        return "no step coefficients were fitted for it"


def _validate(data: object, path: Path) -> _ProfileFile:
    try:
        parsed = _ProfileFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(str(path), ".".join(map(str, e["loc"])), e["msg"], "fix the profile file")
            for e in exc.errors()
        ]
        raise ConfigError(problems, source=str(path)) from None
    problems = []
    for d in parsed.deployments:
        profile = ServingProfile(
            gpu=parsed.gpus[d.gpu],
            model=parsed.models[d.model],
            tensor_parallel=d.tensor_parallel,
            coefficients=d,
        )
        if profile.kv_capacity_blocks(_CHECK_UTILIZATION, _CHECK_BLOCK_SIZE) <= 0:
            problems.append(
                Problem(
                    str(path),
                    f"deployments.{d.gpu}/{d.model}/tp{d.tensor_parallel}",
                    "the weights leave no memory for the KV cache",
                    "move it to `unsupported:`",
                )
            )
    if problems:
        raise ConfigError(problems, source=str(path))
    return parsed


def load_profiles(path: Path | None = None) -> ProfileCatalog:
    """Load and validate a profile file (the bundled one by default; that one is cached)."""
    if path is None:
        return _bundled()
    return _load(path)


@cache
def _bundled() -> ProfileCatalog:
    return _load(DEFAULT_PROFILES_PATH)


def _load(path: Path) -> ProfileCatalog:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            [
                Problem(
                    str(path),
                    "",
                    f"cannot read profiles: {exc}",
                    "pass a readable YAML profile file",
                )
            ],
            source=str(path),
        ) from None
    return ProfileCatalog(_validate(data, path), path)


def serving_profile(gpu: str, model: str, tensor_parallel: int = 1) -> ServingProfile:
    """The bundled profile for ``model`` on ``tensor_parallel`` GPUs of type ``gpu``."""
    return load_profiles().get(gpu, model, tensor_parallel)
