"""A small, deterministic BM25 (Okapi) over articles and cases, with tokenization that handles Chinese.

ASCII words are lower-cased identifiers (`grad_norm`, `overlap_comm` stay whole and also split on `_`); CJK runs
become unigrams and bigrams, which works for Chinese without a segmentation dictionary.

The index is a sparse document x term matrix of precomputed BM25 term weights (scipy CSC), so a query costs the
postings of its own terms, not a pass over every document: it stays flat as the KB and the case base grow. Each
weight is computed with the same float operations, in the same order, as the textbook per-document formula, and a
document's term weights are summed in vocabulary order, so scores are reproducible to the last bit.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
from scipy import sparse

_WORD = re.compile(r"[a-z0-9][a-z0-9_.+\-]*[a-z0-9]|[a-z0-9]")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]+")
_SPLIT = re.compile(r"[_\-]")
_STOP = frozenset("the a an and or of to in is it for on with this that be as at by from are was were i my we you "
                  "not but if when have has had do does can will would should".split())


def tokenize(text: str) -> list[str]:
    low = text.lower()
    tokens: list[str] = []
    for word in _WORD.findall(low):
        if word in _STOP:
            continue
        tokens.append(word)
        if "_" in word or "-" in word:
            tokens.extend(p for p in _SPLIT.split(word) if p and p not in _STOP)
    for run in _CJK_RUN.findall(text):
        tokens.extend(run)
        tokens.extend(run[i:i + 2] for i in range(len(run) - 1))
    return tokens


def query_terms(query: str) -> set[str]:
    """The distinct terms of a query (what BM25 scores with)."""
    return set(tokenize(query))


class BM25:
    def __init__(self, docs: dict[str, str], k1: float = 1.2, b: float = 0.75) -> None:
        self.ids = sorted(docs)
        self.k1, self.b = k1, b
        counts = [Counter(tokenize(docs[i])) for i in self.ids]
        self.len = [sum(tf.values()) for tf in counts]
        self.avg = sum(self.len) / max(1, len(self.len))
        df: Counter[str] = Counter()
        for tf in counts:
            df.update(tf.keys())
        n = len(self.ids)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.vocab = {t: j for j, t in enumerate(sorted(df))}
        rows: list[int] = []
        cols: list[int] = []
        freqs: list[float] = []
        for row, tf in enumerate(counts):
            for term, f in tf.items():
                rows.append(row)
                cols.append(self.vocab[term])
                freqs.append(f)
        rows_a = np.asarray(rows, dtype=np.int64)
        cols_a = np.asarray(cols, dtype=np.int64)
        f_a = np.asarray(freqs, dtype=np.float64)
        idf_a = np.asarray([self.idf[t] for t in sorted(df)], dtype=np.float64)
        length = np.asarray(self.len, dtype=np.float64)
        # idf * f * (k1 + 1) / (f + k1 * (1 - b + b * len / avg)), evaluated left to right as in the formula
        norm = f_a + k1 * (1 - b + b * length[rows_a] / self.avg)
        weights = idf_a[cols_a] * f_a * (k1 + 1) / norm
        self.matrix = sparse.csc_matrix((weights, (rows_a, cols_a)), shape=(n, len(self.vocab)))
        self.matrix.sort_indices()

    def _columns(self, query: str) -> list[int]:
        vocab = self.vocab
        return sorted(vocab[t] for t in query_terms(query) if t in vocab)

    def score_array(self, query: str) -> np.ndarray:
        """BM25 score of every document (in `ids` order) for `query`, unrounded."""
        n = len(self.ids)
        cols = self._columns(query)
        if not cols:
            return np.zeros(n)
        m = self.matrix
        indptr, indices, data = m.indptr, m.indices, m.data
        if len(cols) == 1:
            c = cols[0]
            out = np.zeros(n)
            out[indices[indptr[c]:indptr[c + 1]]] = data[indptr[c]:indptr[c + 1]]
            return out
        docs = np.concatenate([indices[indptr[c]:indptr[c + 1]] for c in cols])
        weights = np.concatenate([data[indptr[c]:indptr[c + 1]] for c in cols])
        # bincount adds each document's weights in the order given (vocabulary order): reproducible sums
        return np.bincount(docs, weights=weights, minlength=n)

    def positive(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """The documents with a positive score (indices into `ids`) and their scores rounded to 6 decimals."""
        totals = self.score_array(query)
        hit = np.flatnonzero(totals > 0)
        return hit, _round6(totals[hit])

    def scores(self, query: str) -> list[tuple[str, float]]:
        """(id, score rounded to 6 decimals) of every document with a positive score, best first, ties by id."""
        hit, rounded = self.positive(query)
        order = np.lexsort((hit, -rounded))  # ids are sorted: index order is id order
        ids = self.ids
        return [(ids[i], v) for i, v in zip(hit[order].tolist(), rounded[order].tolist(), strict=False)]


def _round6(values: np.ndarray) -> np.ndarray:
    """Python's round(v, 6) of each value, vectorised. numpy rounds v * 1e6 to an integer k and returns k / 1e6,
    which is the double nearest k * 10**-6, as Python's round gives; the two can only pick a different k when
    v * 1e6 lies within float error of a half, and those few values are rounded by Python itself."""
    rounded = np.round(values, 6)
    scaled = values * 1e6
    near_half = np.flatnonzero(np.abs(scaled - np.floor(scaled) - 0.5) < 1e-3)
    for k in near_half.tolist():
        rounded[k] = round(float(values[k]), 6)
    return rounded
