"""What the lexical cause classifier (service/lexical.py) adds to a warm `diagnose`: the same pastes diagnosed with
and without it in one process, alternating, each paste's first run in either order (the first diagnose of a paste
pays cold caches), one BLAS thread as in the server. Also its own time per call and the time to load its weights.
Needs the index (`tunedoc ingest`).

.venv/bin/python -m benchmarks.lexical_cost [--pastes 120]
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pastes", type=int, default=120)
    args = parser.parse_args()

    from benchmarks.pastes import paste_factory, real_paste_factory
    from service.api.batching import freeze_loaded_heap, limit_blas_threads
    from service.config import apply_offline_env
    from service.fusion import fusion_text
    from service.lexical import LexicalClassifier, lexical_path
    from service.parse import parse
    from service.pipeline import as_parts, diagnose, load_rules
    from service.retrieval import open_retriever

    apply_offline_env()
    limit_blas_threads(1)
    rules, retriever = load_rules(), open_retriever()
    rules.warm()
    retriever.embeddings.embed_query("warm up")
    freeze_loaded_heap()
    lexical = retriever.lexical
    if lexical is None:
        raise SystemExit("no kb/model/lexical.json: run `tunedoc train`")
    started = time.perf_counter()
    LexicalClassifier.load(lexical_path(rules.catalogue.root / "model" / "fusion.json"))
    load_ms = (time.perf_counter() - started) * 1000

    make, real = paste_factory(3), real_paste_factory(3)
    sets = [("real report (median ~700 chars)", [real() for _ in range(args.pastes)]),
            ("8 KB paste", ["\n".join(make() for _ in range(40))[:8000] for _ in range(max(20, args.pastes // 2))])]
    print(f"loading the weights: {load_ms:.0f} ms")
    print("| pastes | diagnose p50 with | without | difference | the classifier's own call p50 |")
    print("|---|---|---|---|---|")
    for label, texts in sets:
        times: dict[bool, list[float]] = {True: [], False: []}
        own = []
        for i, text in enumerate(texts):
            for use in ((True, False) if i % 2 else (False, True)):
                retriever.lexical = lexical if use else None
                started = time.perf_counter()
                diagnose(text, rules=rules, retriever=retriever)
                times[use].append(time.perf_counter() - started)
            body = fusion_text(parse(as_parts(text)))
            started = time.perf_counter()
            lexical.probabilities(body)
            own.append(time.perf_counter() - started)
        on, off = statistics.median(times[True]) * 1000, statistics.median(times[False]) * 1000
        print(f"| {label} | {on:.2f} ms | {off:.2f} ms | {on - off:+.2f} ms | {statistics.median(own) * 1000:.2f} ms |")
    retriever.lexical = lexical


if __name__ == "__main__":
    main()
