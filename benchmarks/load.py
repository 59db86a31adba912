"""Load benchmark for the REST API (a script, not a timed test).

Starts `tunedoc serve` on loopback, then, in the same run:
  0. single client: one client sends distinct pastes one after the other for D seconds -> the sequential throughput
     (the floor that concurrency must add to);
  1. closed loop: C concurrent clients send distinct pastes to POST /v1/diagnose for D seconds -> throughput, errors,
     and saturation = closed-loop throughput / single-client throughput;
  2. open loop: requests at half the closed-loop rate for D seconds -> p50 / p95 latency.
Pastes are real-report sized by default (benchmarks/pastes.py `real_paste_factory`: median ~700 characters, up to
12 KB); `--pastes synthetic` uses the short fixture pastes of earlier runs.
Prints a table and writes benchmarks/out/load.json.

Usage: .venv/bin/python -m benchmarks.load [--workers 2] [--clients 32] [--seconds 30] [--pastes real|synthetic]
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

from benchmarks.pastes import paste_factory, real_paste_factory
from benchmarks.procs import stop_process, wait_ready

OUT = Path(__file__).with_name("out")
FACTORIES = {"real": real_paste_factory, "synthetic": paste_factory}
GOAL_SATURATION, GOAL_RPS, GOAL_P95_MS = 1.6, 50.0, 150.0


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


async def closed_loop(url: str, clients: int, seconds: float, factory=real_paste_factory,  # noqa: ANN001
                      seed: int = 1) -> dict:
    make = factory(seed=seed)
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


async def open_loop(url: str, rate: float, seconds: float, factory=real_paste_factory) -> dict:  # noqa: ANN001
    make = factory(seed=2)
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
            "p99_ms": round(1000 * q[98], 1),
            "p50_ms": round(1000 * statistics.median(latencies), 1), "p95_ms": round(1000 * q[94], 1)}


def run_load(workers: int, clients: int, seconds: float, pastes: str = "real") -> dict:
    """The three phases against one server; every figure beside its floor from the same run."""
    factory = FACTORIES[pastes]
    with serving(workers) as (_, base):
        url = f"{base}/v1/diagnose"
        asyncio.run(closed_loop(url, clients, min(3.0, seconds), factory, seed=9))  # warm every worker
        single = asyncio.run(closed_loop(url, 1, seconds, factory, seed=3))
        closed = asyncio.run(closed_loop(url, clients, seconds, factory))
        opened = asyncio.run(open_loop(url, max(1.0, closed["throughput_rps"] / 2), seconds, factory))
    saturation = round(closed["throughput_rps"] / max(1e-9, single["throughput_rps"]), 2)
    errors = closed["non_200"] + closed["transport_errors"] + opened["failures"] + single["non_200"] + \
        single["transport_errors"]
    return {"workers": workers, "clients": clients, "pastes": pastes, "cpus": os.cpu_count(),
            "single_client": single, "closed_loop": closed, "open_loop_half_rate": opened,
            "saturation": saturation, "errors": errors,
            "met": {"saturation": saturation >= GOAL_SATURATION, "throughput": closed["throughput_rps"] >= GOAL_RPS,
                    "p95": opened["p95_ms"] <= GOAL_P95_MS, "errors": errors == 0}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--pastes", choices=sorted(FACTORIES), default="real")
    args = parser.parse_args()
    result = run_load(args.workers, args.clients, args.seconds, args.pastes)
    single, closed, opened = result["single_client"], result["closed_loop"], result["open_loop_half_rate"]
    OUT.mkdir(exist_ok=True)
    (OUT / "load.json").write_text(json.dumps(result, indent=2))
    yes = {True: "met", False: "**not met**"}
    print(f"| mode ({args.workers} worker(s), {args.pastes} pastes) | figure | goal |\n|---|---|---|\n"
          f"| single client, sequential, {single['seconds']} s | {single['throughput_rps']} req/s "
          f"(p50 {single['p50_ms']} ms) | floor |\n"
          f"| closed loop, {args.clients} clients, {closed['seconds']} s | {closed['throughput_rps']} req/s = "
          f"{result['saturation']}x single client, {closed['non_200']} non-200, {closed['transport_errors']} transport "
          f"errors (p50 {closed['p50_ms']} ms) | >= {GOAL_SATURATION}x: {yes[result['met']['saturation']]}; "
          f">= {GOAL_RPS:g} req/s: {yes[result['met']['throughput']]} |\n"
          f"| open loop at {opened['rate_rps']} req/s | p50 {opened['p50_ms']} ms, p95 {opened['p95_ms']} ms, "
          f"p99 {opened['p99_ms']} ms, {opened['failures']} failures | p95 <= {GOAL_P95_MS:g} ms: "
          f"{yes[result['met']['p95']]}; 0 errors: {yes[result['met']['errors']]} |")


if __name__ == "__main__":
    main()
