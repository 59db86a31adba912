"""Triage throughput over a generated GitHub-style export of N reports (default 5,000), with and without retrieval.

Reports are realistic issue bodies: a title, a few lines of prose and log noise, and one of the KB's trigger
fixtures, each made distinct. Prints reports/s and writes benchmarks/out/triage.json.

Usage: .venv/bin/python -m benchmarks.triage_throughput [--reports 5000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.pastes import paste_factory
from service.config import apply_offline_env
from service.triage import triage

OUT = Path(__file__).with_name("out")


def make_export(path: Path, n: int) -> None:
    make = paste_factory(seed=7)
    issues = []
    for number in range(1, n + 1):
        body = make()
        title, _, rest = body.partition("\n")
        issues.append({"number": number, "title": f"#{number} {title}", "body": rest,
                       "html_url": f"https://github.com/example/project/issues/{number}", "labels": [],
                       "state": "open", "created_at": "2026-01-01T00:00:00Z"})
    path.write_text(json.dumps(issues))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    apply_offline_env()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "issues.json"
        make_export(export, args.reports)
        size = export.stat().st_size
        for mode, retrieval in (("rules + retrieval + duplicates", True), ("rules only (--no-retrieval)", False)):
            out = Path(tmp) / f"out-{retrieval}.jsonl"
            started = time.perf_counter()
            stats = triage(export, out, workers=args.workers, retrieval=retrieval, progress=False)
            elapsed = time.perf_counter() - started
            results[mode] = {"reports": stats.processed, "seconds": round(elapsed, 1),
                             "reports_per_s": round(stats.processed / elapsed, 1)}
    load = os.getloadavg()  # other processes on the same cores make every figure slower: print it with them
    OUT.mkdir(exist_ok=True)
    (OUT / "triage.json").write_text(json.dumps({"workers": args.workers, "export_bytes": size,
                                                 "load_average": [round(x, 2) for x in load], **results}, indent=2))
    print(f"| mode ({args.reports} reports, {size / 1e6:.1f} MB export, {args.workers} workers) | seconds | reports/s |")
    print("|---|---|---|")
    for mode, r in results.items():
        print(f"| {mode} | {r['seconds']} | {r['reports_per_s']} |")
    print(f"load average after the runs: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
