"""POST /v1/admin/reindex: rebuild the index (needs the API key; off when none is configured)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from service.api.deps import AdminAccess, EngineDep
from service.api.errors import ERROR_RESPONSES
from service.api.schemas import ReindexResult

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[AdminAccess])


@router.post("/reindex", response_model=ReindexResult, responses=ERROR_RESPONSES)
async def reindex(engine: EngineDep) -> ReindexResult:
    """Re-ingest kb/ into the vector store (incremental: unchanged articles are skipped)."""
    from ingest.indexer import ingest

    def run() -> ReindexResult:
        with engine.lock:
            embeddings = engine.retriever.embeddings if engine.retriever is not None else None
            result = ingest(settings=engine.settings, embeddings=embeddings)
        return ReindexResult(**asdict(result))

    return await run_in_threadpool(run)
