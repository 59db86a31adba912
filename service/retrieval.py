"""Hybrid retrieval over the knowledge base: BM25 over whole articles plus dense search over Chroma chunks, fused
by reciprocal rank fusion. Retrieval answers questions and fills `related`; it never makes a diagnosis.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.bm25 import BM25
from service.config import Settings, get_settings
from service.embeddings import PackagedEmbeddings
from service.kb import Article, Catalogue

RRF_K = 60
DENSE_CHUNKS = 24


@dataclass(frozen=True)
class Hit:
    id: str
    score: float


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
    def __init__(self, catalogue: Catalogue, store, embeddings: PackagedEmbeddings):  # noqa: ANN001 - Chroma
        self.catalogue = catalogue
        self.store = store
        self.embeddings = embeddings
        # tunedoc's own index also knows the trigger fixtures; the baseline BM25 sees the articles alone.
        self.bm25 = BM25({
            a.id: article_text(a, [f.text for f in catalogue.fixtures.get(a.id, []) if f.kind == "trigger"])
            for a in catalogue.articles
        })
        self.bm25_articles = BM25({a.id: article_text(a, []) for a in catalogue.articles})

    def bm25_ranking(self, query: str, *, articles_only: bool = False) -> list[str]:
        index = self.bm25_articles if articles_only else self.bm25
        return [doc_id for doc_id, _ in index.scores(query)]

    def dense_ranking(self, query: str, kinds: tuple[str, ...] = ("article", "fixture"),
                      vector: list[float] | None = None) -> list[tuple[str, float]]:
        """Articles in order of their best chunk (cosine similarity). `vector`: the query, already embedded."""
        # Every chunk is an article or a fixture: filter only for a subset (a filter doubles the query time).
        where = None if set(kinds) >= {"article", "fixture"} else {"kind": {"$in": list(kinds)}}
        vector = vector if vector is not None else self.embeddings.embed_query(query)
        # langchain-chroma's by-vector search returns Chroma's raw cosine *distance*: similarity = 1 - distance.
        results = self.store.similarity_search_by_vector_with_relevance_scores(vector, k=DENSE_CHUNKS, filter=where)
        best: dict[str, float] = {}
        for doc, distance in results:
            article_id = doc.metadata["article_id"]
            if article_id in self.catalogue.by_id:
                best[article_id] = max(best.get(article_id, -1.0), round(1.0 - float(distance), 6))
        return sorted(best.items(), key=lambda x: (-x[1], x[0]))

    def chunk_count(self) -> int:
        from ingest.indexer import store_count

        return store_count(self.store)

    def search(self, query: str, k: int = 5, vector: list[float] | None = None) -> list[Hit]:
        if not query.strip():
            return []
        dense = [doc_id for doc_id, _ in self.dense_ranking(query, vector=vector)]
        return rrf([self.bm25_ranking(query), dense])[:k]


def open_retriever(*, build_if_stale: bool = True, settings: Settings | None = None,
                   embeddings: PackagedEmbeddings | None = None) -> Retriever:
    from ingest.indexer import ingest, is_stale
    from service.store import open_vector_store

    settings = settings or get_settings()
    catalogue = Catalogue.load(settings.kb_dir)
    embeddings = embeddings or PackagedEmbeddings(settings.embedding_model)
    if build_if_stale and is_stale(settings, catalogue):
        ingest(settings=settings, embeddings=embeddings)
    store = open_vector_store(settings, embeddings, settings.embedding_model)
    return Retriever(catalogue, store, embeddings)
