"""GET /healthz (the process is up) and GET /readyz (index built, model loaded, store reachable)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.api.deps import EngineDep
from service.api.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up."""
    return Health(status="ok")


def _checks(engine, is_stale) -> dict[str, object]:  # noqa: ANN001
    checks: dict[str, object] = {"rules": len(engine.rules.catalogue.articles)}
    retriever = engine.retriever
    checks["model_loaded"] = bool(retriever is not None and retriever.embeddings.loaded)
    try:
        checks["index_current"] = retriever is not None and not is_stale(engine.settings, engine.rules.catalogue)
        checks["store_chunks"] = retriever.chunk_count() if retriever is not None else 0
        checks["store_reachable"] = retriever is not None
    except Exception as exc:  # noqa: BLE001 - any store failure means "not ready", reported, not raised
        checks["store_reachable"] = False
        checks["store_error"] = str(exc)[:200]
    if engine.startup_error:
        checks["startup_error"] = engine.startup_error
    return checks


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness,
                                                                   "description": "Not ready yet"}})
def readyz(engine: EngineDep):  # noqa: ANN201 - Readiness or a 503 with the same shape
    """Ready to answer: rules compiled, index built for this KB, embedding model loaded, store reachable."""
    from ingest.indexer import is_stale

    checks: dict[str, object] = {}
    for attempt in range(2):
        checks = _checks(engine, is_stale)
        if attempt or all(checks.get(k) for k in ("model_loaded", "index_current", "store_reachable", "store_chunks")):
            break
        engine.recover_if_due()  # a freed disk or a restarted Chroma server: ready again without a restart
    ready = all(checks.get(k) for k in ("model_loaded", "index_current", "store_reachable", "store_chunks"))
    body = Readiness(status="ready" if ready else "not_ready", checks=checks)
    return body if ready else JSONResponse(body.model_dump(), status_code=503)
