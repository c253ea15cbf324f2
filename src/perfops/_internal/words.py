"""Filler text whose word count is its token count: synthetic prompts of a known length.

Every word in :data:`VOCABULARY` is one Llama 3 token when it follows a space, so text of ``n``
words joined by spaces is about ``n`` tokens (``n`` exactly for perfops's tokenizer stand-in;
a server's chat template adds its own few). The first 75 words are the list checked against
the real Llama 3 tokenizer for the simulator's filler answers; the last 25 are among the most
frequent English words and have at most six letters, the kind the vocabulary keeps whole.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt

__all__ = ["VOCABULARY", "keyed_words", "unique_prefix", "words"]

VOCABULARY: tuple[str, ...] = (
    # checked against Llama 3 (perfops.sim.tokenizer's filler list)
    "the", "of", "and", "to", "in", "is", "that", "for", "it", "as",
    "with", "was", "on", "be", "by", "at", "this", "are", "from", "or",
    "have", "an", "they", "which", "one", "you", "were", "all", "we", "there",
    "can", "has", "more", "when", "will", "time", "would", "about", "some", "so",
    "them", "other", "into", "could", "then", "may", "these", "well", "like", "after",
    "first", "new", "any", "work", "now", "just", "over", "way", "also", "only",
    "people", "good", "long", "make", "many", "most", "part", "take", "year", "where",
    "back", "use", "two", "see", "each",
    # very common short words
    "not", "but", "what", "his", "her", "had", "been", "their", "if", "do",
    "no", "out", "up", "said", "who", "how", "its", "our", "than", "day",
    "get", "know", "think", "come", "give",
)  # fmt: skip

_WORDS = np.array(VOCABULARY, dtype=object)
_SIZE = np.uint64(len(VOCABULARY))


def _join(indices: npt.NDArray[np.integer]) -> str:
    return " ".join(_WORDS[indices].tolist())


def words(n: int, rng_or_seed: np.random.Generator | int) -> str:
    """``n`` random words from :data:`VOCABULARY` joined by single spaces (about ``n`` tokens).

    ``rng_or_seed`` is a numpy Generator (advanced by the call) or a seed.
    """
    if n < 0:
        raise ValueError(f"cannot make {n} words")
    rng = (
        rng_or_seed
        if isinstance(rng_or_seed, np.random.Generator)
        else np.random.default_rng(rng_or_seed)
    )
    return _join(rng.integers(0, len(VOCABULARY), size=n))


def keyed_words(keys: npt.ArrayLike, seed: int = 0) -> str:
    """One word per key, joined by spaces: the same key and seed give the same word in every
    process and version, so texts built from shared keys share a prefix token for token.

    Keys are non-negative integers below 2**64, mixed with splitmix64.
    """
    mixed = np.asarray(keys, dtype=np.uint64).reshape(-1) ^ np.uint64(
        (seed * 0x9E3779B97F4A7C15) % 2**64
    )
    mixed = mixed + np.uint64(0x9E3779B97F4A7C15)
    mixed = (mixed ^ (mixed >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    mixed = (mixed ^ (mixed >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    mixed = mixed ^ (mixed >> np.uint64(31))
    return _join(mixed % _SIZE)


def unique_prefix(tag: str, n: int = 8) -> str:
    """``n`` words spelling a hash of ``tag`` (100**8 = 1e16 values for the default 8).

    Put it at the start of every prompt of a run, with the run id as ``tag``, and a server's
    prefix cache cannot reuse what an earlier run of the same seed left behind.
    """
    value = int.from_bytes(hashlib.blake2b(tag.encode(), digest_size=16).digest(), "big")
    digits = []
    for _ in range(n):
        value, digit = divmod(value, len(VOCABULARY))
        digits.append(digit)
    return _join(np.array(digits, dtype=np.intp))
