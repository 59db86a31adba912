"""Compare the packaged embedding models for retrieval: free-text questions (benchmarks/questions.jsonl, en and
zh rows) and, when given, labelled reports (hybrid search and plain RAG rows of `tunedoc eval`).

Usage: .venv/bin/python benchmarks/embedding_choice.py [../shared/cases-dev.jsonl]
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from service.config import apply_offline_env, get_settings
from service.embeddings import MODELS
from service.evaluate import run_eval
from service.retrieval import open_retriever

QUESTIONS = Path(__file__).with_name("questions.jsonl")


def question_rows(model: str) -> list[str]:
    retriever = open_retriever(settings=replace(get_settings(), embedding_model=model))
    questions = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = []
    for lang in ("en", "zh"):
        subset = [q for q in questions if q["lang"] == lang]
        for name, rank in (("hybrid", lambda q: [h.id for h in retriever.search(q, k=3)]),
                           ("dense", lambda q: [i for i, _ in retriever.dense_ranking(q)][:3])):
            hits = [rank(q["q"]) for q in subset]
            top1 = sum(h[:1] == [q["expected"]] for h, q in zip(hits, subset, strict=False))
            top3 = sum(q["expected"] in h for h, q in zip(hits, subset, strict=False))
            rows.append(f"| {model} | questions · {lang} | {name} | {top1}/{len(subset)} | {top3}/{len(subset)} |")
    return rows


def main() -> None:
    apply_offline_env()
    print("| model | set | retrieval | top-1 | top-3 |\n|---|---|---|---|---|")
    for model in MODELS:
        print("\n".join(question_rows(model)))
    if len(sys.argv) > 1:
        for model in MODELS:
            print(f"\n{run_eval(Path(sys.argv[1]), show_misses=False, embedding_model=model)}")


if __name__ == "__main__":
    main()
