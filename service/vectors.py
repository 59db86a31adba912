"""Cosine search over the embeddings stored in Chroma.

The index is small (articles, fixtures and cases: a few thousand vectors), so tunedoc reads the vectors back from the
store once and searches them with one matrix product. That is exact and deterministic — the same neighbours in every
process and after every rebuild, which an HNSW graph built by several threads does not promise — and it lets
cross-validation mask out the cases of the fold under test. A case base five times today's is searched in two stages
instead (service/shortlist.py): still deterministic, exact for the nearest cases, and about half the cost at ten
times today's size.

`CaseScores` holds one query's scores of the case base (dense or BM25) as arrays, so that fusion's votes cost a few
vectorised numpy calls per query rather than Python work per case.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from service.shortlist import TWO_STAGE_ROWS, Shortlist


@dataclass(frozen=True)
class Chunk:
    kind: str  # article, fixture, case
    owner: str  # article id, or case id for a case
    category: str
    lang: str


def store_rows(store) -> tuple[list[Chunk], np.ndarray]:  # noqa: ANN001 - langchain_chroma.Chroma
    """Every chunk in the store and its stored vector (float32), in id order."""
    data = store.get(include=["embeddings", "metadatas"])
    rows = sorted(zip(data["ids"], data["metadatas"], data["embeddings"], strict=False), key=lambda r: r[0])
    chunks = [Chunk(m.get("kind", "article"), m.get("case_id") or m.get("article_id", ""),
                    m.get("category", ""), m.get("lang", "")) for _, m, _ in rows]
    vectors = np.asarray([e for *_, e in rows], dtype=np.float32) if rows else np.zeros((0, 1), np.float32)
    return chunks, vectors


class DenseIndex:
    def __init__(self, chunks: list[Chunk], vectors: np.ndarray, two_stage_rows: int = TWO_STAGE_ROWS) -> None:
        """`two_stage_rows`: from how many case vectors on the cases are searched in two stages
        (service/shortlist.py)."""
        self.chunks = chunks
        norms = np.linalg.norm(vectors, axis=1, keepdims=True) if len(vectors) else np.ones((0, 1))
        self.matrix = (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)
        self.kind = np.array([c.kind for c in chunks])
        self._groups: dict[tuple[str, ...], tuple[np.ndarray, list[str]]] = {}
        case_rows = np.flatnonzero(self.kind == "case")
        self._shortlist = None
        if len(case_rows) >= two_stage_rows:
            self._shortlist = Shortlist(self.matrix, case_rows, [chunks[i].category for i in case_rows])
            self._other_rows = np.flatnonzero(self.kind != "case")
            self._other = np.ascontiguousarray(self.matrix[self._other_rows])

    @property
    def two_stage(self) -> bool:
        """Whether the cases are searched in two stages (a case base past `TWO_STAGE_ROWS`)."""
        return self._shortlist is not None

    @classmethod
    def from_store(cls, store) -> DenseIndex:  # noqa: ANN001 - langchain_chroma.Chroma
        return cls(*store_rows(store))

    def __len__(self) -> int:
        return len(self.chunks)

    def similarities(self, vector: list[float] | np.ndarray) -> np.ndarray:
        query = np.asarray(vector, dtype=np.float32)
        query = query / (float(np.linalg.norm(query)) or 1.0)
        if self._shortlist is not None:  # a big case base: exact for articles, fixtures and the nearest cases
            sims = np.empty(len(self.chunks), dtype=np.float32)
            sims[self._other_rows] = np.round(self._other @ query, 5)
            sims[self._shortlist.rows] = self._shortlist.scores(self.matrix, query)
            return sims
        # Rounded so that float noise from a different BLAS thread split cannot reorder near-ties.
        return np.round(self.matrix @ query, 5)

    def _grouping(self, kinds: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
        """For chunks of `kinds`: the owners, in order of their first chunk, and a (most chunks an owner has) x
        (owners) table of chunk indices, column j holding owner j's chunks, its first repeated to fill the column (a
        repeat leaves the max unchanged). Computed once per kinds tuple (the index is immutable)."""
        cached = self._groups.get(kinds)
        if cached is None:
            picked = np.flatnonzero(np.isin(self.kind, kinds))
            code: dict[str, int] = {}
            codes = np.fromiter((code.setdefault(self.chunks[i].owner, len(code)) for i in picked), dtype=np.int64,
                                count=len(picked))
            order = np.argsort(codes, kind="stable")
            sizes = np.bincount(codes)
            starts = np.cumsum(sizes) - sizes
            slot = np.arange(sizes.max(initial=0))[:, None]
            table = picked[order][starts + np.where(slot < sizes, slot, 0)] if len(picked) else np.zeros((0, 0), int)
            cached = self._groups[kinds] = (table, list(code))
        return cached

    def owners(self, kinds: tuple[str, ...]) -> list[str]:
        """The owners of chunks of `kinds`, in the order of their first chunk (the order of `best_array`)."""
        return self._grouping(kinds)[1]

    def best_array(self, sims: np.ndarray, kinds: tuple[str, ...]) -> np.ndarray:
        """Best similarity of each of `owners(kinds)`: one vectorised max down the table (no loop per owner, and
        cheaper than a reduceat over thousands of two-chunk cases)."""
        table, owners = self._grouping(kinds)
        return sims[table].max(axis=0) if owners else sims[:0]

    def best_by_owner(self, sims: np.ndarray, kinds: tuple[str, ...]) -> dict[str, float]:
        """Best similarity per owner (article id or case id) among chunks of the given kinds, in the order of each
        owner's first chunk."""
        return dict(zip(self.owners(kinds), self.best_array(sims, kinds).tolist(), strict=True))


class CaseSpace:
    """The rows case scores are indexed by: every case id, sorted, so that row order is id order (which breaks ties
    between equal scores), and each row's cause under the retriever's case map, computed once, not per query. That
    map is not changed after construction (a changed case base builds a new space)."""

    def __init__(self, ids: list[str], cause_of: Mapping[str, str]) -> None:
        self.ids = ids
        self.cause_of = cause_of

    @cached_property
    def _own(self) -> tuple[list[str], np.ndarray, bool]:
        return self._codes(self.cause_of)

    def codes(self, cause_of: Mapping[str, str]) -> tuple[list[str], np.ndarray, bool]:
        """The causes `cause_of` names, each row's cause as an index into them (-1: a case not in `cause_of`), and
        whether every row has one. Per call only for a map other than the retriever's (cross-validation's)."""
        if cause_of is self.cause_of or cause_of == self.cause_of:
            return self._own
        return self._codes(cause_of)

    def _codes(self, cause_of: Mapping[str, str]) -> tuple[list[str], np.ndarray, bool]:
        index: dict[str, int] = {}
        code = np.fromiter((-1 if (c := cause_of.get(i)) is None else index.setdefault(c, len(index))
                            for i in self.ids), dtype=np.int64, count=len(self.ids))
        return list(index), code, bool((code >= 0).all())


class CaseScores(Mapping[str, float]):
    """Scores of some cases: `score[j]` (float64) is that of case `space.ids[rows[j]]`. Fusion reads the arrays; a
    rare reader may use it as a {case id: score} mapping, built on first use. Restricted to a case map (`usable`),
    `code[rows[j]]` is each case's cause as an index into `causes`."""

    def __init__(self, space: CaseSpace, rows: np.ndarray, score: np.ndarray, causes: list[str] | None = None,
                 code: np.ndarray | None = None, cause_of: Mapping[str, str] | None = None) -> None:
        self.space, self.rows, self.score = space, rows, score
        self.causes, self.code, self.cause_of = causes or [], code, cause_of

    @classmethod
    def of(cls, scores: Mapping[str, float]) -> CaseScores:
        """`scores` as arrays (a plain {case id: score} from a test or a fake retriever)."""
        if isinstance(scores, CaseScores):
            return scores
        ids = sorted(scores)
        return cls(CaseSpace(ids, {}), np.arange(len(ids)), np.array([scores[i] for i in ids], dtype=np.float64))

    def usable(self, cause_of: Mapping[str, str]) -> CaseScores:
        """The scores of the cases in `cause_of`, with their causes."""
        if self.cause_of is cause_of:
            return self
        causes, code, every = self.space.codes(cause_of)
        if every:  # serving: no per-row work
            return CaseScores(self.space, self.rows, self.score, causes, code, cause_of)
        keep = code[self.rows] >= 0
        return CaseScores(self.space, self.rows[keep], self.score[keep], causes, code, cause_of)

    def top(self, k: int) -> np.ndarray:
        """Positions of the k best scores, best first, ids (rows) breaking ties: a partition, not a sort of all."""
        n = len(self.score)
        if n > 4 * k:
            kth = np.partition(self.score, n - k)[n - k]
            pool = np.flatnonzero(self.score >= kth)  # holds the top k, ties included
        else:
            pool = np.arange(n)
        return pool[np.lexsort((self.rows[pool], -self.score[pool]))[:k]]

    def best_by_cause(self) -> np.ndarray:
        """The best score of each of `causes` (-inf for a cause none of these cases has); needs `usable`."""
        assert self.code is not None
        best = np.full(len(self.causes), -np.inf)
        np.maximum.at(best, self.code[self.rows], self.score)
        return best

    @cached_property
    def _dict(self) -> dict[str, float]:
        ids = self.space.ids
        return dict(zip([ids[r] for r in self.rows.tolist()], self.score.tolist(), strict=True))

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __getitem__(self, case_id: str) -> float:
        return self._dict[case_id]
