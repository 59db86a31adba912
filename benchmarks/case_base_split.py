"""Cross-validated scores of the case base split by when a report entered it: the reports already in kb/cases/ at a
git revision, and those added since. One run of the same cross-validation as `tunedoc eval --cv` (the C of the
committed model, the threshold it chooses), so both halves are scored by the same models: a fixed yardstick for
"did the change help the reports we had", and a figure for the new ones.

Usage: .venv/bin/python -m benchmarks.case_base_split REV   (e.g. the commit a session started from)
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from service.config import apply_offline_env

ROOT = Path(__file__).resolve().parent.parent


def urls_at(revision: str) -> set[str]:
    """The case URLs in kb/cases/*.jsonl at `revision`."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout

    out = set()
    for path in git("ls-tree", "-r", "--name-only", revision, "kb/cases").split():
        if path.endswith(".jsonl"):
            out |= {json.loads(line)["url"] for line in git("show", f"{revision}:{path}").splitlines() if line.strip()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("revision")
    args = parser.parse_args()
    apply_offline_env()
    from service.fusion import FusionModel
    from service.learn import cross_validate, describe, prepare, score
    from service.retrieval import open_retriever

    retriever = open_retriever()
    saved = FusionModel.load(retriever.catalogue.root / "model" / "fusion.json")
    c = float(str(saved.meta.get("C", 0.3))) if saved else 0.3
    predictions, decision = cross_validate(prepare(retriever, retriever.cases), retriever, c)
    before = urls_at(args.revision)
    print(f"{len(predictions)} reports, C={c}, {describe(decision)}")
    print("| reports | in scope | out of scope | top-1 | top-3 | wrong first | out-of-scope abstained |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in (("all", predictions),
                       (f"in kb/cases/ at {args.revision}", [p for p in predictions if p.case.url in before]),
                       ("added since", [p for p in predictions if p.case.url not in before])):
        s = score(rows)
        print(f"| {name} | {s['n_in']} | {s['n_oos']} | {s['top1']:.3f} | {s['top3']:.3f} | {s['wrong_first']:.3f} "
              f"| {s['abstained']:.3f} |")


if __name__ == "__main__":
    main()
