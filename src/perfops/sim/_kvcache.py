"""Paged KV-cache accounting with prefix caching, as vLLM v1 keeps it.

Blocks hold ``block_size`` tokens. A request owns *private* blocks (partial prompt blocks,
generated tokens) and references *shared* blocks, keyed by the chained hash of a full prompt
block. A shared block whose last user finishes stays cached but evictable (LRU); it still counts
as free, as in vLLM, where ``kv_cache_usage_perc`` counts only blocks some request holds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

__all__ = ["BlockPool", "prefix_block_hashes"]


def prefix_block_hashes(token_ids: Sequence[int], block_size: int = 16) -> tuple[int, ...]:
    """Chained hashes of the full blocks of ``token_ids`` (each covers every block before it).

    Two prompts share the first ``k`` hashes exactly when their first ``k * block_size`` tokens
    are equal, which is what prefix caching needs. Stable across processes (ints hash stably).
    """
    hashes: list[int] = []
    parent = 0
    for start in range(0, len(token_ids) - block_size + 1, block_size):
        parent = hash((parent, tuple(token_ids[start : start + block_size])))
        hashes.append(parent)
    return tuple(hashes)


class BlockPool:
    """Block counts and the prefix cache of one engine (the block contents are not modelled)."""

    __slots__ = ("_cache", "_evictable", "block_size", "evictions", "total", "used")

    def __init__(self, total: int, block_size: int) -> None:
        self.total = total
        self.block_size = block_size
        self.used = 0  # blocks referenced by at least one running request
        self.evictions = 0
        self._cache: dict[int, int] = {}  # block hash -> number of requests holding it
        self._evictable: OrderedDict[int, None] = OrderedDict()  # hashes nobody holds, LRU first

    @property
    def free(self) -> int:
        return self.total - self.used

    @property
    def usage(self) -> float:
        return min(1.0, self.used / self.total) if self.total > 0 else 1.0

    def blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.block_size)

    def match(self, hashes: Sequence[int], limit: int) -> tuple[int, int]:
        """(leading hashes cached, at most ``limit``; how many of those are evictable)."""
        hits = revived = 0
        cache = self._cache
        for h in hashes:
            if hits >= limit:
                break
            refs = cache.get(h)
            if refs is None:
                break
            hits += 1
            revived += refs == 0
        return hits, revived

    def acquire(self, hashes: Sequence[int]) -> None:
        """Reference cached blocks (found by :meth:`match`); evictable ones become used."""
        for h in hashes:
            refs = self._cache[h]
            if refs == 0:
                del self._evictable[h]
                self.used += 1
            self._cache[h] = refs + 1

    def allocate(self, blocks: int) -> bool:
        """Take ``blocks`` private blocks, evicting cached ones as needed; False if full."""
        if blocks > self.total - self.used:
            return False
        self.used += blocks
        if len(self._evictable) > self.total - self.used:
            self._evict_overflow()
        return True

    def publish(self, hashes: Sequence[int]) -> None:
        """Turn one private block per hash into a cached shared block.

        When another request already cached the same content, this request drops its copy and
        references the cached block instead.
        """
        cache = self._cache
        for h in hashes:
            refs = cache.get(h)
            if refs is None:
                cache[h] = 1
                continue
            if refs == 0:
                del self._evictable[h]
                self.used += 1
            cache[h] = refs + 1
            self.used -= 1

    def release(self, shared: Sequence[int], private: int) -> None:
        """Drop a request's blocks: private ones are freed, shared ones may stay cached."""
        cache = self._cache
        for h in reversed(shared):  # tail blocks become the first eviction candidates
            refs = cache[h] - 1
            cache[h] = refs
            if refs == 0:
                self._evictable[h] = None
                self.used -= 1
        self.used -= private
        if len(self._evictable) > self.total - self.used:
            self._evict_overflow()

    def resize(self, total: int) -> None:
        """Change the capacity; the engine preempts requests while ``used > total``."""
        self.total = max(total, 0)
        self._evict_overflow()

    def _evict_overflow(self) -> None:
        evictable = self._evictable
        room = self.total - self.used
        while len(evictable) > max(room, 0):
            h, _ = evictable.popitem(last=False)
            del self._cache[h]
            self.evictions += 1
