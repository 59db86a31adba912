"""Ask the knowledge base: hybrid retrieval, answered in the language of the question. Shared by the API, the MCP
server and the chat."""

from __future__ import annotations

from service.text import detect_lang


def search_kb(retriever, query: str, k: int = 5) -> list[dict]:  # noqa: ANN001 - service.retrieval.Retriever
    lang = detect_lang(query.splitlines())
    by_id = retriever.catalogue.by_id
    return [
        {"id": hit.id, "category": by_id[hit.id].category, "title": by_id[hit.id].title.pick(lang),
         "summary": by_id[hit.id].summary.pick(lang), "score": hit.score}
        for hit in retriever.search(query, k=k)
    ]


# Calibrated on benchmarks/questions.jsonl against off-topic questions: every KB question's best chunk scored
# >= 0.348 cosine, off-topic ones <= 0.337 (with weak BM25). Below this, say that nothing matches.
MATCH_MIN_SIMILARITY = 0.34


def answer_question(retriever, query: str, k: int = 3) -> tuple[list[dict], bool]:  # noqa: ANN001
    """Hits for a free-text question and whether the best one really matches (else: say so, never invent)."""
    dense = retriever.dense_ranking(query)
    matched = bool(dense) and dense[0][1] >= MATCH_MIN_SIMILARITY
    return search_kb(retriever, query, k), matched
