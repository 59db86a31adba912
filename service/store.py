"""Open the Chroma store: embedded PersistentClient by default, a Chroma server when TUNEDOC_CHROMA_HOST is set.

The collection is created without a Chroma-side embedding function (tunedoc embeds), so Chroma never tries to
fetch its default ONNX model; telemetry is off.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from langchain_core.embeddings import Embeddings

from service.config import Settings
from service.errors import IndexUnavailableError


def collection_name(settings: Settings, model: str) -> str:
    return f"{settings.collection}-{model}"


def store_location(settings: Settings) -> str:
    if settings.chroma_host:
        return f"http://{settings.chroma_host}:{settings.chroma_port or 8000}"
    return str(settings.data_dir / "chroma")


def open_client(settings: Settings):  # noqa: ANN201 - chromadb client types differ by mode
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_host:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port or 8000,
                                       settings=chroma_settings)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.data_dir / "chroma"), settings=chroma_settings)
    except Exception as exc:  # chromadb raises plain exceptions for unreachable servers and bad paths
        raise IndexUnavailableError(f"cannot open the Chroma store at {store_location(settings)}: {exc}") from exc


def open_vector_store(settings: Settings, embeddings: Embeddings, model: str):  # noqa: ANN201
    from langchain_chroma import Chroma

    return Chroma(
        collection_name=collection_name(settings, model),
        embedding_function=embeddings,
        client=open_client(settings),
        collection_metadata={"hnsw:space": "cosine"},
    )


class LazyStore:
    """The vector store, opened on first use. A retriever whose vectors came from the snapshot
    (service/vector_snapshot.py) never needs the store to answer; `/readyz` and the chunk count open it."""

    def __init__(self, opener: Callable[[], Any]) -> None:
        self._opener = opener
        self._opened: Any = None
        self._lock = threading.Lock()

    @property
    def opened(self) -> bool:
        return self._opened is not None

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - whatever the store has
        if self._opened is None:
            with self._lock:
                if self._opened is None:
                    self._opened = self._opener()
        return getattr(self._opened, name)
