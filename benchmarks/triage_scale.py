"""Per-report cost of triage's rules at a ×100 KB and of its case kNN at a ×10 case base (issue 15: goal ≤ 3× the
×1 cost). Reports are the triage benchmark's generated issues (benchmarks/triage_throughput.make_export).

- rules: `RuleSet.evaluate` (the RE2 set scan, then only the woken articles) on the parsed report, with the KB as is
  and copied ×100 with distinct regexes (tests/kb_scale.py, as benchmarks/run.py builds it);
- kNN: `Retriever.retrieve` (dense similarities over articles, fixtures and cases, BM25 over articles and cases) plus
  `fusion.candidates` (the case votes), with the case base as is and ×10 (every case copied under distinct ids, its
  vector and text unchanged). Needs the index (`tunedoc ingest`). Two more lines split off the dense similarities: one
  exact matrix product at x1; at x10 (past service/shortlist.py's TWO_STAGE_ROWS) the two-stage search.

CPU time per report (time.process_time), ×1 and ×N measured alternately. Usage:
.venv/bin/python -m benchmarks.triage_scale [--reports 300] [--kb 100] [--cases 10]
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def scaled_retriever(retriever, factor: int):  # noqa: ANN001, ANN201 - Retriever -> Retriever
    """The retriever with every case present `factor` times (ids `case#k`)."""
    from service.bm25 import BM25
    from service.vectors import Chunk, DenseIndex

    if factor == 1:
        return retriever
    scaled = copy.copy(retriever)
    dense = retriever.dense
    chunks, rows = list(dense.chunks), [dense.matrix]
    case_rows = np.flatnonzero(dense.kind == "case")
    for k in range(1, factor):
        chunks += [Chunk("case", f"{dense.chunks[i].owner}#{k}", dense.chunks[i].category, dense.chunks[i].lang)
                   for i in case_rows]
        rows.append(dense.matrix[case_rows])
    scaled.dense = DenseIndex(chunks, np.vstack(rows))
    texts = {c.id: c.render("en") + "\n" + c.render("zh") for c in retriever.cases.cases}
    scaled.bm25_cases = BM25({f"{i}#{k}" if k else i: t for k in range(factor) for i, t in texts.items()})
    scaled.cause_of = {f"{i}#{k}" if k else i: c for k in range(factor) for i, c in retriever.cause_of.items()}
    scaled.index_cases()
    return scaled


def per_report(fn, items, repeats: int = 1) -> float:  # noqa: ANN001 - callable over one item
    started = time.process_time()
    for _ in range(repeats):
        for item in items:
            fn(item)
    return (time.process_time() - started) / (len(items) * repeats) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=300)
    parser.add_argument("--kb", type=int, default=100)
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from benchmarks.triage_throughput import make_export
    from service.api.batching import limit_blas_threads
    from service.config import apply_offline_env
    from service.fusion import candidates
    from service.parse import parse
    from service.pipeline import as_parts
    from service.rules import RuleSet
    from service.salient import salient_text
    from service.signals import extract_signals
    from service.triage.readers import read_reports
    from tests.kb_scale import scaled_catalogue

    apply_offline_env()
    limit_blas_threads(1)  # as in a triage worker
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "issues.json"
        make_export(export, args.reports)
        reports = list(read_reports(export))
    parsed = [parse(as_parts(r.text)) for r in reports]
    signals = [extract_signals(p) for p in parsed]
    inputs = list(zip(parsed, signals, strict=True))

    from service.kb import Catalogue

    base = Catalogue.load()
    # args.kb: every copy fires on the same evidence (worst case); -args.kb: copies about other evidence.
    rule_sets = {1: RuleSet(base), args.kb: RuleSet(scaled_catalogue(base, args.kb)),
                 -args.kb: RuleSet(scaled_catalogue(base, args.kb, distinct=True))}
    for rules in rule_sets.values():
        rules.warm()
    from service.retrieval import open_retriever

    retriever = open_retriever(build_if_stale=False, catalogue=base)
    queries = [salient_text(p, s) for p, s in inputs]
    vectors = [retriever.embeddings.embed_query(q) for q in queries]
    retrievers = {1: retriever, args.cases: scaled_retriever(retriever, args.cases)}
    knn_items = list(zip(inputs, queries, vectors, strict=True))
    outcomes = [rule_sets[1].evaluate(p.lines, s) for p, s in inputs]

    def knn(r):  # noqa: ANN001, ANN202
        def one(item):  # noqa: ANN001, ANN202
            (p, s), query, vector = item
            hits = r.retrieve(query, vector=vector)
            return candidates(base, outcome_of[id(item)], hits, r.cause_of, s)
        return one

    outcome_of = {id(item): outcome for item, outcome in zip(knn_items, outcomes, strict=True)}
    rules_ms: dict[int, list[float]] = {1: [], args.kb: [], -args.kb: []}
    knn_ms: dict[int, list[float]] = {1: [], args.cases: []}
    dense_ms: dict[int, list[float]] = {1: [], args.cases: []}  # the exact search's matrix product alone: its floor
    for _ in range(args.rounds):
        for factor, rules in rule_sets.items():
            rules_ms[factor].append(per_report(lambda x, r=rules: r.evaluate(x[0].lines, x[1]), inputs))
        for factor, r in retrievers.items():
            knn_ms[factor].append(per_report(knn(r), knn_items))
            dense_ms[factor].append(per_report(lambda x, r=r: r.dense.similarities(x[2]), knn_items))
    load = os.getloadavg()
    print(f"{args.reports} reports, CPU ms per report (best of {args.rounds}), load average {load[0]:.2f}")
    print("| measure | x1 | scaled | ratio | goal <= 3x |")
    print("|---|---|---|---|---|")
    r1, rn, rd = min(rules_ms[1]), min(rules_ms[args.kb]), min(rules_ms[-args.kb])
    k1, kn = min(knn_ms[1]), min(knn_ms[args.cases])
    d1, dn = min(dense_ms[1]), min(dense_ms[args.cases])
    print(f"| rules (RuleSet.evaluate), KB x{args.kb} ({len(rule_sets[args.kb].catalogue.articles)} articles), "
          f"every copy firing on the same evidence | {r1:.2f} | {rn:.2f} | {rn / r1:.2f} | "
          f"{'met' if rn <= 3 * r1 else 'not met'} |")
    print(f"| rules, KB x{args.kb}, copies about other evidence (a KB grown by new causes) | "
          f"{r1:.2f} | {rd:.2f} | {rd / r1:.2f} | {'met' if rd <= 3 * r1 else 'not met'} |")
    print(f"| kNN (retrieve + fusion.candidates), case base x{args.cases} "
          f"({len(retrievers[args.cases].cause_of)} cases) | {k1:.2f} | {kn:.2f} | {kn / k1:.2f} | "
          f"{'met' if kn <= 3 * k1 else 'not met'} |")
    scaled_dense = retrievers[args.cases].dense
    how = "two stages" if scaled_dense.two_stage else "one exact product"
    print(f"| of which the dense similarities ({'x'.join(map(str, scaled_dense.matrix.shape))} float32 at "
          f"x{args.cases}, {how}) | {d1:.2f} | {dn:.2f} | {dn / d1:.2f} | - |")
    print(f"| kNN without the dense similarities | {k1 - d1:.2f} | {kn - dn:.2f} | {(kn - dn) / (k1 - d1):.2f} | - |")


if __name__ == "__main__":
    main()
