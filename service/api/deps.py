"""Per-process engine state and the auth dependencies, written as `Annotated` aliases for the routes."""

from __future__ import annotations

import gc
import hmac
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from service.api.batching import BatchingEmbeddings, CpuPool, freeze_loaded_heap, limit_blas_threads
from service.api.errors import ApiError
from service.config import Settings
from service.kb import Catalogue
from service.rules import RuleSet

if TYPE_CHECKING:
    from service.retrieval import Retriever

log = logging.getLogger("tunedoc.api")
RECOVERY_INTERVAL = 10.0  # seconds between attempts to reopen a failed index (a freed disk, a restarted server)


@dataclass
class Engine:
    """What every request needs: the compiled rules and the retriever (opened once, in the lifespan)."""

    settings: Settings
    rules: RuleSet
    retriever: Retriever | None = None
    startup_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_attempt: float = 0.0
    # CPU-bound request work runs here (bounded, sized to this worker's cores), not in Starlette's 40 threads.
    pool: CpuPool = field(default_factory=CpuPool)

    def _embeddings(self) -> BatchingEmbeddings:
        """The engine's embedding model: one BLAS thread, concurrent requests' queries embedded in one batch."""
        current = self.retriever
        if current is not None and isinstance(current.embeddings, BatchingEmbeddings):
            return current.embeddings
        from service.embeddings import PackagedEmbeddings

        limit_blas_threads(1)
        return BatchingEmbeddings(PackagedEmbeddings(self.settings.embedding_model, threads=1), pool=self.pool)

    def reload(self, *, retrieval: bool = True) -> None:
        """Compile the rules and open the retriever for kb/ as it is now, then swap both in at once: a request sees
        the old engine or the new one, never rules of one KB with the index of another."""
        self.last_attempt = time.monotonic()
        gc.unfreeze()  # the engine being replaced must be collectable once it is dropped
        rules = RuleSet(Catalogue.load(self.settings.kb_dir))
        rules.warm()
        retriever = None
        error = None
        if retrieval:
            try:
                from service.retrieval import open_retriever

                embeddings = self._embeddings()
                retriever = open_retriever(build_if_stale=True, settings=self.settings, embeddings=embeddings)
                if not embeddings.loaded:
                    embeddings.inner.embed_query("warm up")  # load the model now, not on the first request
            except Exception as exc:  # the API still diagnoses without retrieval; /readyz reports why
                log.exception("retrieval unavailable")
                error = f"{type(exc).__name__}: {exc}"
        with self.lock:
            self.rules, self.startup_error = rules, error
            if retriever is not None or not retrieval:
                self.retriever = retriever
        freeze_loaded_heap()

    def recover_if_due(self) -> None:
        """After a failure (disk full, store unreachable), try again now and then instead of needing a restart."""
        if time.monotonic() - self.last_attempt >= RECOVERY_INTERVAL:
            self.reload()

    def require_retriever(self):  # noqa: ANN201 - service.retrieval.Retriever, imported lazily
        if self.retriever is None:
            raise ApiError(503, f"the search index is not ready: {self.startup_error or 'still starting'}")
        return self.retriever


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def _check_key(request: Request, key: str) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
        raise ApiError(401, "missing or wrong API key: send `Authorization: Bearer <TUNEDOC_API_KEY>`")


def require_read_access(request: Request, engine: Annotated[Engine, Depends(get_engine)]) -> None:
    if engine.settings.read_requires_key and engine.settings.api_key:
        _check_key(request, engine.settings.api_key)


def require_admin(request: Request, engine: Annotated[Engine, Depends(get_engine)]) -> None:
    if not engine.settings.api_key:
        raise ApiError(403, "admin routes are disabled: set TUNEDOC_API_KEY on the server to enable them")
    _check_key(request, engine.settings.api_key)


EngineDep = Annotated[Engine, Depends(get_engine)]
ReadAccess = Depends(require_read_access)
AdminAccess = Depends(require_admin)
