"""Load benchmark for the REST API (a script, not a timed test).

Starts `tunedoc serve` on loopback, then:
  1. closed loop: C concurrent clients send distinct pastes to POST /v1/diagnose for D seconds -> throughput, errors;
  2. open loop: requests at half that rate for D seconds -> p50 / p95 latency.
Prints a table and writes benchmarks/out/load.json.

Usage: .venv/bin/python benchmarks/load.py [--workers 2] [--clients 32] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from benchmarks.pastes import paste_factory
from benchmarks.procs import stop_process, wait_ready

OUT = Path(__file__).with_name("out")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(workers: int) -> Iterator[tuple[subprocess.Popen, str]]:
    """`tunedoc serve` on a free loopback port, ready on every worker; stopped on exit."""
    port = free_port()
    tunedoc = Path(sys.executable).with_name("tunedoc")
    proc = subprocess.Popen([str(tunedoc), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers",
                             str(workers)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TUNEDOC_NO_UI": "1"})
    base = f"http://127.0.0.1:{port}"
    # one worker being ready is not all of them: ask for several ready answers in a row
    if not wait_ready(proc, f"{base}/readyz", 180, consecutive=workers * 4):
        proc.kill()
        raise SystemExit("server not ready after 180 s")
    try:
        yield proc, base
    finally:
        stop_process(proc)


async def closed_loop(url: str, clients: int, seconds: float) -> dict:
    make = paste_factory(seed=1)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    stop = time.monotonic() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                response = await http.post(url, json={"text": make()})
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            except httpx.HTTPError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=clients)) as http:
        began = time.monotonic()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.monotonic() - began
    ok = statuses.get(200, 0)
    return {"requests": sum(statuses.values()), "ok": ok, "non_200": sum(statuses.values()) - ok,
            "transport_errors": errors, "seconds": round(elapsed, 1), "throughput_rps": round(ok / elapsed, 1),
            "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None}


async def open_loop(url: str, rate: float, seconds: float) -> dict:
    make = paste_factory(seed=2)
    latencies: list[float] = []
    failures = 0

    async def one(http: httpx.AsyncClient) -> None:
        nonlocal failures
        started = time.perf_counter()
        try:
            response = await http.post(url, json={"text": make()})
            if response.status_code != 200:
                failures += 1
        except httpx.HTTPError:
            failures += 1
            return
        latencies.append(time.perf_counter() - started)

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=256)) as http:
        tasks = []
        began = time.monotonic()
        n = int(rate * seconds)
        for i in range(n):  # fixed schedule: a slow answer never delays the next request
            delay = began + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(http)))
        await asyncio.gather(*tasks)
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0] * 99
    return {"rate_rps": round(rate, 1), "requests": n, "failures": failures,
            "p50_ms": round(1000 * statistics.median(latencies), 1), "p95_ms": round(1000 * q[94], 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    with serving(args.workers) as (_, base):
        url = f"{base}/v1/diagnose"
        closed = asyncio.run(closed_loop(url, args.clients, args.seconds))
        opened = asyncio.run(open_loop(url, max(1.0, closed["throughput_rps"] / 2), args.seconds))
    result = {"workers": args.workers, "clients": args.clients, "closed_loop": closed, "open_loop_half_rate": opened,
              "cpus": os.cpu_count()}
    OUT.mkdir(exist_ok=True)
    (OUT / "load.json").write_text(json.dumps(result, indent=2))
    print(f"| mode | figure |\n|---|---|\n"
          f"| closed loop, {args.clients} clients, {closed['seconds']} s | {closed['throughput_rps']} req/s, "
          f"{closed['non_200']} non-200, {closed['transport_errors']} transport errors (p50 {closed['p50_ms']} ms) |\n"
          f"| open loop at {opened['rate_rps']} req/s | p50 {opened['p50_ms']} ms, p95 {opened['p95_ms']} ms, "
          f"{opened['failures']} failures |")


if __name__ == "__main__":
    main()
