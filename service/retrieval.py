"""Hybrid retrieval over the knowledge base and the case base.

Articles: BM25 over whole articles (with their trigger fixtures) plus dense similarity of their chunks, fused by
reciprocal rank. Cases: BM25 and dense similarity of every real report in kb/cases/, which the fusion model turns
into votes by cause. Dense search is exact (service/vectors.py). Retrieval proposes causes; the rules confirm or
rule them out and the fusion model (service/fusion.py) ranks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from service.bm25 import BM25
from service.cases import CaseBase
from service.config import Settings, get_settings
from service.embeddings import PackagedEmbeddings
from service.kb import Article, Catalogue
from service.vectors import CaseScores, CaseSpace, DenseIndex

if TYPE_CHECKING:
    from service.fusion import FusionModel

RRF_K = 60


@dataclass(frozen=True)
class Hit:
    id: str
    score: float


@dataclass
class RetrievalHits:
    """What retrieval found for one query: articles ranked, and every case with its similarities."""

    articles: list[Hit] = field(default_factory=list)  # hybrid ranking of article ids
    article_bm25: list[str] = field(default_factory=list)
    article_dense: dict[str, float] = field(default_factory=dict)  # best chunk similarity per article id
    # case id -> similarity / BM25 score (positive only); from a Retriever, CaseScores: arrays, which fusion reads
    case_dense: Mapping[str, float] = field(default_factory=dict)
    case_bm25: Mapping[str, float] = field(default_factory=dict)


class Retrieving(Protocol):
    """What the pipeline needs from a retriever (tests may pass a fake)."""

    catalogue: Catalogue
    cases: CaseBase
    cause_of: dict[str, str]  # case id -> cause
    case_urls: dict[str, str]
    embeddings: Embeddings
    model: FusionModel | None

    def retrieve(self, query: str, vector: list[float] | None = None) -> RetrievalHits: ...

    def search(self, query: str, k: int = 5, vector: list[float] | None = None) -> list[Hit]: ...


def article_text(article: Article, fixtures: list[str]) -> str:
    parts = [article.title.en, article.title.zh, article.summary.en, article.summary.zh, article.confirm.en,
             article.confirm.zh, article.body, *(s.en + " " + s.zh for s in article.fix.steps), *fixtures]
    return "\n".join(parts)


def rrf(rankings: list[list[str]], k: int = RRF_K) -> list[Hit]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    return [Hit(i, round(s, 6)) for i, s in sorted(scores.items(), key=lambda x: (-x[1], x[0]))]


class Retriever:
    def __init__(self, catalogue: Catalogue, store, embeddings: Embeddings,  # noqa: ANN001 - Chroma
                 cases: CaseBase | None = None, dense: DenseIndex | None = None) -> None:
        """`dense`: the store's vectors already read (from the snapshot); read from `store` otherwise."""
        self.catalogue = catalogue
        self.store = store
        self.embeddings = embeddings
        self.model_name = getattr(embeddings, "name", None) or getattr(getattr(embeddings, "inner", None), "name", "?")
        self.cases = cases if cases is not None else CaseBase.load(catalogue.root)
        self.cause_of = {c.id: c.cause for c in self.cases.cases}  # built once: fusion reads them per request
        self.case_urls = {c.id: c.url for c in self.cases.cases}
        # tunedoc's own index also knows the trigger fixtures; the baseline BM25 sees the articles alone.
        self.bm25 = BM25({
            a.id: article_text(a, [f.text for f in catalogue.fixtures.get(a.id, []) if f.kind == "trigger"])
            for a in catalogue.articles
        })
        self.bm25_articles = BM25({a.id: article_text(a, []) for a in catalogue.articles})
        self.bm25_cases = BM25({c.id: c.render("en") + "\n" + c.render("zh") for c in self.cases.cases})
        self.dense = dense if dense is not None else DenseIndex.from_store(store)
        self.index_cases()
        from service.classify import CauseClassifier, classifier_path
        from service.fusion import FusionModel
        from service.lexical import LexicalClassifier, lexical_path

        fusion_model = catalogue.root / "model" / "fusion.json"  # the classifiers it was stacked on lie beside it
        self.model = FusionModel.load(fusion_model)
        self.classifier = CauseClassifier.load(classifier_path(fusion_model), self.model_name)
        self.lexical = LexicalClassifier.load(lexical_path(fusion_model))
        override = get_settings().threshold
        if self.model is not None and override is not None:
            self.model.threshold = override  # an operator trading abstention for answers (README table)
            self.model.thresholds = {}

    def index_cases(self) -> None:
        """The rows of the case scores (CaseScores): call again after replacing dense, bm25_cases or cause_of."""
        owners = self.dense.owners(("case",))
        self.case_space = CaseSpace(sorted(set(self.bm25_cases.ids).union(owners)), self.cause_of)
        row = {case_id: r for r, case_id in enumerate(self.case_space.ids)}
        self._dense_case_rows = np.array([row[i] for i in owners], dtype=np.int64)
        self._bm25_case_rows = np.array([row[i] for i in self.bm25_cases.ids], dtype=np.int64)

    def chunk_count(self) -> int:
        from ingest.indexer import store_count

        return store_count(self.store)

    def bm25_ranking(self, query: str, *, articles_only: bool = False) -> list[str]:
        index = self.bm25_articles if articles_only else self.bm25
        return [doc_id for doc_id, _ in index.scores(query)]

    def dense_ranking(self, query: str, kinds: tuple[str, ...] = ("article", "fixture"),
                      vector: list[float] | None = None) -> list[tuple[str, float]]:
        """Articles in order of their best chunk (cosine similarity). `vector`: the query, already embedded."""
        vector = vector if vector is not None else self.embeddings.embed_query(query)
        best = self.dense.best_by_owner(self.dense.similarities(vector), kinds)
        return sorted(((i, s) for i, s in best.items() if i in self.catalogue.by_id), key=lambda x: (-x[1], x[0]))

    def retrieve(self, query: str, vector: list[float] | None = None) -> RetrievalHits:
        if not query.strip():
            return RetrievalHits()
        vector = vector if vector is not None else self.embeddings.embed_query(query)
        sims = self.dense.similarities(vector)
        article_dense = {i: s for i, s in self.dense.best_by_owner(sims, ("article", "fixture")).items()
                         if i in self.catalogue.by_id}
        dense_order = [i for i, _ in sorted(article_dense.items(), key=lambda x: (-x[1], x[0]))]
        bm25_order = self.bm25_ranking(query)
        case_hit, case_bm25 = self.bm25_cases.positive(query)
        case_dense = self.dense.best_array(sims, ("case",)).astype(np.float64)
        return RetrievalHits(
            articles=rrf([bm25_order, dense_order]),
            article_bm25=bm25_order,
            article_dense=article_dense,
            case_dense=CaseScores(self.case_space, self._dense_case_rows, case_dense),
            case_bm25=CaseScores(self.case_space, self._bm25_case_rows[case_hit], case_bm25),
        )

    def search(self, query: str, k: int = 5, vector: list[float] | None = None) -> list[Hit]:
        return self.retrieve(query, vector).articles[:k]


def open_retriever(*, build_if_stale: bool = True, settings: Settings | None = None,
                   embeddings: Embeddings | None = None, catalogue: Catalogue | None = None) -> Retriever:
    """`catalogue`: one already loaded (a triage worker's rules hold one); used when it is of the configured kb/."""
    from ingest.indexer import ingest, is_stale
    from service.store import LazyStore, open_vector_store

    settings = settings or get_settings()
    if catalogue is None or Path(catalogue.root).resolve() != Path(settings.kb_dir).resolve():
        catalogue = Catalogue.load(settings.kb_dir)
    embeddings = embeddings or PackagedEmbeddings(settings.embedding_model)
    if build_if_stale and is_stale(settings, catalogue):
        ingest(settings=settings, embeddings=embeddings)
    store = LazyStore(lambda: open_vector_store(settings, embeddings, settings.embedding_model))
    return Retriever(catalogue, store, embeddings, dense=_dense_index(settings, catalogue, store))


def _dense_index(settings: Settings, catalogue: Catalogue, store) -> DenseIndex:  # noqa: ANN001 - LazyStore
    """The store's vectors: from the snapshot when the index is current (no Chroma opened; service/vector_snapshot),
    else read from the store."""
    from ingest.indexer import current_state
    from service.vector_snapshot import rows_at

    state = None if settings.chroma_host else current_state(settings, catalogue)
    return DenseIndex(*rows_at(settings, state, store)) if state is not None else DenseIndex.from_store(store)
