"""tunedoc's benchmark suite: one command, one table (also written to benchmarks/out/bench.json). Every figure is
measured beside its floor (reference) in the same run and reported as a ratio to it, with its goal and whether the
goal is met; on a shared machine, ratios measured in one run are what compare.

Usage: .venv/bin/python -m benchmarks.run [--quick] [--only SECTION ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

from benchmarks.biglog import write_log
from benchmarks.pastes import paste_factory, real_paste_factory
from service.config import apply_offline_env, get_settings

OUT = Path(__file__).with_name("out")
BIN = str(Path(sys.executable).with_name("tunedoc"))
PY = sys.executable
ROWS: list[dict] = []


def row(name: str, value: float, unit: str, reference: float | None, ref_name: str, goal: str, met: bool | None):
    ratio = round(value / reference, 2) if reference else None
    ROWS.append({"measure": name, "value": round(value, 3), "unit": unit, "reference": ref_name,
                 "reference_value": round(reference, 3) if reference else None, "ratio": ratio, "goal": goal,
                 "met": met})


def wall(command: list[str], repeat: int = 3, env: dict | None = None) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def peak_rss_mb(command: list[str]) -> float:
    """Peak RSS of one command: measured by a fresh wrapper process whose only child is the command, so
    RUSAGE_CHILDREN's maximum is that command's own peak."""
    wrapper = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
               "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([PY, "-c", wrapper, *command], capture_output=True, text=True, check=True).stdout
    return int(out.strip()) / 1024


def cold_start(tmp: Path) -> None:
    small = tmp / "small.txt"
    subprocess.run([BIN, "ingest"], check=True, capture_output=True)  # the index exists, as for a user
    floor = wall([PY, "-c", "import sentence_transformers, chromadb"])
    ours = wall([BIN, "diagnose", "--json", str(small)])
    row("cold start: `tunedoc diagnose --json` small paste", ours, "s", floor,
        "python -c 'import sentence_transformers, chromadb'", "<= 1.2x", ours <= 1.2 * floor)


def warm_latency(quick: bool) -> None:
    """Warm `diagnose` (retrieval on) against its floor: one embedding call of the same paste's salient text. One
    BLAS thread, as in the server (BLAS threads spinning on a shared 2-core box distort both sides)."""
    from service.api.batching import freeze_loaded_heap, limit_blas_threads
    from service.parse import parse
    from service.pipeline import as_parts, diagnose, load_rules
    from service.retrieval import open_retriever
    from service.salient import salient_text
    from service.signals import extract_signals

    limit_blas_threads(1)
    rules, retriever = load_rules(), open_retriever()
    rules.warm()  # a warm process, as in the server
    retriever.embeddings.embed_query("warm up")
    freeze_loaded_heap()  # as the server does once its engine is loaded
    make, real = paste_factory(3), real_paste_factory(3)
    n = 60 if quick else 200
    sets = [
        ("real report (median ~700 chars)", [real() for _ in range(n)]),
        ("1 KB paste", ["\n".join(make() for _ in range(6))[:1000] for _ in range(n)]),
        ("8 KB paste", ["\n".join(make() for _ in range(40))[:8000] for _ in range(n)]),
        ("200 KB issue body", ["\n".join(make() for _ in range(900))[:200_000] for _ in range(max(5, n // 20))]),
    ]
    for label, texts in sets:
        ours, floor = [], []
        for text in texts:
            started = time.perf_counter()
            diagnose(text, rules=rules, retriever=retriever)
            ours.append(time.perf_counter() - started)
            parsed = parse(as_parts(text))
            query = salient_text(parsed, extract_signals(parsed))
            started = time.perf_counter()
            retriever.embeddings.embed_query(query)
            floor.append(time.perf_counter() - started)
        p50, p95 = statistics.median(ours), statistics.quantiles(ours, n=20)[-1]
        f50 = statistics.median(floor)
        row(f"warm latency p50, {label}", p50 * 1000, "ms", f50 * 1000, "one embedding call of the salient text (p50)",
            "<= 1.5x", p50 <= 1.5 * f50)
        row(f"warm latency p95, {label}", p95 * 1000, "ms", f50 * 1000, "one embedding call (p50)", "-", None)


def bm25_scaling(quick: bool) -> None:
    """BM25 query cost over the case base x1 and x10 (distinct ids, same texts): the sparse index reads only the
    postings of the query's terms. Timed through `positive`, the call retrieval makes for the cases (arrays of the
    matching reports and their scores); `scores`, which also builds a sorted Python list of every match, serves only
    the article rankings."""
    from service.bm25 import BM25
    from service.cases import CaseBase
    from service.parse import parse
    from service.pipeline import as_parts
    from service.salient import salient_text
    from service.signals import extract_signals

    cases = CaseBase.load().cases
    docs = {c.id: c.render("en") + "\n" + c.render("zh") for c in cases}
    make = real_paste_factory(8)
    queries = [salient_text(p := parse(as_parts(t)), extract_signals(p)) for t in (make() for _ in range(200))]
    reference = None
    for factor in (1, 10):
        index = BM25({f"{i}#{k}": text for k in range(factor) for i, text in docs.items()})
        started = time.perf_counter()
        for _ in range(1 if quick else 3):
            for q in queries:
                index.positive(q)
        per = (time.perf_counter() - started) / (len(queries) * (1 if quick else 3)) * 1000
        reference = reference or per
        row(f"BM25 query, case base x{factor} ({len(index.ids)} reports)", per, "ms", reference, "case base x1",
            "-" if factor == 1 else "sub-linear (< 10x)", None if factor == 1 else per < 10 * reference)


def api_load(quick: bool) -> None:
    from benchmarks.load import GOAL_P95_MS, GOAL_RPS, GOAL_SATURATION, run_load

    result = run_load(workers=os.cpu_count() or 2, clients=32, seconds=10 if quick else 20)
    single, closed, opened = result["single_client"], result["closed_loop"], result["open_loop_half_rate"]
    row(f"API closed loop, 32 clients, {result['workers']} workers, real-size pastes", closed["throughput_rps"],
        "req/s", single["throughput_rps"], "one client, sequential (same server, same run)",
        f">= {GOAL_SATURATION}x and >= {GOAL_RPS:g} req/s", result["met"]["saturation"] and result["met"]["throughput"])
    row(f"API open loop p95 at half that rate ({opened['rate_rps']} req/s)", opened["p95_ms"], "ms",
        single["p50_ms"], "single-client p50 latency", f"<= {GOAL_P95_MS:g} ms", result["met"]["p95"])
    row("API errors (non-200 + transport), all phases", result["errors"], "", None, "-", "0", result["errors"] == 0)


def large_logs(tmp: Path, quick: bool) -> None:
    idle = peak_rss_mb([BIN, "diagnose", "--json", "--no-retrieval", str(tmp / "small.txt")])
    for size_mb in ((10,) if quick else (10, 100)):
        path = write_log(tmp / f"log-{size_mb}mb.log", size_mb * 1024 * 1024)
        grep = wall(["grep", "-c", "loss", str(path)], repeat=3)
        # medians of 3 runs each, the small paste's interleaved with the big log's: one run on a shared machine
        # can be off by a third either way
        ours_runs, startup_runs = [], []
        for _ in range(3):
            ours_runs.append(wall([BIN, "diagnose", "--json", "--no-retrieval", str(path)], repeat=1))
            startup_runs.append(wall([BIN, "diagnose", "--json", "--no-retrieval", str(tmp / "small.txt")], repeat=1))
        ours, startup = statistics.median(ours_runs), statistics.median(startup_runs)
        mb = path.stat().st_size / 1e6
        rate = mb / max(1e-6, ours - startup)
        row(f"large log {size_mb} MB: throughput (process start excluded)", rate, "MB/s", mb / grep,
            "grep -c over the same (cached) file, MB/s", ">= 50 MB/s", rate >= 50)
        peak = peak_rss_mb([BIN, "diagnose", "--json", "--no-retrieval", str(path)])
        row(f"large log {size_mb} MB: peak RSS growth over the idle process", peak - idle, "MB", idle,
            "idle `tunedoc diagnose` peak RSS", "<= 200 MB", peak - idle <= 200)
        path.unlink()


def plain_rag() -> None:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from service.pipeline import diagnose, load_rules
    from service.retrieval import open_retriever

    rules, retriever = load_rules(), open_retriever()
    splitter = RecursiveCharacterTextSplitter(chunk_size=800, chunk_overlap=80)
    make = paste_factory(11)
    texts = ["\n".join(make() for _ in range(60))[:50_000] for _ in range(10)]

    def naive(text: str) -> None:
        for chunk in splitter.split_text(text):  # embed the whole paste, query top-k per chunk
            retriever.store.similarity_search_by_vector_with_relevance_scores(
                retriever.embeddings.embed_query(chunk), k=5)

    results = {}
    for name, fn in (("tunedoc", lambda t: diagnose(t, rules=rules, retriever=retriever)), ("plain RAG", naive)):
        started = time.perf_counter()
        for text in texts:
            fn(text)
        elapsed = (time.perf_counter() - started) / len(texts)
        tracemalloc.start()  # memory in a separate pass: tracemalloc slows Python down several times
        fn(texts[0])
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        results[name] = (elapsed, peak)
    (ours, our_peak), (rag, rag_peak) = results["tunedoc"], results["plain RAG"]
    row("50 KB paste latency: tunedoc vs plain RAG", ours * 1000, "ms", rag * 1000,
        "plain RAG (embed every chunk, query each)", "-", None)
    row("50 KB paste Python peak memory: tunedoc vs plain RAG", our_peak, "MB", rag_peak, "plain RAG", "-", None)


def ingest_times(tmp: Path) -> None:
    from ingest.indexer import ingest

    settings = replace(get_settings(), data_dir=tmp / "ingest-data", collection="bench")
    full = ingest(settings=settings).seconds
    noop = ingest(settings=settings).seconds
    row("ingest: full build of the KB index", full, "s", None, "-", "<= 20 s", full <= 20)
    row("ingest: no-op re-ingest", noop, "s", full, "full build", "<= 1 s", noop <= 1)


def scaling(tmp: Path, quick: bool) -> None:
    """KB x10 / x100: rules compile and per-diagnose cost with generated articles; HNSW query time with the same
    number of generated vectors (random unit vectors: the cost of the index, not of the model)."""
    import chromadb
    import numpy as np
    from chromadb.config import Settings as ChromaSettings

    from service.kb import Catalogue
    from service.pipeline import diagnose
    from service.rules import RuleSet
    from tests.kb_scale import scaled_catalogue

    base = Catalogue.load()
    make = paste_factory(5)
    texts = ["\n".join(make() for _ in range(4))[:8000] for _ in range(40)]
    chunks_per_article = 9
    reference = None
    for factor in ((1, 10) if quick else (1, 10, 100)):
        catalogue = scaled_catalogue(base, factor)
        started = time.perf_counter()
        rules = RuleSet(catalogue)
        rules.scan([])  # compile the RE2 set
        compile_s = time.perf_counter() - started
        started = time.perf_counter()
        for text in texts:
            diagnose(text, rules=rules)
        per = (time.perf_counter() - started) / len(texts) * 1000
        client = chromadb.EphemeralClient(ChromaSettings(anonymized_telemetry=False))
        collection = client.create_collection(f"scale{factor}", metadata={"hnsw:space": "cosine"})
        n = len(catalogue.articles) * chunks_per_article
        rng = np.random.default_rng(0)
        vectors = rng.normal(size=(n, 512)).astype("float32")
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        for start in range(0, n, 5000):
            collection.add(ids=[str(i) for i in range(start, min(n, start + 5000))],
                           embeddings=vectors[start:start + 5000].tolist())
        query = vectors[:50].tolist()
        started = time.perf_counter()
        for q in query:
            collection.query(query_embeddings=[q], n_results=24)
        query_ms = (time.perf_counter() - started) / len(query) * 1000
        if reference is None:
            reference = (per, query_ms)
        row(f"KB x{factor} ({len(catalogue.articles)} articles): rules per diagnose", per, "ms", reference[0],
            "KB x1", "grows sub-linearly", None if factor == 1 else per / reference[0] < factor)
        row(f"KB x{factor}: RE2 set compile", compile_s * 1000, "ms", None, "-", "-", None)
        row(f"KB x{factor} ({n} chunks): vector query", query_ms, "ms", reference[1], "KB x1",
            "sub-linear (HNSW)", None if factor == 1 else query_ms / reference[1] < factor)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, no 100 MB log, no x100 KB")
    sections = ["cold", "warm", "logs", "rag", "ingest", "scaling", "bm25", "load"]
    parser.add_argument("--only", choices=sections, action="append",
                        help="run only these sections (repeatable)")
    args = parser.parse_args()
    apply_offline_env()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        wanted = set(args.only or sections)
        (tmp / "small.txt").write_text(paste_factory(1)())
        steps = [("cold", lambda: cold_start(tmp)), ("warm", lambda: warm_latency(args.quick)),
                 ("logs", lambda: large_logs(tmp, args.quick)), ("rag", plain_rag),
                 ("ingest", lambda: ingest_times(tmp)), ("scaling", lambda: scaling(tmp, args.quick)),
                 ("bm25", lambda: bm25_scaling(args.quick)), ("load", lambda: api_load(args.quick))]
        for name_, step in steps:
            if name_ in wanted:
                step()
        shutil.rmtree(tmp / "ingest-data", ignore_errors=True)
    OUT.mkdir(exist_ok=True)
    name = "bench.json" if not args.only else f"bench-{'-'.join(sorted(set(args.only)))}.json"
    (OUT / name).write_text(json.dumps(ROWS, indent=2))
    print("| measure | value | floor / reference (same run) | ratio | goal | met |\n|---|---|---|---|---|---|")
    for r in ROWS:
        ref = f"{r['reference_value']} ({r['reference']})" if r["reference_value"] is not None else r["reference"]
        met = {True: "met", False: "**not met**", None: "-"}[r["met"]]
        print(f"| {r['measure']} | {r['value']} {r['unit']} | {ref} | {r['ratio'] or '-'} | {r['goal']} | {met} |")


if __name__ == "__main__":
    main()
