"""Build or update the vector index of kb/ through langchain-core's indexing API.

Idempotent and incremental: documents are keyed by content hash in a SQLite record manager, so unchanged articles
are not re-embedded and removed ones are deleted (`cleanup="full"`). A state file records the KB fingerprint and
model of the last complete run; `is_stale()` compares it, so `diagnose` can build the index on first use.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from langchain_core.embeddings import Embeddings

from service.config import Settings, get_settings
from service.embeddings import PackagedEmbeddings
from service.errors import IndexUnavailableError
from service.kb import Catalogue
from service.store import collection_name, open_vector_store, store_location


@dataclass(frozen=True)
class IngestResult:
    added: int
    updated: int
    skipped: int
    deleted: int
    seconds: float
    location: str
    model: str

    def summary(self) -> str:
        return (f"indexed kb/ into {self.location} with {self.model}: {self.added} added, {self.updated} updated, "
                f"{self.skipped} unchanged, {self.deleted} deleted in {self.seconds:.1f}s")


def _state_path(settings: Settings, model: str) -> Path:
    return settings.data_dir / f"index-state-{collection_name(settings, model)}.json"


def _wanted_state(settings: Settings, catalogue: Catalogue, model: str) -> dict[str, str]:
    return {"kb": catalogue.fingerprint, "model": model, "store": store_location(settings)}


def store_count(store) -> int:  # noqa: ANN001 - langchain_chroma.Chroma
    """Chunks in the vector store (langchain-chroma exposes no public count; this is the one place that asks)."""
    return int(store._collection.count())


def current_state(settings: Settings, catalogue: Catalogue) -> dict[str, str] | None:
    """The state of the index when its last complete run indexed this kb/ with this model; None when stale."""
    wanted = _wanted_state(settings, catalogue, settings.embedding_model)
    try:
        return wanted if json.loads(_state_path(settings, settings.embedding_model).read_text()) == wanted else None
    except (OSError, ValueError):
        return None


def is_stale(settings: Settings | None = None, catalogue: Catalogue | None = None) -> bool:
    settings = settings or get_settings()
    return current_state(settings, catalogue or Catalogue.load(settings.kb_dir)) is None


def _write_state(path: Path, state: dict[str, str]) -> None:
    # Write-then-rename: a crash leaves the old state (so the next run redoes the work), never a torn file.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, sort_keys=True))
    os.replace(tmp, path)


def ingest(*, force: bool = False, settings: Settings | None = None,
           embeddings: Embeddings | None = None) -> IngestResult:
    from langchain_core.indexing import index

    from ingest.documents import build_documents
    from ingest.records import SQLiteRecordManager

    started = time.perf_counter()
    settings = settings or get_settings()
    model = settings.embedding_model
    embeddings = embeddings or PackagedEmbeddings(model)
    catalogue = Catalogue.load(settings.kb_dir)
    store = open_vector_store(settings, embeddings, model)
    name = collection_name(settings, model)
    try:
        records = SQLiteRecordManager(f"{store_location(settings)}/{name}", settings.data_dir / "records.sqlite")
        records.list_keys(limit=1)  # a corrupt records file fails here, with a clear error below
    except sqlite3.DatabaseError as exc:
        raise IndexUnavailableError(f"the record manager {settings.data_dir / 'records.sqlite'} is unreadable "
                                    f"({exc}): delete it and run `tunedoc ingest --force`") from exc
    try:
        if store_count(store) < len(records.list_keys()):
            # The store lost chunks the records say it has (a deleted or replaced chroma.sqlite3): the records
            # would make `index` skip them as unchanged, so forget them and rebuild.
            records.delete_keys(records.list_keys())
        result = index(build_documents(catalogue), records, store, cleanup="full", source_id_key="source",
                       force_update=force, key_encoder="sha256")
    finally:
        records.close()
    state = _wanted_state(settings, catalogue, model)
    _write_state(_state_path(settings, model), state)
    if not settings.chroma_host:  # the snapshot of the embedded store a retriever starts from (service/vector_snapshot)
        from service.vector_snapshot import rows_at

        changed = result["num_added"] or result["num_updated"] or result["num_deleted"]
        rows_at(settings, state, store, reread=bool(changed))
    return IngestResult(result["num_added"], result["num_updated"], result["num_skipped"], result["num_deleted"],
                        time.perf_counter() - started, store_location(settings), model)
