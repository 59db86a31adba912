"""`tunedoc triage`: diagnose a whole export, in parallel, crash-safe and resumable, with labels, draft replies,
duplicate links and a summary report.

Workers are separate processes (spawned, each loading the rules and the embedding model once); results come back in
input order and are appended to the output as they finish. Re-running the same command skips the ids already
written. With --server the reports go to a running `tunedoc serve` instead.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from service.gaps import group_lines, render_gaps, salient_line
from service.redact import redact
from service.triage.duplicates import DuplicateIndex
from service.triage.labels import LabelMap
from service.triage.output import ResumableOutput
from service.triage.readers import Report, read_reports
from service.triage.replies import draft_reply
from service.triage.report import write_report

_STATE: dict = {}
SERVER_BATCH = 50


@dataclass
class TriageStats:
    total: int
    processed: int
    skipped: int
    seconds: float
    workers: int
    report: dict[str, Path] | None
    gaps: list[tuple[str, list[str]]]

    @property
    def rate(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    def gaps_text(self) -> str:
        return render_gaps(self.gaps)

    def line(self) -> str:
        return (f"triaged {self.processed} report(s) in {self.seconds:.1f} s: {self.rate:.1f} reports/s with "
                f"{self.workers} worker(s); {self.skipped} already done")


def _init_worker(retrieval: bool, label_map: dict) -> None:
    from service.config import apply_offline_env
    from service.pipeline import load_rules

    apply_offline_env()
    _STATE["rules"] = load_rules()
    _STATE["rules"].warm()
    _STATE["labels"] = LabelMap(label_map)
    _STATE["retriever"] = None
    if retrieval:
        from service.retrieval import open_retriever

        _STATE["retriever"] = open_retriever(build_if_stale=False)


def summarize(row: dict) -> dict:
    """What the summary report keeps of an output row."""
    meta = row.get("triage", {})
    return {"category": meta.get("category"), "duplicate_of": meta.get("duplicate_of"),
            "seconds": meta.get("seconds", 0.0), "gap_line": meta.get("gap_line"), "salient": meta.get("salient"),
            "diagnosis": (row.get("diagnoses") or [{}])[0].get("id")}


def process(report: Report) -> tuple[dict, list[float] | None]:
    """One report -> its output row (without duplicate links) and the embedding of its salient lines."""
    from service.pipeline import diagnose_with_query

    if report.error:
        return {"id": report.id, "error": {"code": report.error_code, "message": report.error}}, None
    started = time.perf_counter()
    result, salient, vector = diagnose_with_query(report.text, rules=_STATE["rules"], retriever=_STATE["retriever"])
    top = result.diagnoses[0] if result.diagnoses else None
    meta = {
        "category": top.category if top else None,
        "confidence": top.confidence if top else None,
        "label": _STATE["labels"].label(top.category if top else None),
        "reply": draft_reply(result),
        "url": report.url,
        "duplicate_of": None,
        "salient": redact(salient[:300]),
        "gap_line": None if top else redact(salient_line(report.text)),
        "seconds": round(time.perf_counter() - started, 4),
    }
    return {"id": report.id, **result.model_dump(mode="json"), "triage": meta}, vector


def _progress(total: int, enabled: bool):  # noqa: ANN202 - tqdm or a no-op
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="report", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)


def _remote_rows(reports: list[Report], server: str):  # noqa: ANN202 - iterator of (row, None)
    from service.client import TunedocClient

    with TunedocClient(server) as client:
        for start in range(0, len(reports), SERVER_BATCH):
            batch = reports[start:start + SERVER_BATCH]
            good = [r for r in batch if not r.error]
            results = {str(row["id"]): row for row in client.triage(
                [{"id": r.id, "title": r.title, "body": r.body} for r in good])} if good else {}
            for report in batch:
                if report.error:
                    yield {"id": report.id, "error": {"code": report.error_code, "message": report.error}}, None
                else:
                    row = results[str(report.id)]
                    yield {**row, "triage": {"url": report.url, "reply": None, "duplicate_of": None}}, None


def triage(source: Path, output: Path | None = None, *, fmt: str | None = None, workers: int | None = None,
           retrieval: bool = True, labels: Path | None = None, report_dir: Path | None = None,
           server: str | None = None, progress: bool = True) -> TriageStats:
    started = time.perf_counter()
    reports = list(read_reports(source, fmt))
    out = ResumableOutput(output, summarize) if output else None
    done = set(out.done) if out else set()
    todo = [r for r in reports if str(r.id) not in done]
    workers = max(1, workers or os.cpu_count() or 1)
    if len(todo) < 4 * workers:
        workers = 1  # spawning a worker costs seconds of model loading: not worth it for a handful of reports
    label_map = LabelMap.load(labels).mapping
    duplicates = DuplicateIndex()
    if out and retrieval and not server:
        _rebuild_duplicates(duplicates, out.done, retrieval)
    bar = _progress(len(todo), progress)
    pool = None
    gap_lines: list[tuple[str, str]] = []
    try:
        if server:
            rows = _remote_rows(todo, server)
        elif workers == 1:
            _init_worker(retrieval, label_map)
            rows = map(process, todo)
        else:
            ctx = multiprocessing.get_context("spawn")  # fork after Chroma/BLAS threads start is unsafe
            os.environ.setdefault("TUNEDOC_EMBED_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
            pool = ctx.Pool(workers, initializer=_init_worker, initargs=(retrieval, label_map))
            rows = pool.imap(process, todo, chunksize=4)
        for row, vector in rows:
            meta = row.get("triage")
            if meta is not None and not row.get("diagnoses") and meta.get("gap_line"):
                gap_lines.append((str(row["id"]), meta["gap_line"]))
            if meta is not None and vector is not None:
                match = duplicates.add(str(row["id"]), meta.get("category") and row["diagnoses"][0]["id"], vector)
                if match:
                    meta["duplicate_of"] = match[0]
                    meta["duplicate_similarity"] = match[1]
            if out:
                out.write(row)
            else:
                import json

                sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            if bar is not None:
                bar.update(1)
    finally:
        if pool is not None:
            pool.terminate()
        if bar is not None:
            bar.close()
        if out:
            out.close()
    elapsed = time.perf_counter() - started
    stats = TriageStats(len(reports), len(todo), len(reports) - len(todo), elapsed, workers, None,
                        group_lines(gap_lines))
    if out and (report_dir or output):
        target = report_dir or output.with_name(output.stem + "-report")
        stats.report = write_report(out.done, target, stats.line())
    return stats


def _rebuild_duplicates(index: DuplicateIndex, done: dict[str, dict], retrieval: bool) -> None:
    """On resume, re-embed the salient lines of reports already written so new ones can link to them."""
    earlier = [(rid, row) for rid, row in done.items() if row.get("diagnosis") and row.get("salient")]
    if not earlier:
        return
    from service.config import get_settings
    from service.embeddings import PackagedEmbeddings

    embeddings = PackagedEmbeddings(get_settings().embedding_model)
    vectors = embeddings.embed_documents([row["salient"] for _, row in earlier])
    for (rid, row), vector in zip(earlier, vectors):
        index.add(rid, row["diagnosis"], vector)
