"""A two-stage dense search for a case base too big for one exact product to stay cheap (issue 15).

The exact search multiplies the query by every stored vector. At today's size (about 3,000 case vectors) that is a
fraction of a millisecond; at ten times the case base it reads 60 MB per query and costs more than the rest of
fusion together. Above `TWO_STAGE_ROWS` case vectors the index therefore scores the cases in two steps:

1. a cheap pass over each case vector's projection on the case base's `HEAD_DIMS` principal axes (a quarter of the
   bytes; on today's case base these axes hold 91% of the vectors' energy);
2. the exact product for a shortlist: the `SHORTLIST` best cases of that pass, and each cause's best with the cases
   within `CAUSE_MARGIN` of it, so that fusion's per-cause best case is nearly always scored exactly.

Cases off the shortlist keep their projected score, which is close to the exact one (they are far from the query and
fusion reads only the nearest cases and each cause's best). On a ×10 copy of the real case base (1,640 reports) the
shortlist held the exact 10 nearest cases for every query tested; a cause's best case was off in 36 of 300 real
reports (by at most 0.026), and fusion's probabilities moved by at most 0.013 (tests/test_perf_knn.py holds them to
0.02). Below the limit the search stays exact, so answers are byte-identical to the one-product search.
Deterministic: the axes come from a fixed sample of the rows, rounded so that float noise from a different BLAS
thread split does not change them, and rows tied at the shortlist's edge all go in (the set never depends on a sort).
"""

from __future__ import annotations

import numpy as np

TWO_STAGE_ROWS = 16_384  # case vectors: five times today's; the exact product then costs ~1.3 ms, two stages ~0.8
HEAD_DIMS = 128
SHORTLIST = 512
CAUSE_MARGIN = 0.02  # cases this close under their cause's best projected score are scored exactly too
AXES_SAMPLE = 4_096  # rows the principal axes are computed from: bounded build cost at any size


def principal_axes(vectors: np.ndarray, dims: int) -> np.ndarray:
    """A (dimension × dims) float32 basis of the `dims` principal axes of a fixed, strided sample of `vectors`."""
    sample = vectors[:: max(1, len(vectors) // AXES_SAMPLE)].astype(np.float64)
    _, axes = np.linalg.eigh(sample.T @ sample)  # ascending eigenvalues
    return np.round(axes[:, ::-1][:, :dims], 4).astype(np.float32)


class Shortlist:
    """The projected case vectors and the rows of each cause, built once per index (it is immutable)."""

    def __init__(self, matrix: np.ndarray, rows: np.ndarray, causes: list[str]) -> None:
        """`rows`: the case rows of `matrix`; `causes`: each of those rows' cause (its chunk's category)."""
        self.rows = rows
        cases = matrix[rows]  # one copy of the case rows, read twice
        self.axes = principal_axes(cases, HEAD_DIMS)
        self.head = np.ascontiguousarray(cases @ self.axes)
        codes = np.unique(np.asarray(causes), return_inverse=True)[1].reshape(-1)
        self.order = np.argsort(codes, kind="stable")  # rows grouped by cause
        self.starts = np.flatnonzero(np.r_[True, np.diff(codes[self.order]) != 0])

    def scores(self, matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
        """A score for each of `rows`: exact (rounded as the exact search rounds) on the shortlist, projected
        elsewhere."""
        head = np.round(self.head @ (query @ self.axes), 5)
        short = self._shortlist(head)
        head[short] = np.round(matrix[self.rows[short]] @ query, 5)
        return head

    def _shortlist(self, head: np.ndarray) -> np.ndarray:
        n = len(head)
        if n <= SHORTLIST:
            return np.arange(n)
        kth = np.partition(head, n - SHORTLIST)[n - SHORTLIST]
        best = head >= kth  # every row tied with the last one in, so that the set does not depend on the sort
        grouped = head[self.order]
        top = np.repeat(np.maximum.reduceat(grouped, self.starts), np.diff(np.r_[self.starts, n]))
        best[self.order[grouped >= top - CAUSE_MARGIN]] = True  # each cause's best, and the cases close under it
        return np.flatnonzero(best)
