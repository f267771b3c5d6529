"""Near-duplicate search: MinHash signatures over character n-grams, banded LSH.

Character n-grams need no word segmentation, so Chinese and English go through
the same code. Candidates from the LSH buckets are verified with the exact
Jaccard similarity of their n-gram sets, so the index only decides which pairs to
look at, never whether they match.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from .normalise import is_chinese

__all__ = ["MinHashIndex", "jaccard", "shingles"]

_MERSENNE = np.uint64((1 << 61) - 1)
_MAX32 = np.uint64((1 << 32) - 1)


def shingles(key: str) -> frozenset[str]:
    """Character n-grams of a match key: bigrams for Chinese, trigrams otherwise.

    A Chinese character carries about as much as an English word, so bigrams
    there play the part trigrams play in English.
    """
    n = 2 if is_chinese(key) else 3
    if len(key) <= n:
        return frozenset([key])
    return frozenset(key[i : i + n] for i in range(len(key) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


class MinHashIndex:
    """An incremental LSH index of shingle sets, keyed by any hashable item id.

    128 permutations in 16 bands of 8 rows: a pair with Jaccard 0.8 shares a
    bucket with probability 0.95, one with 0.5 with probability 0.06, so the
    exact check after it stays cheap.
    """

    def __init__(self, *, num_perm: int = 128, bands: int = 16, seed: int = 1) -> None:
        if num_perm % bands:
            raise ValueError("num_perm must be a multiple of bands")
        rng = np.random.default_rng(seed)
        self.bands = bands
        self.rows = num_perm // bands
        self._a = rng.integers(1, int(_MERSENNE), size=num_perm, dtype=np.uint64)
        self._b = rng.integers(0, int(_MERSENNE), size=num_perm, dtype=np.uint64)
        self._buckets: list[defaultdict[bytes, list[int]]] = [
            defaultdict(list) for _ in range(bands)
        ]
        self._sets: list[frozenset[str]] = []

    def __len__(self) -> int:
        return len(self._sets)

    def signature(self, grams: Iterable[str]) -> npt.NDArray[np.uint64]:
        hashes = np.fromiter((zlib.crc32(g.encode("utf-8")) for g in grams), dtype=np.uint64)
        if hashes.size == 0:
            hashes = np.zeros(1, dtype=np.uint64)
        # (a*x + b) mod p on 32-bit hashes: the product fits in 64 bits only because
        # a is reduced to 29 bits here; the universal-hash property needs no more.
        a = (self._a & np.uint64((1 << 29) - 1))[:, None]
        perm = (a * hashes[None, :] + self._b[:, None]) % _MERSENNE & _MAX32
        result: npt.NDArray[np.uint64] = perm.min(axis=1)
        return result

    def _band_keys(self, sig: npt.NDArray[np.uint64]) -> list[bytes]:
        return [sig[i * self.rows : (i + 1) * self.rows].tobytes() for i in range(self.bands)]

    def add(self, grams: frozenset[str]) -> int:
        """Index a shingle set and return its position."""
        pos = len(self._sets)
        self._sets.append(grams)
        for band, key in enumerate(self._band_keys(self.signature(grams))):
            self._buckets[band][key].append(pos)
        return pos

    def query(self, grams: frozenset[str], threshold: float) -> list[tuple[int, float]]:
        """Positions whose exact Jaccard with ``grams`` is at least ``threshold``, best first."""
        seen: set[int] = set()
        for band, key in enumerate(self._band_keys(self.signature(grams))):
            seen.update(self._buckets[band].get(key, ()))
        scored = [(pos, jaccard(grams, self._sets[pos])) for pos in seen]
        return sorted(
            ((pos, score) for pos, score in scored if score >= threshold),
            key=lambda item: (-item[1], item[0]),
        )
