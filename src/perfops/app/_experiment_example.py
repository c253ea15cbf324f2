"""`perfops chaos init`: a complete, commented experiment for the workspace's first service and
its SLOs, that ``perfops chaos validate`` accepts as written.

Every field of the format appears, set or commented out with an example value. The fault is
``sim.ttft_latency`` (``perfops sim``'s admin API) adding half the threshold of the service's
first latency SLO to the first token, so that the hypothesis should hold; the stop
conditions end the run early if it does not.
"""

from __future__ import annotations

from perfops.app.runtime import Runtime
from perfops.config.models import SLO, AvailabilitySLI, GoodputSLI, LatencySLI, Service
from perfops.errors import UsageError

__all__ = ["example_experiment"]


def example_experiment(rt: Runtime) -> str:
    """The YAML text; a UsageError when perfops.yaml has no service."""
    if not rt.config.services:
        raise UsageError(
            "perfops.yaml has no service to run an experiment against",
            hint="add one under services: (`perfops init` writes an example)",
        )
    svc = rt.config.services[0]
    slos = [s for s in rt.config.slos if s.service == svc.name and _per_request(s)]
    latency = next((s for s in slos if isinstance(s.sli, LatencySLI)), None)
    seconds = round(latency.sli.threshold / 2, 3) if latency else 0.2  # type: ignore[union-attr]
    return "\n".join([
        _head(svc, seconds, latency),
        _hypothesis(slos, svc),
        _load(svc),
        _method(svc, seconds),
        _stop(slos),
        _tail(),
    ])  # fmt: skip


def _per_request(slo: SLO) -> bool:
    return isinstance(slo.sli, LatencySLI | GoodputSLI | AvailabilitySLI)


def _head(svc: Service, seconds: float, latency: SLO | None) -> str:
    held = f"Does {latency.name} hold" if latency else "Do the requests still succeed"
    return f"""\
# A chaos experiment for `perfops chaos run`, written by `perfops chaos init`.
# `perfops chaos validate FILE` checks it against perfops.yaml; every field is described in
# the perfops docs (docs/experiments.md). Durations: 500ms, 5s, 2m.
apiVersion: perfops/v1
kind: Experiment
title: {svc.name} with a first token {seconds * 1000:g} ms slower
description: >-
  Every replica of {svc.name} takes {seconds:g} s longer to its first token. {held}?
tags: [latency, example]
"""


def _hypothesis(slos: list[SLO], svc: Service) -> str:
    if slos:
        lines = "\n".join(f"    - {{slo: {s.name}, max_burn_rate: 2}}" for s in slos)
        listed = f"  slos:                          # burn rate over the phase's requests\n{lines}"
    else:
        listed = (
            "  slos: []                      # none of this service's SLOs is judged per request\n"
            "  # slos: [{slo: NAME, max_burn_rate: 2}]   # a latency, goodput or availability SLO"
        )
    return f"""\
# The steady state, checked three times: over the baseline load (not met: the run is aborted
# before any fault), over the experiment window with its faults, and over the recovery load
# after every fault is reverted.
hypothesis:
{listed}
  max_error_ratio: 0.05           # at most 5% of the phase's requests fail
  # min_goodput: 0.9              # share of requests meeting load.slo (else every SLO above)
  # probes:                       # more checks that must hold in each phase
  #   - {{kind: http, name: models, url: '{svc.endpoint}/models', expect_status: [200]}}
  #   - {{kind: promql, url: 'http://127.0.0.1:9090', query: 'sum(up)', min: 1}}
  #   - {{kind: lake, sql: 'SELECT count(*) FROM runs', min: 1}}
  baseline: 5s                    # load before the faults
  recovery: 5s                    # load after the rollback
"""


def _load(svc: Service) -> str:
    return f"""\
# The open-loop load (Poisson arrivals) that runs through all three phases.
load:
  service: {svc.name}
  rate: 4                         # requests per second
  duration: 20s                   # the experiment window, in which the faults land
  prompt_tokens: 256
  max_tokens: 32
  # slo: ttft_p99=500ms           # per-request thresholds, for min_goodput
  seed: 0
"""


def _method(svc: Service, seconds: float) -> str:
    token = "the sim's --token" + (f" (default: {svc.api_key_env})" if svc.api_key_env else "")
    return f"""\
# The faults: each goes in at its offset from the start of the window and is reverted at its
# end (journaled before it lands; `perfops chaos recover` reverts what a killed run left).
method:
  - name: slow-first-token
    kind: sim.ttft_latency          # `perfops sim`'s admin API; every kind is in the docs
    params: {{seconds: {seconds:g}}}         # add replica: 0 to slow one replica only
    start: 5s
    duration: 10s
    # target: {svc.name}                  # another service of perfops.yaml (default: load.service)
    # token_env: SIM_TOKEN          # variable holding {token}
  # - {{kind: proxy.latency, params: {{api: 'http://127.0.0.1:8474', proxy: proxy, latency: 100}},
  #    start: 5s, duration: 5s}}   # on `perfops chaos proxy`; token_env: its --token
  # - {{kind: process.stop, params: {{pidfile: /run/engine.pid}}, start: 5s, duration: 3s}}
"""


def _stop(slos: list[SLO]) -> str:
    first = slos[0].name if slos else None
    burn = f"  - {{kind: burn_rate, slo: {first}, above: 14.4, window: 10s}}  # a page\n"
    burn = burn if first else ""
    return f"""\
# Stop conditions end the run early (verdict: aborted); the faults are reverted at once.
stop:
{burn}  - {{kind: error_ratio, above: 0.5, window: 10s}}
  # - {{kind: budget_remaining, slo: {first or "NAME"}, below_pct: 10}}
"""


def _tail() -> str:
    return """\
# Your own actions after the faults are reverted (the faults always are).
# rollbacks:
#   - {kind: http, url: 'http://127.0.0.1:8080/scale', method: POST, body: {replicas: 2}}
weight: 1                         # its weight in a game day's resilience score
"""
