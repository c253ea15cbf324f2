"""The virtual-time driver and the real-time server agree on the same workload.

On a Poisson workload of about 40 requests at 10 req/s, the real-time server is never faster
than the model: mean E2E at least 90% of the virtual one, mean TTFT at least 80% - 10 ms (the
engines draw their jitter from different seeds). It may be slower: it adds HTTP, SSE and
event-loop time, and on an overloaded host each engine step starts late, by design, as a real
server's would (1.3-1.7x seen beside a busy loop with load average 7 on 2 cores). So the bound
from above is generous, 2.5x: it still fails a real-time path that, say, decodes token by
token without batching or pays prefill twice.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time

import aiohttp
from tests._servers import sim_fleet

from perfops.sim import poisson_workload, serving_profile, simulate

MODEL = "llama-3.1-8b"


async def replay(
    url: str, arrivals: list[float], prompt: int, output: int
) -> list[tuple[float, float]]:
    """Send each request at its arrival time; (TTFT, E2E) measured from that time."""
    rng = random.Random(1)

    async def one(session: aiohttp.ClientSession, at: float, t0: float) -> tuple[float, float]:
        await asyncio.sleep(max(0.0, t0 + at - time.perf_counter()))
        sent = t0 + at
        body = {
            "model": MODEL,
            "prompt": [rng.randrange(100_000) for _ in range(prompt)],
            "max_tokens": output,
            "stream": True,
        }
        first = None
        async with session.post(url + "/completions", json=body) as resp:
            assert resp.status == 200, await resp.text()
            async for line in resp.content:
                if line.startswith(b"data: {") and json.loads(line[6:])["choices"][0]["text"]:
                    first = first or time.perf_counter()
        assert first is not None
        return first - sent, time.perf_counter() - sent

    async with aiohttp.ClientSession() as session:
        t0 = time.perf_counter() + 0.05
        return await asyncio.gather(*(one(session, a, t0) for a in arrivals))


def test_virtual_and_real_time_agree() -> None:
    workload = poisson_workload(10.0, 4.0, prompt_tokens=512, output_tokens=48, seed=3)
    assert len(workload) >= 25
    virtual = simulate(workload, serving_profile("H100-SXM", MODEL), seed=0)
    with sim_fleet(replicas=1) as fleet:
        measured = asyncio.run(
            replay(fleet.fleet.url("replica-0") + "/v1", [w.arrival for w in workload], 512, 48)
        )
    real_ttft = statistics.mean(m[0] for m in measured)
    real_e2e = statistics.mean(m[1] for m in measured)
    virt_ttft = statistics.mean(t.ttft for t in virtual.timings)
    virt_e2e = statistics.mean(t.e2e for t in virtual.timings)
    assert 0.9 * virt_e2e <= real_e2e <= 2.5 * virt_e2e, (real_e2e, virt_e2e)
    assert 0.8 * virt_ttft - 0.010 <= real_ttft <= 2.5 * virt_ttft + 0.010, (real_ttft, virt_ttft)
