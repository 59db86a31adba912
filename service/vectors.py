"""Exact cosine search over the embeddings stored in Chroma.

The index is small (articles, fixtures and cases: a few thousand vectors), so tunedoc reads the vectors back from the
store once and searches them with one matrix product. That is exact and deterministic — the same neighbours in every
process and after every rebuild, which an HNSW graph built by several threads does not promise — and it lets
cross-validation mask out the cases of the fold under test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Chunk:
    kind: str  # article, fixture, case
    owner: str  # article id, or case id for a case
    category: str
    lang: str


class DenseIndex:
    def __init__(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        self.chunks = chunks
        norms = np.linalg.norm(vectors, axis=1, keepdims=True) if len(vectors) else np.ones((0, 1))
        self.matrix = (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)
        self.kind = np.array([c.kind for c in chunks])
        self._groups: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray, list[str]]] = {}

    @classmethod
    def from_store(cls, store) -> DenseIndex:  # noqa: ANN001 - langchain_chroma.Chroma
        data = store.get(include=["embeddings", "metadatas"])
        rows = sorted(zip(data["ids"], data["metadatas"], data["embeddings"], strict=False), key=lambda r: r[0])
        chunks = [Chunk(m.get("kind", "article"), m.get("case_id") or m.get("article_id", ""),
                        m.get("category", ""), m.get("lang", "")) for _, m, _ in rows]
        vectors = np.asarray([e for *_, e in rows], dtype=np.float32) if rows else np.zeros((0, 1), np.float32)
        return cls(chunks, vectors)

    def __len__(self) -> int:
        return len(self.chunks)

    def similarities(self, vector: list[float] | np.ndarray) -> np.ndarray:
        query = np.asarray(vector, dtype=np.float32)
        query = query / (float(np.linalg.norm(query)) or 1.0)
        # Rounded so that float noise from a different BLAS thread split cannot reorder near-ties.
        return np.round(self.matrix @ query, 5)

    def _grouping(self, kinds: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """For chunks of `kinds`: their indices sorted by owner (owners in order of their first chunk), the start of
        each owner's run, and the owners. Computed once per kinds tuple (the index is immutable)."""
        cached = self._groups.get(kinds)
        if cached is None:
            picked = np.flatnonzero(np.isin(self.kind, kinds))
            code: dict[str, int] = {}
            codes = np.fromiter((code.setdefault(self.chunks[i].owner, len(code)) for i in picked), dtype=np.int64,
                                count=len(picked))
            order = np.argsort(codes, kind="stable")
            starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0]) if len(order) else np.zeros(0, np.int64)
            cached = self._groups[kinds] = (picked[order], starts, list(code))
        return cached

    def best_by_owner(self, sims: np.ndarray, kinds: tuple[str, ...]) -> dict[str, float]:
        """Best similarity per owner (article id or case id) among chunks of the given kinds, in the order of each
        owner's first chunk (one vectorised max per owner instead of a Python loop over the chunks)."""
        rows, starts, owners = self._grouping(kinds)
        if not owners:
            return {}
        best = np.maximum.reduceat(sims[rows], starts)
        return dict(zip(owners, best.tolist(), strict=False))
