"""Reports written by the developers in the ways users write them (Chinese blog paragraphs, GitHub issue templates,
forum prose, near-miss questions, reports that say what is not there), diagnosed with retrieval. Each names the
category it should get, `out-of-scope` when it should abstain, or `not:<category>` when that category must not be
answered first (a report that denies its evidence).

These texts were written while reading tunedoc's answers, to find what it misreads; the misreadings found were
fixed. So this is a regression check of those readings, not a measure of how tunedoc does on reports it has not
seen (that is `tunedoc eval` on the dev sets and the held-out reports). Needs the index (`tunedoc ingest`).

.venv/bin/python -m benchmarks.written_reports [--misses]
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPORTS = Path(__file__).with_name("written_reports.jsonl")
OUTCOMES = ("answered", "named first", "top 3", "missed", "wrong first", "abstained", "held back")


def outcome(expected: str, diagnosed: list[str], ranked: list[str]) -> str:
    """What the answer did with a report expecting `expected` (a category, `out-of-scope` or `not:<category>`)."""
    if expected == "out-of-scope":
        return "abstained" if not diagnosed else "wrong first"
    if expected.startswith("not:"):
        return "wrong first" if diagnosed[:1] == [expected[4:]] else "held back"
    if diagnosed:
        return "answered" if diagnosed[0] == expected else "wrong first"
    if ranked[:1] == [expected]:
        return "named first"
    return "top 3" if expected in ranked[:3] else "missed"


def main() -> None:
    from service.config import apply_offline_env

    apply_offline_env()
    from service.pipeline import diagnose, load_rules
    from service.retrieval import open_retriever

    rules, retriever = load_rules(), open_retriever()
    by_genre: dict[str, Counter[str]] = defaultdict(Counter)
    misses = []
    for row in map(json.loads, REPORTS.read_text(encoding="utf-8").splitlines()):
        result = diagnose(row["text"], rules=rules, retriever=retriever)
        diagnosed = [d.category for d in result.diagnoses]
        ranked = diagnosed + [d.category for d in result.differential]
        got = outcome(row["expected"], diagnosed, ranked)
        by_genre[row["genre"]][got] += 1
        if got not in ("answered", "abstained", "held back"):
            misses.append((got, row["expected"], ranked[:3], row["text"][:100].replace("\n", " ")))
    total = sum(by_genre.values(), Counter())
    print("| genre | reports | " + " | ".join(OUTCOMES) + " |")
    print("|---|---|" + "---|" * len(OUTCOMES))
    for genre, counts in [*by_genre.items(), ("all", total)]:
        print(f"| {genre} | {sum(counts.values())} | " + " | ".join(str(counts[o]) for o in OUTCOMES) + " |")
    if "--misses" in sys.argv:
        for miss in misses:
            print(*miss, sep=" · ")


if __name__ == "__main__":
    main()
