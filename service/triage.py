"""`tunedoc triage`: diagnose a JSONL file of reports, one output line per input line, in input order.

The contract (stable; other tools depend on it): each input line is `{"id", "title", "body"}` (other fields
ignored); the text diagnosed is title, blank line, body; each output line is `{"id", ...the diagnose JSON...}`.
A line that cannot be read yields `{"id", "error": {"code", "message"}}` instead, so the output stays aligned.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

from service.gaps import group_gaps, render_gaps
from service.pipeline import diagnose, load_rules


def report_text(row: dict) -> str:
    return f"{row.get('title') or ''}\n\n{row.get('body') or ''}"


def triage_lines(lines: Iterator[str], *, retriever=None) -> Iterator[tuple[dict, str | None]]:  # noqa: ANN001
    rules = load_rules()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
            if not isinstance(row, dict):
                raise ValueError("a report must be a JSON object")
        except ValueError as exc:
            yield {"id": f"line-{number}", "error": {"code": "bad_json", "message": str(exc)}}, None
            continue
        report_id = row.get("id", f"line-{number}")
        text = report_text(row)
        result = diagnose(text, rules=rules, retriever=retriever)
        yield {"id": report_id, **result.model_dump(mode="json")}, text


def triage_file(source: Path, target: Path | None, *, retrieval: bool = True) -> str:
    retriever = None
    if retrieval:
        from service.retrieval import open_retriever

        retriever = open_retriever(build_if_stale=True)
    out = target.open("w", encoding="utf-8") if target else sys.stdout
    count, gaps = 0, []
    try:
        with source.open(encoding="utf-8", errors="replace") as lines:
            for row, text in triage_lines(lines, retriever=retriever):
                out.write(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
                count += 1
                if text is not None and not row.get("diagnoses"):
                    gaps.append((str(row["id"]), text))
    finally:
        if target:
            out.close()
    return f"triaged {count} report(s)\n" + render_gaps(group_gaps(gaps))
