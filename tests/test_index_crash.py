"""Crash-safe index: `tunedoc ingest` killed with SIGKILL at random points, then re-run, leaves every article present
exactly once, no orphan chunks and no stale versions; `tunedoc index verify` sees drift and `--repair` mends it."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from ingest.verify import repair, verify
from service.config import get_settings
from service.embeddings import PackagedEmbeddings
from service.store import open_vector_store
from tests.test_index_and_retrieval import small_kb

BIN = str(Path(sys.executable).with_name("tunedoc"))
IDS = ["bf16-numerical-instability", "fp16-overflow", "nccl-p2p-hang", "cuda-oom-training", "dataset-not-registered"]


def _env(kb: Path, data: Path) -> dict:
    return {**os.environ, "TUNEDOC_KB_DIR": str(kb), "TUNEDOC_DATA_DIR": str(data), "TUNEDOC_COLLECTION": "t-crash"}


def _store_texts(settings, embeddings) -> list[tuple[str, str]]:
    got = open_vector_store(settings, embeddings, settings.embedding_model).get(include=["metadatas", "documents"])
    return [(m["source"], d) for m, d in zip(got["metadatas"], got["documents"], strict=False)]


def test_sigkill_during_ingest_then_rerun_is_consistent(tmp_path: Path):
    kb, data = small_kb(tmp_path, IDS), tmp_path / "data"
    env = _env(kb, data)
    assert subprocess.run([BIN, "ingest"], env=env, capture_output=True, timeout=300).returncode == 0
    rng = random.Random(1234)
    article = next(kb.glob("fp16-overflow.md"))
    original = article.read_text()
    for round_number in range(4):
        # change one article (its old chunks become stale) and remove another in the first round
        article.write_text(original.replace("## Fix\n", f"## Fix\n\nRevision {round_number} note.\n", 1))
        if round_number == 0:
            for path in kb.glob("dataset-not-registered.*"):
                path.unlink()
        proc = subprocess.Popen([BIN, "ingest"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 5.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = subprocess.run([BIN, "ingest"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    settings = replace(get_settings(), kb_dir=kb, data_dir=data, collection="t-crash")
    embeddings = PackagedEmbeddings(settings.embedding_model)
    drift = verify(settings, embeddings)
    assert drift.clean, drift.summary()
    texts = _store_texts(settings, embeddings)
    assert not any("Revision 2 note" in t for _, t in texts)  # no stale version of the changed article
    assert any("Revision 3 note" in t for _, t in texts)
    assert not any(s.endswith("dataset-not-registered") for s, _ in texts)
    verified = subprocess.run([BIN, "index", "verify"], env=env, capture_output=True, text=True, timeout=300)
    assert verified.returncode == 0 and "consistent" in verified.stdout


def test_verify_reports_drift_and_repair_mends_it(tmp_path: Path):
    kb, data = small_kb(tmp_path, IDS[:3]), tmp_path / "data"
    settings = replace(get_settings(), kb_dir=kb, data_dir=data, collection="t-repair")
    embeddings = PackagedEmbeddings(settings.embedding_model)
    from ingest.indexer import ingest

    ingest(settings=settings, embeddings=embeddings)
    store = open_vector_store(settings, embeddings, settings.embedding_model)
    ids = store.get()["ids"]
    store.delete(ids=ids[:2])  # lose two chunks (their records still say they exist)
    store.add_texts(["an orphan chunk"], metadatas=[{"article_id": "x", "category": "x", "kind": "article",
                                                     "source": "article:gone", "lang": "en", "chunk": 0}])
    drift = verify(settings, embeddings)
    assert len(drift.missing) == 2 and len(drift.unexpected) == 1 and not drift.clean
    assert repair(settings, embeddings).clean
    shutil.rmtree(data)
