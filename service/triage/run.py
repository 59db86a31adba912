"""`tunedoc triage`: diagnose a whole export, in parallel, crash-safe and resumable, with labels, draft replies,
duplicate links and a summary report.

Duplicate links (`triage.duplicate_of`, with `duplicate_kind` and `duplicate_similarity`): an earlier report with the
same text (`exact`) or a near-identical one (`near`, service/triage/textdup.py), diagnosed or not; failing that, an
earlier report with the same diagnosis and similar salient lines (`same-cause`, service/triage/duplicates.py; needs
retrieval's embedding model).

Workers are separate processes (spawned, each loading the rules and the embedding model once); results come back in
input order and are appended to the output as they finish. Re-running the same command skips the ids already
written. With --server the reports go to a running `tunedoc serve` instead.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from service.gaps import group_lines, render_gaps, salient_line
from service.redact import redact
from service.triage.duplicates import DuplicateIndex
from service.triage.labels import LabelMap
from service.triage.output import ResumableOutput
from service.triage.readers import Report, read_reports
from service.triage.replies import draft_reply
from service.triage.report import is_number, write_report
from service.triage.textdup import TextDuplicates, TextMatch

_STATE: dict = {}
SERVER_BATCH = 50
CHUNKSIZE = 8  # reports per task sent to a worker


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
    """Load what a worker keeps for its life: the rules, and with retrieval the retriever (store, case index) and the
    embedding model, each once. The rules' catalogue serves the retriever too (parsing kb/ twice cost ~1 s)."""
    from service.api.batching import limit_blas_threads
    from service.config import apply_offline_env
    from service.pipeline import load_rules

    apply_offline_env()
    # One BLAS thread for everything outside the embedding's own limit (dense search, fusion): a 2-thread BLAS call
    # between forward passes wakes a thread that a busy core may not schedule, which made triage 2.5x slower.
    limit_blas_threads(1)
    _STATE["rules"] = load_rules()
    _STATE["rules"].warm(long_inputs=False)  # issue reports are short; a long one warms the sets as it goes
    _STATE["labels"] = LabelMap(label_map)
    _STATE["retriever"] = None
    if retrieval:
        from service.retrieval import open_retriever

        # kb/ parsed once per worker: the retriever reuses the rules' catalogue
        _STATE["retriever"] = open_retriever(build_if_stale=False, catalogue=_STATE["rules"].catalogue)


def summarize(row: dict) -> dict:
    """What the summary report (and --apply-github) keeps of an output row."""
    meta = row.get("triage") or {}
    top = (row.get("diagnoses") or [{}])[0]
    error = row.get("error")
    return {"category": meta.get("category"), "duplicate_of": meta.get("duplicate_of"),
            "duplicate_kind": meta.get("duplicate_kind"), "duplicate_similarity": meta.get("duplicate_similarity"),
            "seconds": meta.get("seconds", 0.0), "gap_line": meta.get("gap_line"), "salient": meta.get("salient"),
            "diagnosis": top.get("id"), "cause_title": top.get("title"), "status": top.get("status"),
            "confidence": top.get("confidence"), "label": meta.get("label"), "reply": meta.get("reply"),
            "title": meta.get("title"), "url": meta.get("url"), "lang": row.get("lang"),
            "error": error.get("message") if isinstance(error, dict) else None}


def read_summaries(path: Path) -> dict[str, dict]:
    """The summaries of a triage output file (whole lines only; the last line for an id wins)."""
    done: dict[str, dict] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.endswith("\n"):
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict):
                    done[str(row.get("id"))] = summarize(row)
    return done


def _meta(report: Report, result, salient: str, labels: LabelMap, started: float) -> dict:  # noqa: ANN001
    top = result.diagnoses[0] if result.diagnoses else None
    return {
        "title": redact(report.title),
        "category": top.category if top else None,
        "confidence": top.confidence if top else None,
        "label": labels.label(top.category if top else None),
        "reply": draft_reply(result),
        "url": redact(report.url) if report.url else None,
        "duplicate_of": None,
        "salient": redact(salient),  # the whole query (<= 600 characters): what duplicates compare
        "gap_line": None if top else redact(salient_line(report.text)),
    }  # no timings in a row: the same export gives the same bytes (the run's throughput line has the timing)


class Row(NamedTuple):
    """One finished report as it crosses the process boundary: the output line's JSON without its `triage` block
    (serialised in the worker), the `triage` block (the parent adds duplicate links to it), the few fields the
    summary reads, and the embedding duplicates compare (float32). A few KB instead of the whole nested row."""

    id: str | int
    body: str  # json.dumps of the row without "triage", as the output line writes it
    meta: dict | None  # the triage block; None for a report that could not be read
    top: dict  # id, title, status, confidence of the top diagnosis ({} without one)
    lang: str | None
    error: dict | None
    vector: np.ndarray | None

    @classmethod
    def of(cls, row: dict, vector: list[float] | np.ndarray | None = None) -> Row:
        """From a whole output row (the triage block, when there is one, is its last key)."""
        meta = row.get("triage")
        body = {k: v for k, v in row.items() if k != "triage"}
        top = (row.get("diagnoses") or [{}])[0]
        return cls(row["id"], json.dumps(body, ensure_ascii=False), meta,
                   {k: top[k] for k in ("id", "title", "status", "confidence") if k in top}, row.get("lang"),
                   row.get("error"), None if vector is None else np.asarray(vector, dtype=np.float32))

    def line(self) -> str:
        """The output line (without its newline): byte for byte json.dumps of the whole row."""
        if self.meta is None:
            return self.body
        return self.body[:-1] + ', "triage": ' + json.dumps(self.meta, ensure_ascii=False) + "}"

    def summary_row(self) -> dict:
        """A row with just what `summarize` reads."""
        row: dict = {"id": self.id, "lang": self.lang, "diagnoses": [self.top] if self.top else []}
        if self.error is not None:
            row["error"] = self.error
        if self.meta is not None:
            row["triage"] = self.meta
        return row


def process(report: Report) -> Row:
    """One report -> its output row (without duplicate links) and the embedding of its salient lines."""
    from service.pipeline import diagnose_with_query

    if report.error:
        return Row.of({"id": report.id, "error": {"code": report.error_code, "message": report.error}})
    started = time.perf_counter()
    result, salient, query_vector = diagnose_with_query(report.text, rules=_STATE["rules"],
                                                        retriever=_STATE["retriever"])
    meta = _meta(report, result, salient, _STATE["labels"], started)
    # Duplicates compare the embedding of the salient text as written to the output, one text per call: a resumed
    # run re-embeds exactly that text the same way, so its links are the links of an uninterrupted run. That text is
    # the query itself (the threshold was measured on it), so its vector is the one diagnose already computed.
    retriever = _STATE["retriever"]
    vector = None
    if retriever is not None and meta.get("salient") and result.diagnoses:
        same = meta["salient"] == salient and query_vector is not None  # else redaction changed it: embed it anew
        vector = query_vector if same else retriever.embeddings.embed_query(meta["salient"])
    return Row.of({"id": report.id, **result.model_dump(mode="json"), "triage": meta}, vector)


def _progress(total: int, enabled: bool):  # noqa: ANN202 - tqdm or a no-op
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="report", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)


def _remote_rows(reports: list[Report], server: str, labels: LabelMap) -> Iterator[Row]:
    """The server diagnoses; labels, draft replies and gap lines are made here from its answer, as in local mode."""
    from service.client import TunedocClient
    from service.models import DiagnoseResult
    from service.parse import parse
    from service.pipeline import as_parts
    from service.salient import salient_text
    from service.signals import extract_signals

    with TunedocClient(server) as client:
        for start in range(0, len(reports), SERVER_BATCH):
            batch = reports[start:start + SERVER_BATCH]
            good = [r for r in batch if not r.error]
            results = {str(row["id"]): row for row in client.triage(
                [{"id": r.id, "title": r.title, "body": r.body} for r in good])} if good else {}
            for report in batch:
                if report.error:
                    yield Row.of({"id": report.id, "error": {"code": report.error_code, "message": report.error}})
                else:
                    started = time.perf_counter()
                    row = results[str(report.id)]
                    result = DiagnoseResult.model_validate({k: v for k, v in row.items() if k != "id"})
                    parsed = parse(as_parts(report.text))
                    salient = salient_text(parsed, extract_signals(parsed))
                    yield Row.of({**row, "triage": _meta(report, result, salient, labels, started)})


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
    bar = _progress(len(todo), progress)
    pool = None
    gap_lines: list[tuple[str, str]] = []
    rows: Iterator[Row]
    try:
        if todo and not server and workers > 1:
            # Start the workers first: they load the rules, the model and the store while this process computes the
            # text duplicates and, on resume, re-embeds the reports already written.
            ctx = multiprocessing.get_context("spawn")  # fork after Chroma/BLAS threads start is unsafe
            os.environ.setdefault("TUNEDOC_EMBED_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
            pool = ctx.Pool(workers, initializer=_init_worker, initargs=(retrieval, label_map))
        duplicates = DuplicateIndex()
        text_matches = _text_duplicates(reports)
        if out and retrieval and not server:
            _rebuild_duplicates(duplicates, out.done, retrieval)
        if not todo:
            rows = iter(())  # everything was done by an earlier run: no need to load the rules
        elif server:
            rows = _remote_rows(todo, server, LabelMap(label_map))
        elif pool is None:
            _init_worker(retrieval, label_map)
            rows = map(process, todo)
        else:
            rows = pool.imap(process, todo, chunksize=CHUNKSIZE)
        _consume(rows, out, bar, duplicates, text_matches, gap_lines)
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
    if out is not None and output is not None:
        target = report_dir or output.with_name(output.stem + "-report")
        stats.report = write_report(out.done, target)
    return stats


def _consume(rows: Iterator[Row], out: ResumableOutput | None, bar, duplicates: DuplicateIndex,  # noqa: ANN001
             text_matches: dict[str, TextMatch], gap_lines: list[tuple[str, str]]) -> None:
    """Link, write and count each finished report, in input order."""
    for row in rows:
        meta = row.meta
        if meta is not None and not row.top and meta.get("gap_line"):
            gap_lines.append((str(row.id), meta["gap_line"]))
        if meta is not None:
            _link_duplicate(row, duplicates, text_matches)
        if out:
            out.write_line(str(row.id), row.line(), row.summary_row())
        else:
            sys.stdout.write(row.line() + "\n")
        if bar is not None:
            bar.update(1)


def _link_duplicate(row: Row, duplicates: DuplicateIndex, text_matches: dict[str, TextMatch]) -> None:
    """The same or near-identical text first; else the same diagnosis with similar salient lines."""
    meta = row.meta
    assert meta is not None
    match = None
    if row.vector is not None:  # registered even when the text decides, so later reports can link to this one
        match = duplicates.add(str(row.id), meta.get("category") and row.top["id"], row.vector)
    text = text_matches.get(str(row.id))
    if text is not None:
        meta.update(duplicate_of=text.earlier, duplicate_kind=text.kind, duplicate_similarity=text.similarity)
    elif match:
        meta.update(duplicate_of=match[0], duplicate_kind="same-cause", duplicate_similarity=match[1])


def _text_duplicates(reports: list[Report]) -> dict[str, TextMatch]:
    """Exact and near-duplicate links over the whole export (cheap: no model), so a resumed run links new reports to
    ones written before. A report links to an earlier one: in issue-number order when every id is a number (GitHub
    exports list the newest first), in input order otherwise."""
    index = TextDuplicates()
    matches = {}
    numbered = all(is_number(str(r.id)) for r in reports)
    for report in sorted(reports, key=lambda r: int(str(r.id))) if numbered else reports:
        if not report.error:
            match = index.add(str(report.id), report.text)
            if match is not None and match.earlier != str(report.id):
                matches[str(report.id)] = match
    return matches


def _rebuild_duplicates(index: DuplicateIndex, done: dict[str, dict], retrieval: bool) -> None:
    """On resume, re-embed the salient lines of reports already written so new ones can link to them."""
    earlier = [(rid, row) for rid, row in done.items() if row.get("diagnosis") and row.get("salient")]
    if not earlier:
        return
    from service.config import get_settings
    from service.embeddings import PackagedEmbeddings

    embeddings = PackagedEmbeddings(get_settings().embedding_model)
    for rid, row in earlier:  # one text per call, as the workers embed them: the same floats, the same links
        index.add(rid, row["diagnosis"], embeddings.embed_query(row["salient"]))
