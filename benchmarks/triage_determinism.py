"""Is triage output byte for byte the same across two clean runs and a killed-and-resumed run? (issue 11)

Generates an export of N issue bodies (default 2,000; KB trigger fixtures with prose and log noise, so many share a
diagnosis and some are linked as duplicates), runs `tunedoc triage` with retrieval twice from scratch, then a third
time killed with SIGKILL after a third of the reports and resumed, and compares the JSONL and report files.

Usage: .venv/bin/python -m benchmarks.triage_determinism [--reports 2000] [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.triage_throughput import make_export

BIN = str(Path(sys.executable).with_name("tunedoc"))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def run(source: Path, out: Path, workers: int, kill_after: int | None = None) -> None:
    command = [BIN, "triage", str(source), "-o", str(out), "--workers", str(workers), "--no-progress"]
    if kill_after is not None:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= kill_after:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
        proc.wait()
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(done.stderr)


def compare(reports: int, workers: int, folder: Path) -> dict[str, list[str]]:
    source = folder / "issues.json"
    make_export(source, reports)
    outs = {"clean-1": folder / "a.jsonl", "clean-2": folder / "b.jsonl", "killed-resumed": folder / "c.jsonl"}
    run(source, outs["clean-1"], workers)
    run(source, outs["clean-2"], workers)
    run(source, outs["killed-resumed"], workers, kill_after=reports // 3)
    result = {}
    for name, out in outs.items():
        report = out.with_name(out.stem + "-report")
        result[name] = [digest(out), digest(report / "report.md"), digest(report / "report.html")]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = compare(args.reports, args.workers, Path(tmp))
    same = len({tuple(v) for v in result.values()}) == 1
    for name, digests in result.items():
        print(f"{name:15} jsonl {digests[0]}  report.md {digests[1]}  report.html {digests[2]}")
    print(f"{args.reports} reports, {args.workers} workers: {'byte-identical' if same else 'DIFFERENT'} "
          f"({time.perf_counter() - started:.0f} s)")
    raise SystemExit(0 if same else 1)


if __name__ == "__main__":
    main()
