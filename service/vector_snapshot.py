"""A read-only snapshot of the vectors in the embedded Chroma store, written when an index run completes.

Retrieval searches its own copy of the stored vectors (service/vectors.py `DenseIndex`), which it used to read back
from Chroma at every start: importing chromadb and langchain-chroma, opening the client and fetching every embedding
(~1.2 s of a triage worker's start, paid by each worker). The snapshot holds exactly what that read returns, as one
uncompressed .npz (no pickle) next to the index state file, labelled with the index state it was taken at; a
retriever uses it only when that label is the state of a current index, and otherwise reads the store as before
(and refreshes the snapshot). Chroma stays the store: ingest writes it, `/readyz` and `index verify` ask it. A
Chroma server (`TUNEDOC_CHROMA_HOST`) is always read directly: other machines may index into it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np

from service.config import Settings
from service.store import collection_name
from service.vectors import Chunk, store_rows

log = logging.getLogger(__name__)
FORMAT = 1


def snapshot_path(settings: Settings) -> Path:
    return settings.data_dir / f"vectors-{collection_name(settings, settings.embedding_model)}.npz"


def rows_at(settings: Settings, state: dict[str, str], store, *, reread: bool = False,  # noqa: ANN001 - the store
            ) -> tuple[list[Chunk], np.ndarray]:
    """The store's chunks and vectors at index state `state` (current): from the snapshot, or read from the store
    and the snapshot rewritten when `reread` (the store just changed) or the snapshot is not of this state."""
    path = snapshot_path(settings)
    rows = None if reread else load(path, state)
    if rows is None:
        rows = store_rows(store)
        save(path, state, *rows)
    return rows


def save(path: Path, state: dict[str, str], chunks: list[Chunk], vectors: np.ndarray) -> None:
    """Write atomically; a failure (read-only or full disk) only means the next start reads the store."""
    meta = json.dumps({"format": FORMAT, "state": state,
                       "chunks": [[c.kind, c.owner, c.category, c.lang] for c in chunks]}, ensure_ascii=False)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as out:
            np.savez(out, vectors=np.ascontiguousarray(vectors, dtype=np.float32), meta=np.array(meta))
        os.replace(tmp, path)
    except OSError as exc:
        log.info("vector snapshot not written (%s): the next start reads the store", exc)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: Path, state: dict[str, str]) -> tuple[list[Chunk], np.ndarray] | None:
    """The snapshot's chunks and vectors if it was taken at `state`; None if it is missing, of another state or
    unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != FORMAT or meta.get("state") != state:
                return None
            vectors = data["vectors"]
        chunks = [Chunk(*row) for row in meta["chunks"]]
        if vectors.dtype != np.float32 or vectors.ndim != 2 or len(vectors) != len(chunks):
            raise ValueError("vectors and chunks disagree")
        return chunks, vectors
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - a damaged snapshot is ignored, the store is read instead
        log.warning("vector snapshot %s unreadable (%s): reading the store", path, exc)
        return None
