"""POST /v1/search: ask the knowledge base (hybrid retrieval)."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import EngineDep, ReadAccess
from service.api.errors import ERROR_RESPONSES
from service.api.schemas import SearchHit, SearchRequest, SearchResponse
from service.search import search_kb

router = APIRouter(prefix="/v1", tags=["search"], dependencies=[ReadAccess])


@router.post("/search", response_model=SearchResponse, responses=ERROR_RESPONSES)
async def search_route(body: SearchRequest, engine: EngineDep) -> SearchResponse:
    """Hybrid (BM25 + dense) retrieval over the articles, with scores."""
    retriever = engine.require_retriever()
    hits = await engine.pool.run(search_kb, retriever, body.query, body.k)
    return SearchResponse(query=body.query, results=[SearchHit(**hit) for hit in hits])
