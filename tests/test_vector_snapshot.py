"""The vector snapshot (service/vector_snapshot.py): a retriever started from it has the store's exact vectors,
never opens Chroma, and a snapshot of another index state or a damaged one is not trusted."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from service import vector_snapshot
from service.config import get_settings
from service.store import open_vector_store
from service.vectors import DenseIndex

REPO = Path(__file__).resolve().parents[1]


def _snapshot(data: Path) -> Path:
    return data / vector_snapshot.snapshot_path(get_settings()).name


def _from_store(data: Path) -> DenseIndex:
    from dataclasses import replace

    from service.embeddings import PackagedEmbeddings

    settings = replace(get_settings(), data_dir=data)
    return DenseIndex.from_store(open_vector_store(settings, PackagedEmbeddings(settings.embedding_model),
                                                   settings.embedding_model))


def test_ingest_writes_a_snapshot_equal_to_the_store(data_dir, retriever):
    assert _snapshot(data_dir).exists()
    store = _from_store(data_dir)
    assert retriever.dense.chunks == store.chunks and len(store.chunks) > 1000
    assert np.array_equal(retriever.dense.matrix, store.matrix)


def _copy(data_dir: Path, data: Path) -> Path:
    """A copy of the session's data dir whose index state names the copy's store (the state records the location),
    with the snapshot relabelled to match: what a data dir indexed in place looks like."""
    shutil.copytree(data_dir, data)
    for state_file in data.glob("index-state-*.json"):
        state = json.loads(state_file.read_text())
        state["store"] = str(data / "chroma")
        state_file.write_text(json.dumps(state, sort_keys=True))
    snapshot = _snapshot(data)
    with np.load(snapshot) as saved:
        meta, vectors = json.loads(str(saved["meta"])), saved["vectors"]
    meta["state"]["store"] = str(data / "chroma")
    with snapshot.open("wb") as out:
        np.savez(out, vectors=vectors, meta=np.array(json.dumps(meta)))
    return data


def _open_in_a_new_process(data: Path) -> dict:
    """open_retriever + one retrieval in a fresh interpreter: which modules it loaded and what it found."""
    code = ("import json, sys\nfrom service.retrieval import open_retriever\n"
            "r = open_retriever(build_if_stale=False)\n"
            "hits = [h.id for h in r.search('CUDA out of memory. Tried to allocate 2.00 GiB', k=3)]\n"
            "print(json.dumps({'hits': hits, 'chroma': sorted(m for m in sys.modules if 'chroma' in m),"
            " 'opened': r.store.opened, 'rows': len(r.dense)}))\n")
    env = {**os.environ, "TUNEDOC_DATA_DIR": str(data)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=300, check=True)
    return {**json.loads(proc.stdout.splitlines()[-1]), "stderr": proc.stderr}


def test_a_retriever_started_from_the_snapshot_never_loads_chroma(tmp_path, data_dir, retriever):
    data = _copy(data_dir, tmp_path / "data")
    seen = _open_in_a_new_process(data)
    assert seen["chroma"] == [] and seen["opened"] is False, seen
    assert seen["hits"] == [h.id for h in retriever.search("CUDA out of memory. Tried to allocate 2.00 GiB", k=3)]
    assert seen["rows"] == len(retriever.dense)


def test_a_snapshot_of_another_state_or_a_damaged_one_is_replaced_from_the_store(tmp_path, data_dir, retriever,
                                                                                  caplog):
    data = _copy(data_dir, tmp_path / "data")
    snapshot = _snapshot(data)
    with np.load(snapshot) as saved:
        meta = json.loads(str(saved["meta"]))
        vectors = saved["vectors"]
    meta["state"]["kb"] = "an-older-kb"
    with snapshot.open("wb") as out:  # another state's snapshot holding wrong vectors: must not be used
        np.savez(out, vectors=np.zeros_like(vectors), meta=np.array(json.dumps(meta)))
    seen = _open_in_a_new_process(data)
    assert seen["opened"] is True and seen["rows"] == len(retriever.dense)
    assert seen["hits"] == [h.id for h in retriever.search("CUDA out of memory. Tried to allocate 2.00 GiB", k=3)]
    with np.load(snapshot) as saved:  # rewritten from the store, at the current state
        assert np.array_equal(saved["vectors"], vectors)

    snapshot.write_bytes(b"not an npz")
    with caplog.at_level(logging.WARNING, logger="service.vector_snapshot"):
        assert vector_snapshot.load(snapshot, meta["state"]) is None
    assert "unreadable" in caplog.text
    seen = _open_in_a_new_process(data)
    assert seen["opened"] is True and seen["rows"] == len(retriever.dense)
