"""`tunedoc index verify`: compare the vector store with kb/ and report drift; `--repair` fixes it.

Drift: expected chunks that are missing, chunks that are not expected (stale versions of changed articles, removed
articles, orphans of a killed ingest) and chunks stored more than once. Repair deletes what should not be there and
re-ingests; when a chunk is missing although its record exists, it re-ingests with force.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from service.config import Settings, get_settings
from service.embeddings import PackagedEmbeddings
from service.kb import Catalogue
from service.store import open_vector_store


def _key(source: str, chunk: int, text: str) -> tuple[str, int, str]:
    return source, int(chunk), hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class Drift:
    expected: int
    stored: int
    missing: list[tuple[str, int, str]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # store ids
    duplicates: list[str] = field(default_factory=list)  # surplus store ids

    @property
    def clean(self) -> bool:
        return not (self.missing or self.unexpected or self.duplicates)

    def summary(self) -> str:
        state = "consistent" if self.clean else "DRIFT"
        return (f"index {state}: {self.expected} chunks expected, {self.stored} stored; {len(self.missing)} missing, "
                f"{len(self.unexpected)} stale or orphaned, {len(self.duplicates)} duplicated")


def verify(settings: Settings | None = None, embeddings: PackagedEmbeddings | None = None) -> Drift:
    from ingest.documents import build_documents

    settings = settings or get_settings()
    embeddings = embeddings or PackagedEmbeddings(settings.embedding_model)
    expected = Counter(_key(d.metadata["source"], d.metadata["chunk"], d.page_content)
                       for d in build_documents(Catalogue.load(settings.kb_dir)))
    store = open_vector_store(settings, embeddings, settings.embedding_model)
    got = store.get(include=["metadatas", "documents"])
    seen: dict[tuple[str, int, str], str] = {}
    drift = Drift(expected=sum(expected.values()), stored=len(got["ids"]))
    for store_id, meta, text in sorted(zip(got["ids"], got["metadatas"], got["documents"], strict=False)):
        key = _key(str(meta.get("source")), meta.get("chunk", 0), text or "")
        if key not in expected:
            drift.unexpected.append(store_id)
        elif key in seen:
            drift.duplicates.append(store_id)
        else:
            seen[key] = store_id
    drift.missing = sorted(k for k in expected if k not in seen)
    return drift


def repair(settings: Settings | None = None, embeddings: PackagedEmbeddings | None = None) -> Drift:
    from ingest.indexer import ingest

    settings = settings or get_settings()
    embeddings = embeddings or PackagedEmbeddings(settings.embedding_model)
    drift = verify(settings, embeddings)
    if drift.unexpected or drift.duplicates:
        store = open_vector_store(settings, embeddings, settings.embedding_model)
        store.delete(ids=drift.unexpected + drift.duplicates)
    ingest(settings=settings, embeddings=embeddings, force=bool(drift.missing))
    return verify(settings, embeddings)
