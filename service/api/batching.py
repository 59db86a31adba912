"""Request execution for the API: a bounded CPU pool sized to the cores, and micro-batched embeddings.

Starlette runs sync work in a 40-thread pool; on a 2-core box 40 threads fighting over the GIL (and each BLAS call
spinning up its own threads) make 32 concurrent clients slower than one. Here:

- `CpuPool`: requests run on a small bounded thread pool, and CPU work holds one of `slots` permits (the cores this
  worker process owns), so at most `slots` threads compute at once whatever the number of clients.
- `BatchingEmbeddings`: a request that reaches its embedding gives its permit back and queues its text; one
  embedding thread takes every queued text (up to `max_batch`) and embeds them in one forward pass with a permit of
  its own, then hands each request its vector. Batches form while the previous one is computing and while other
  requests hold the permits, so an idle server adds no wait at all, and a busy one waits at most one forward pass
  (a few ms). A batched row equals the single call to ~1e-6 (tests/test_perf_batching.py), not bit for bit: the
  BLAS kernels round differently with the batch's shape.
- BLAS is limited to one thread per worker process (`limit_blas_threads`): the pool is the parallelism.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from langchain_core.embeddings import Embeddings

from service.config import get_settings

T = TypeVar("T")
_local = threading.local()


def request_slots() -> int:
    """CPU permits for one worker process: TUNEDOC_REQUEST_THREADS, else the cores this worker owns (`tunedoc
    serve` sets TUNEDOC_EMBED_THREADS to cores / workers)."""
    settings = get_settings()
    for value in (settings.request_threads, settings.embed_threads):
        if value:
            return value
    return max(1, os.cpu_count() or 1)


def embed_batch_size() -> int:
    """Most texts embedded in one forward pass (TUNEDOC_EMBED_BATCH, default 16; 1 turns batching off)."""
    return max(1, get_settings().embed_batch)


def limit_blas_threads(threads: int = 1) -> None:
    """One BLAS thread per process for the rest of its life: parallelism comes from the request pool, and BLAS
    threads that spin on busy cores make every matrix product many times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with the embedding package
        return
    threadpool_limits(limits=threads, user_api="blas")


def freeze_loaded_heap() -> None:
    """Move what is loaded now (rules, KB, indexes, the model: ~170k objects) out of the cycle collector's reach.
    They live as long as the process, yet every full collection walked them all: ~80 ms on a 200 KB paste, which
    allocates enough to trigger several. Call `gc.unfreeze()` before dropping a loaded engine so it can be freed."""
    import gc

    gc.collect()
    gc.freeze()


class CpuPool:
    """A bounded thread pool whose tasks hold a CPU permit while they compute (at most `slots` at once)."""

    def __init__(self, slots: int | None = None, threads: int | None = None) -> None:
        self.slots = slots or request_slots()
        # More threads than permits, so requests can wait for their embedding without holding a permit, which is
        # what lets their embeddings be batched; still bounded and small.
        self.threads = threads or min(32, 4 * self.slots + 2)
        self.permits = threading.BoundedSemaphore(self.slots)
        self.executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="tunedoc-cpu")

    def _run(self, fn: Callable[..., T], *args, **kwargs) -> T:  # noqa: ANN002, ANN003
        self.permits.acquire()
        _local.pool = self
        try:
            return fn(*args, **kwargs)
        finally:
            _local.pool = None
            self.permits.release()

    def submit(self, fn: Callable[..., T], *args, **kwargs) -> Future[T]:  # noqa: ANN002, ANN003
        return self.executor.submit(self._run, fn, *args, **kwargs)

    async def run(self, fn: Callable[..., T], *args, **kwargs) -> T:  # noqa: ANN002, ANN003
        """Run `fn` in the pool from async code (the request's coroutine waits without blocking the loop)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(self._run, fn, *args, **kwargs))

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _current_pool() -> CpuPool | None:
    return getattr(_local, "pool", None)


class _Pending:
    __slots__ = ("text", "done", "vector", "error")

    def __init__(self, text: str) -> None:
        self.text = text
        self.done = threading.Event()
        self.vector: list[float] | None = None
        self.error: BaseException | None = None


class BatchingEmbeddings(Embeddings):
    """Embeddings whose concurrent `embed_query` calls are embedded together, in one forward pass.

    Wraps the engine's model (anything with `embed_documents`); attribute reads fall through to it (`name`,
    `loaded`), so the retriever and /readyz see the same object as before.
    """

    def __init__(self, inner: Embeddings, *, max_batch: int | None = None, pool: CpuPool | None = None) -> None:
        self.inner = inner
        self.max_batch = max_batch or embed_batch_size()
        self.pool = pool
        self._queue: list[_Pending] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.batches = 0  # statistics, read by tests and benchmarks
        self.texts = 0

    def __getattr__(self, name: str):  # noqa: ANN204 - delegate everything else to the wrapped model
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="tunedoc-embed", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed and not self._queue:
                    return
            pool = self.pool
            if pool is not None:
                pool.permits.acquire()  # compute like any request: at most `slots` threads at once
            with self._cond:  # take what queued while we waited for the permit: that is the batch
                batch, self._queue = self._queue[:self.max_batch], self._queue[self.max_batch:]
            try:
                vectors = self.inner.embed_documents([p.text for p in batch])
                for pending, vector in zip(batch, vectors, strict=False):
                    pending.vector = vector
            except BaseException as exc:  # noqa: BLE001 - handed to every waiting request
                for pending in batch:
                    pending.error = exc
            finally:
                if pool is not None:
                    pool.permits.release()
                self.batches += 1
                self.texts += len(batch)
                for pending in batch:
                    pending.done.set()

    def embed_query(self, text: str) -> list[float]:
        if self.max_batch <= 1:
            return self.inner.embed_query(text)
        pending = _Pending(text)
        with self._cond:
            self._ensure_thread()
            self._queue.append(pending)
            self._cond.notify()
        pool = _current_pool()
        if pool is not None:  # give the permit back while waiting: another request computes meanwhile
            pool.permits.release()
        try:
            pending.done.wait()
        finally:
            if pool is not None:
                pool.permits.acquire()
        if pending.error is not None:
            raise pending.error
        assert pending.vector is not None
        return pending.vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
