"""POST /v1/admin/reindex: rebuild the index (needs the API key; off when none is configured)."""

from __future__ import annotations

import threading

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from ingest.indexer import IngestResult
from service.api.deps import AdminAccess, EngineDep
from service.api.errors import ERROR_RESPONSES

_reindexing = threading.Lock()  # one reindex at a time; requests keep using the current engine meanwhile
router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[AdminAccess])


@router.post("/reindex", response_model=IngestResult, responses=ERROR_RESPONSES)
async def reindex(engine: EngineDep) -> IngestResult:
    """Re-ingest kb/ into the vector store (incremental: unchanged articles are skipped)."""
    from ingest.indexer import ingest

    def run() -> IngestResult:
        with _reindexing:
            embeddings = engine.retriever.embeddings if engine.retriever is not None else None
            result = ingest(settings=engine.settings, embeddings=embeddings)
            engine.reload()  # rules, BM25 and vectors of the new kb/ are swapped in together
            return result

    return await run_in_threadpool(run)
