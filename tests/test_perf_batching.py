"""The API's request pool and embedding micro-batching: bounded CPU concurrency, and batched vectors that equal the
single calls (to 1e-5) for real-size pastes' salient texts."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from benchmarks.pastes import real_paste_factory
from service.api.batching import BatchingEmbeddings, CpuPool
from service.embeddings import PackagedEmbeddings
from service.parse import parse
from service.pipeline import as_parts
from service.salient import salient_text
from service.signals import extract_signals


@pytest.fixture(scope="module")
def model() -> PackagedEmbeddings:
    return PackagedEmbeddings("use-multilingual", threads=1)


@pytest.fixture(scope="module")
def queries() -> list[str]:
    make = real_paste_factory(21)
    texts = [make() for _ in range(48)]
    return [salient_text(p := parse(as_parts(t)), extract_signals(p)) for t in texts]


@pytest.mark.slow
def test_batched_forward_pass_equals_single_calls(model, queries):
    single = np.array([model.embed_query(q) for q in queries])
    for size in (2, 5, 16, len(queries)):
        batched = np.vstack([np.array(model.embed_documents(queries[i:i + size]))
                             for i in range(0, len(queries), size)])
        assert np.abs(batched - single).max() <= 1e-5, size


@pytest.mark.slow
def test_concurrent_queries_are_batched_and_each_gets_its_own_vector(model, queries):
    single = {q: np.array(model.embed_query(q)) for q in queries}
    pool = CpuPool(slots=1, threads=12)
    batching = BatchingEmbeddings(model, max_batch=8, pool=pool)
    try:
        futures = [pool.submit(batching.embed_query, q) for q in queries]
        vectors = [np.array(f.result(timeout=120)) for f in futures]
    finally:
        batching.close()
        pool.shutdown()
    for q, v in zip(queries, vectors, strict=False):
        assert np.abs(v - single[q]).max() <= 1e-5
    assert batching.texts == len(queries)
    assert batching.batches < len(queries)  # some were embedded together
    assert batching.loaded and batching.name == "use-multilingual"  # attributes fall through to the model


def test_pool_bounds_cpu_concurrency():
    pool = CpuPool(slots=2, threads=8)
    lock = threading.Lock()
    running = peak = 0

    def work() -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1

    try:
        for f in [pool.submit(work) for _ in range(40)]:
            f.result(timeout=30)
    finally:
        pool.shutdown()
    assert peak == 2


def test_batching_errors_reach_every_waiting_caller():
    class Broken:
        loaded = True

        def embed_documents(self, texts):  # noqa: ANN001, ANN201
            raise RuntimeError("model failed")

    batching = BatchingEmbeddings(Broken(), max_batch=4)  # type: ignore[arg-type]
    try:
        with ThreadPoolExecutor(4) as ex:
            futures = [ex.submit(batching.embed_query, f"q{i}") for i in range(4)]
            for f in futures:
                with pytest.raises(RuntimeError, match="model failed"):
                    f.result(timeout=30)
    finally:
        batching.close()
