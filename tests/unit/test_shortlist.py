"""The two-stage case search (service/shortlist.py) on synthetic vectors: the shortlist is scored exactly as the
one-product search scores it, it holds the best projected cases and each cause's best, the build is deterministic,
and a projection that keeps every dimension gives the exact scores everywhere."""

from __future__ import annotations

import numpy as np

from service import shortlist as module
from service.shortlist import Shortlist
from service.vectors import Chunk, DenseIndex


def unit_rows(rng: np.random.Generator, n: int, dim: int, clusters: int = 20) -> np.ndarray:
    centres = rng.normal(size=(clusters, dim))
    rows = centres[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, dim))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_the_shortlist_is_scored_exactly_and_holds_the_nearest_cases_and_each_causes_best() -> None:
    rng = np.random.default_rng(7)
    matrix = unit_rows(rng, 6_000, 256)
    rows = np.arange(200, 6_000)  # the first rows stand for articles
    causes = [f"cause-{i % 37}" for i in range(len(rows))]
    index = Shortlist(matrix, rows, causes)
    for _ in range(20):
        query = matrix[rng.integers(0, 6_000)] + 0.3 * rng.normal(size=256).astype(np.float32)
        query /= np.linalg.norm(query)
        exact = np.round(matrix[rows] @ query, 5)
        head = np.round(index.head @ (query @ index.axes), 5)
        scores = index.scores(matrix, query)
        short = index._shortlist(head)
        assert np.array_equal(scores[short], exact[short])
        assert np.array_equal(np.delete(scores, short), np.delete(head, short))
        assert set(np.argsort(-head, kind="stable")[:module.SHORTLIST]) <= set(short.tolist())
        for cause in set(causes):
            mine = np.flatnonzero(np.array(causes) == cause)
            assert mine[np.argmax(head[mine])] in set(short.tolist())
        assert set(np.argsort(-exact)[:10]) <= set(short.tolist())  # clustered data: the true neighbours too


def test_the_build_is_deterministic_and_a_full_projection_is_exact() -> None:
    rng = np.random.default_rng(3)
    matrix = unit_rows(rng, 3_000, 64)  # 64 dimensions < HEAD_DIMS: the projection keeps all of them
    rows = np.arange(3_000)
    causes = [str(i % 5) for i in rows]
    first, second = Shortlist(matrix, rows, causes), Shortlist(matrix, rows, causes)
    assert first.axes.tobytes() == second.axes.tobytes() and first.head.tobytes() == second.head.tobytes()
    query = matrix[17]
    assert first.scores(matrix, query).tobytes() == second.scores(matrix, query).tobytes()
    assert np.allclose(first.scores(matrix, query), matrix @ query, atol=2e-3)  # axes rounded to 4 decimals


def test_the_dense_index_searches_in_two_stages_only_from_the_limit_on() -> None:
    rng = np.random.default_rng(1)
    matrix = unit_rows(rng, 2_000, 32)
    chunks = [Chunk("article" if i < 100 else "case", f"o{i}", f"c{i % 9}", "en") for i in range(2_000)]
    exact, two = DenseIndex(chunks, matrix), DenseIndex(chunks, matrix, two_stage_rows=1_000)
    assert not exact.two_stage and two.two_stage
    query = matrix[5]
    got, want = two.similarities(query), exact.similarities(query)
    assert np.array_equal(got[:100], want[:100])  # articles: always the exact product
    assert got.argmax() == want.argmax() and got.max() == want.max()
