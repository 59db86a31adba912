"""Start, await and stop a service subprocess: shared by the benchmark scripts and the tests."""

from __future__ import annotations

import signal
import subprocess
import time

import httpx


def wait_ready(proc: subprocess.Popen, url: str, timeout: float, consecutive: int = 1) -> bool:
    """True once `url` answers 200 `consecutive` times in a row; False if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if all(httpx.get(url, timeout=2).status_code == 200 for _ in range(consecutive)):
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
