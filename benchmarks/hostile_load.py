"""Hostile load on the REST API (a script, not a timed test): C clients for D seconds on loopback, mixing valid
pastes (70%), hostile pastes (20%: binary, GBK, ANSI, alias bombs, deep JSON, 100k-line logs, a 6 MB body) and bad
requests (10%: malformed JSON, wrong types, wrong content type, unknown routes). Reports the status counts, 5xx,
whether every worker survived, and the server's resident memory before and after.

Usage: .venv/bin/python -m benchmarks.hostile_load [--workers 2] [--clients 32] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import time
from pathlib import Path

import httpx

from benchmarks.load import OUT, serving
from benchmarks.pastes import paste_factory
from service.text import decode_bytes
from tests.hostile import hostile_bytes

HOSTILE = {k: v for k, v in hostile_bytes().items() if k != "one-50mb-line"}
HOSTILE["six-mb-body"] = b"x" * (6 * 1024 * 1024)
HEAVY = {"100k-lines", "repeated-warning"}  # a few seconds of CPU each: sent rarely


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers), from /proc."""
    total = 0
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
                    .stdout.split()]
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def workers_alive(pid: int) -> list[int]:
    return [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]


def request_for(rng: random.Random, make) -> dict:  # noqa: ANN001
    roll = rng.random()
    if roll < 0.7:
        return {"method": "POST", "url": "/v1/diagnose", "json": {"text": make()}}
    if roll < 0.9:
        names = [n for n in HOSTILE if n not in HEAVY or rng.random() < 0.05]
        name = rng.choice(names)
        data = HOSTILE[name]
        if rng.random() < 0.5:
            return {"method": "POST", "url": "/v1/diagnose", "files": [("files", (f"{name}.log", data, "text/plain"))]}
        return {"method": "POST", "url": "/v1/diagnose", "json": {"text": decode_bytes(data).text}}
    return rng.choice([
        {"method": "POST", "url": "/v1/diagnose", "content": b"{not json", "headers": {"content-type": "application/json"}},
        {"method": "POST", "url": "/v1/diagnose", "json": {"text": 5}},
        {"method": "POST", "url": "/v1/diagnose", "content": b"hi", "headers": {"content-type": "text/csv"}},
        {"method": "POST", "url": "/v1/search", "json": {"query": "", "k": 99}},
        {"method": "GET", "url": "/v1/nope"},
        {"method": "POST", "url": "/v1/triage", "json": {"reports": "nope"}},
        {"method": "POST", "url": "/v1/admin/reindex"},
    ])


async def run(base: str, clients: int, seconds: float) -> dict:
    statuses: dict[int, int] = {}
    errors = 0
    stop = time.monotonic() + seconds

    async def client(index: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        rng, make = random.Random(index), paste_factory(seed=100 + index)
        while time.monotonic() < stop:
            spec = request_for(rng, make)
            try:
                response = await http.request(spec.pop("method"), base + spec.pop("url"), **spec)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            except httpx.HTTPError:
                errors += 1

    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=clients)) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
    return {"statuses": dict(sorted(statuses.items())), "transport_errors": errors,
            "server_errors": sum(n for s, n in statuses.items() if s >= 500)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    with serving(args.workers) as (proc, base):
        workers_before = workers_alive(proc.pid)
        rss_before = rss_mb(proc.pid)
        # Two halves: growth that stops after the first half is a high-water mark, not a leak.
        first = asyncio.run(run(base, args.clients, args.seconds / 2))
        rss_mid = rss_mb(proc.pid)
        second = asyncio.run(run(base, args.clients, args.seconds / 2))
        rss_after = rss_mb(proc.pid)
        workers_after = workers_alive(proc.pid)
        ready_after = httpx.get(f"{base}/readyz", timeout=10).status_code
    result = {"statuses": {str(k): first["statuses"].get(k, 0) + second["statuses"].get(k, 0)
                           for k in sorted(set(first["statuses"]) | set(second["statuses"]))},
              "transport_errors": first["transport_errors"] + second["transport_errors"],
              "server_errors": first["server_errors"] + second["server_errors"]}
    result.update({"workers": args.workers, "clients": args.clients, "seconds": args.seconds,
                   "workers_survived": workers_before == workers_after, "ready_after": ready_after,
                   "rss_mb_before": rss_before, "rss_mb_mid": rss_mid, "rss_mb_after": rss_after,
                   "rss_growth_second_half_mb": round(rss_after - rss_mid, 1),
                   "rss_growth_mb": round(rss_after - rss_before, 1)})
    OUT.mkdir(exist_ok=True)
    (OUT / "hostile_load.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
