"""The front port's balancing: least outstanding requests among the replicas that are up and
healthy, as a router in front of vLLM replicas does."""

from __future__ import annotations

from collections.abc import Sequence

from perfops.sim.realtime import Replica

__all__ = ["Balancer"]


class Balancer:
    def __init__(self, replicas: Sequence[Replica]) -> None:
        self.replicas = replicas

    def pick(self) -> Replica | None:
        """The ready replica with the fewest requests in flight (lowest index on a tie)."""
        ready = [r for r in self.replicas if r.healthy and not r.down]
        return min(ready, key=lambda r: (r.outstanding, r.index)) if ready else None

    def healthy(self, replica: int | None) -> bool:
        """Whether ``replica`` can serve; for the front (None), whether any can."""
        if replica is None:
            return self.pick() is not None
        r = self.replicas[replica]
        return r.healthy and not r.down
