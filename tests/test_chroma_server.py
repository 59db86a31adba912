"""Server mode: the same ingest and search against a real `chroma run` on loopback, started and stopped here."""

import socket
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from ingest.indexer import ingest
from service.config import get_settings
from service.embeddings import PackagedEmbeddings
from service.kb import Catalogue
from service.retrieval import Retriever
from service.store import open_vector_store
from tests.services import running
from tests.test_index_and_retrieval import small_kb


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def chroma_server(tmp_path: Path):
    chroma = Path(sys.executable).with_name("chroma")
    port = _free_port()
    with running([str(chroma), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
                 f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=60):
        yield port


def test_ingest_and_search_through_a_chroma_server(tmp_path, chroma_server):
    kb = small_kb(tmp_path, ["cuda-oom-training", "nccl-p2p-hang", "fp16-overflow"])
    settings = replace(get_settings(), kb_dir=kb, data_dir=tmp_path / "data", collection="t-server",
                       chroma_host="127.0.0.1", chroma_port=chroma_server)
    embeddings = PackagedEmbeddings(settings.embedding_model)
    first = ingest(settings=settings, embeddings=embeddings)
    assert first.added > 0 and first.location.startswith("http://127.0.0.1:")
    assert ingest(settings=settings, embeddings=embeddings).added == 0
    store = open_vector_store(settings, embeddings, settings.embedding_model)
    retriever = Retriever(Catalogue.load(kb), store, embeddings)
    assert retriever.search("OVERFLOW! Rank 0 Skipping step, loss scale at minimum", k=1)[0].id == "fp16-overflow"
