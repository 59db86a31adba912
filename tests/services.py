"""Run a real service subprocess for a test: start it, wait until a URL answers 200, stop it with SIGINT."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from benchmarks.procs import stop_process, wait_ready


@contextmanager
def running(command: list[str], ready_url: str, *, env: dict | None = None, timeout: float = 120) -> Iterator[None]:
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_ready(proc, ready_url, timeout):
        proc.kill()
        pytest.fail(f"{command[0]} did not become ready at {ready_url}")
    try:
        yield
    finally:
        stop_process(proc)
