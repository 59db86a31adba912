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
