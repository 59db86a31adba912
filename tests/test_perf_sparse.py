"""The sparse BM25 and the vectorised dense grouping give exactly what the per-document Python loops gave."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from benchmarks.pastes import real_paste_factory
from service.bm25 import BM25, tokenize
from service.cases import CaseBase
from service.kb import Catalogue
from service.retrieval import article_text
from service.vectors import Chunk, DenseIndex


class ReferenceBM25:
    """The per-document loop BM25 that service/bm25.py replaced (kept here as the oracle)."""

    def __init__(self, docs: dict[str, str], k1: float = 1.2, b: float = 0.75):
        self.ids = sorted(docs)
        self.k1, self.b = k1, b
        self.tf = [Counter(tokenize(docs[i])) for i in self.ids]
        self.len = [sum(tf.values()) for tf in self.tf]
        self.avg = sum(self.len) / max(1, len(self.len))
        df: Counter[str] = Counter()
        for tf in self.tf:
            df.update(tf.keys())
        n = len(self.ids)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: str) -> list[tuple[str, float]]:
        terms = [t for t in set(tokenize(query)) if t in self.idf]
        out = []
        for doc_id, tf, length in zip(self.ids, self.tf, self.len, strict=False):
            score = 0.0
            for term in terms:
                f = tf.get(term)
                if f:
                    score += self.idf[term] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * length / self.avg))
            if score > 0:
                out.append((doc_id, round(score, 6)))
        return sorted(out, key=lambda x: (-x[1], x[0]))


@pytest.fixture(scope="module")
def corpora() -> dict[str, dict[str, str]]:
    catalogue = Catalogue.load()
    cases = CaseBase.load(catalogue.root)
    return {
        "articles+fixtures": {a.id: article_text(a, [f.text for f in catalogue.fixtures.get(a.id, [])
                                                     if f.kind == "trigger"]) for a in catalogue.articles},
        "articles": {a.id: article_text(a, []) for a in catalogue.articles},
        "cases": {c.id: c.render("en") + "\n" + c.render("zh") for c in cases.cases},
    }


def test_sparse_bm25_scores_equal_the_reference(corpora):
    make = real_paste_factory(13)
    cases = CaseBase.load().cases
    queries = [make() for _ in range(120)] + [c.render() for c in cases[::5]] + [
        "", "the a an", "loss nan", "显存 不足 报错", "grad_norm overlap_comm", "x" * 5000]
    for name, docs in corpora.items():
        ours, reference = BM25(docs), ReferenceBM25(docs)
        for query in queries:
            got, want = ours.scores(query), reference.scores(query)
            assert [i for i, _ in got] == [i for i, _ in want], (name, query[:80])
            for (_, a), (_, b) in zip(got, want, strict=False):
                assert abs(a - b) <= 1e-6, (name, query[:80])


def test_bm25_edge_cases():
    assert BM25({}).scores("anything") == []
    index = BM25({"a": "loss nan grad_norm", "b": "显存不足", "c": ""})
    assert index.scores("") == []
    assert [i for i, _ in index.scores("grad")] == ["a"]
    assert [i for i, _ in index.scores("显存")] == ["b"]


def test_best_by_owner_matches_a_plain_loop():
    rng = np.random.default_rng(1)
    kinds = ["article", "fixture", "case"]
    chunks = [Chunk(kinds[int(k)], f"owner{int(o)}", "", "") for k, o in zip(rng.integers(0, 3, 500),
                                                                              rng.integers(0, 60, 500), strict=False)]
    index = DenseIndex(chunks, rng.normal(size=(500, 16)).astype(np.float32))
    for _ in range(20):
        sims = index.similarities(rng.normal(size=16))
        for wanted in (("article", "fixture"), ("case",), ("nothing",)):
            expected: dict[str, float] = {}
            for i, chunk in enumerate(chunks):
                if chunk.kind in wanted and float(sims[i]) > expected.get(chunk.owner, -2.0):
                    expected[chunk.owner] = float(sims[i])
            got = index.best_by_owner(sims, wanted)
            assert got == expected and list(got) == list(expected)


def test_vectorised_rounding_equals_python_round():
    from service.bm25 import _round6

    rng = np.random.default_rng(4)
    values = np.concatenate([rng.uniform(0, 50, 200_000), (np.arange(100_000) + 0.5) / 1e6,
                             rng.integers(0, 10**7, 50_000) / 1e6 + 5e-7, np.array([1e-9, 123456.7890125])])
    ours = _round6(values)
    assert ours.tolist() == [round(float(v), 6) for v in values]
