"""Duplicate reports by their text, whether or not they got a diagnosis.

- **exact**: the same text after normalising Unicode width, case and whitespace (a SHA-256 of it);
- **near**: Jaccard similarity of the two reports' word 3-shingles (CJK characters count as words, digit runs fold
  to `0`, punctuation is dropped) at least NEAR_DUPLICATE_JACCARD.

The threshold is measured by `python -m benchmarks.text_duplicate_threshold` (re-posts of the KB's trigger
fixtures and of real public reports against pairs of different reports, including pairs of the same cause and pairs
that share an issue template); its module docstring has the figures.

Candidates are found with MinHash locality-sensitive hashing (126 hash functions in 42 bands of 3: a pair at
Jaccard 0.5 becomes a candidate with probability 0.996); the MAX_CANDIDATES candidates sharing the most bands are
then scored with the exact Jaccard of the stored shingles, so the similarity reported is exact and the result is
deterministic. The first MAX_CHARS characters of a report are compared; 5,000 reports of which 90% are re-posts
take about 7 s on one core.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass, field
from itertools import chain

import numpy as np

NEAR_DUPLICATE_JACCARD = 0.5
SHINGLE = 3
MIN_TOKENS = 8  # shorter texts ("help", "same problem") are not evidence of a duplicate
MAX_CHARS = 20_000
BANDS, ROWS = 42, 3
MAX_CANDIDATES = 16

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W\d_{_CJK}]+|\d+")
_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


def _constants(label: str, n: int) -> np.ndarray:
    """Fixed pseudo-random 64-bit constants (from BLAKE2b, so they never change with the NumPy version)."""
    return np.array([int.from_bytes(hashlib.blake2b(f"tunedoc-{label}-{i}".encode(), digest_size=8).digest(), "big")
                     for i in range(n)], dtype=np.uint64)


_SALTS = _constants("minhash-salt", BANDS * ROWS)
_MULTIPLIERS = _constants("minhash-mult", BANDS * ROWS) | np.uint64(1)  # odd: a bijection modulo 2**64


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text[:MAX_CHARS]).casefold().split())


def text_hash(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def tokens(text: str) -> list[str]:
    return _tokens(normalise(text))


def _tokens(normalised: str) -> list[str]:
    return ["0" if t[0].isdigit() else t for t in _TOKEN.findall(normalised)]


def shingles(words: list[str]) -> np.ndarray:
    """Sorted unique hashes (CRC-32: fast and the same on every platform) of the word 3-shingles (of all the words
    when there are fewer than three)."""
    if not words:
        return np.zeros(0, dtype=np.uint64)
    runs = zip(*(words[i:] for i in range(SHINGLE)), strict=False) if len(words) >= SHINGLE else [words]
    hashes = set(map(zlib.crc32, map(str.encode, map("\x1f".join, runs))))
    return np.fromiter(sorted(hashes), dtype=np.uint64, count=len(hashes))  # cheaper than np.unique for ~100


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted arrays of unique values."""
    if not a.size or not b.size:
        return 0.0
    # Each value of a looked up in b by binary search: a few numpy calls instead of intersect1d's concatenate+sort.
    common = int(np.count_nonzero(b.take(b.searchsorted(a), mode="clip") == a))
    return common / (a.size + b.size - common)


def similarity(first: str, second: str) -> float:
    """The near-duplicate similarity of two texts (exact Jaccard of their shingles)."""
    return jaccard(shingles(tokens(first)), shingles(tokens(second)))


def _signature(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        mixed = ((values[None, :] ^ _SALTS[:, None]) * _MULTIPLIERS[:, None]) & _MASK
    return mixed.min(axis=1)


@dataclass(frozen=True)
class TextMatch:
    earlier: str
    kind: str  # "exact" or "near"
    similarity: float


@dataclass
class TextDuplicates:
    """Add reports in input order; each is linked to the most similar earlier one (ties: the earliest)."""

    threshold: float = NEAR_DUPLICATE_JACCARD
    _exact: dict[str, str] = field(default_factory=dict)
    _order: dict[str, int] = field(default_factory=dict)
    _ids: list[str] = field(default_factory=list)  # of the reports in buckets, by position
    _shingles: list[np.ndarray] = field(default_factory=list)  # by the same position
    _buckets: dict[bytes, list[int]] = field(default_factory=dict)  # band key -> positions, ascending

    def add(self, report_id: str, text: str) -> TextMatch | None:
        normalised = normalise(text)
        words = _tokens(normalised)
        if len(words) < MIN_TOKENS or report_id in self._order:
            return None
        self._order[report_id] = len(self._order)
        digest = hashlib.sha256(normalised.encode("utf-8")).hexdigest()
        if digest in self._exact:
            return TextMatch(self._exact[digest], "exact", 1.0)
        self._exact[digest] = report_id
        values = shingles(words)
        raw = _signature(values).tobytes()
        width = ROWS * 8  # bytes of one band of the uint64 signature
        keys = [bytes((band,)) + raw[band * width:(band + 1) * width] for band in range(BANDS)]
        shared = Counter(chain.from_iterable(self._buckets.get(key, ()) for key in keys))
        best: TextMatch | None = None
        if shared:
            # The candidates sharing the most bands have the highest estimated similarity: score the first few
            # exactly, earliest first (positions follow input order, so they break ties as the order does).
            positions = np.fromiter(shared.keys(), dtype=np.int64, count=len(shared))
            counts = np.fromiter(shared.values(), dtype=np.int64, count=len(shared))
            for other in np.sort(positions[np.lexsort((positions, -counts))[:MAX_CANDIDATES]]).tolist():
                score = jaccard(values, self._shingles[other])
                if score >= self.threshold and (best is None or score > best.similarity):
                    best = TextMatch(self._ids[other], "near", round(score, 3))
        position = len(self._ids)
        self._ids.append(report_id)
        self._shingles.append(values)
        for key in keys:
            self._buckets.setdefault(key, []).append(position)
        return best
