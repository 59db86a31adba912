"""Read issue reports from the formats maintainers have: the JSONL contract, a GitHub issues export (the REST API's
JSON array; pull requests skipped), CSV with id/title/body columns, and a folder of .md/.txt files."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from service.errors import InputError
from service.text import valid_unicode

FORMATS = ("jsonl", "github", "csv", "folder")


def report_text(title: str | None, body: str | None) -> str:
    """The text diagnosed for a report: title, blank line, body (the stable triage contract)."""
    return f"{title or ''}\n\n{body or ''}"


@dataclass
class Report:
    id: str | int
    title: str = ""
    body: str = ""
    url: str | None = None
    labels: list[str] = field(default_factory=list)
    error: str | None = None  # a line that could not be read: reported in the output, not raised
    error_code: str = "bad_input"

    def __post_init__(self) -> None:
        # Every reader's strings pass here: a lone surrogate would break the output line and the resume.
        self.id = valid_unicode(self.id) if isinstance(self.id, str) else self.id
        self.title, self.body = valid_unicode(self.title), valid_unicode(self.body)

    @property
    def text(self) -> str:
        return report_text(self.title, self.body)


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "folder"
    if path.suffix.lower() == ".csv":
        return "csv"
    with path.open("rb") as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "github" if head.startswith(b"[") else "jsonl"


def _jsonl(path: Path) -> Iterator[Report]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
                if not isinstance(row, dict):
                    raise ValueError("a report must be a JSON object")
            except ValueError as exc:
                yield Report(id=f"line-{number}", error=f"line {number}: {exc}", error_code="bad_json")
                continue
            yield Report(id=row.get("id", f"line-{number}"), title=str(row.get("title") or ""),
                         body=str(row.get("body") or ""), url=row.get("url") or row.get("html_url"))


def _github(path: Path) -> Iterator[Report]:
    try:
        items = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError as exc:
        raise InputError(f"{path}: not a JSON array of issues: {exc}") from exc
    if not isinstance(items, list):
        raise InputError(f"{path}: a GitHub export is a JSON array of issues")
    for item in items:
        if not isinstance(item, dict) or "pull_request" in item:
            continue
        labels = [label.get("name", "") if isinstance(label, dict) else str(label) for label in item.get("labels", [])]
        yield Report(id=item.get("number", item.get("id")) or "", title=str(item.get("title") or ""),
                     body=str(item.get("body") or ""), url=item.get("html_url"), labels=labels)


def _csv(path: Path) -> Iterator[Report]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        reader = csv.DictReader(f)
        columns = {c.lower().strip(): c for c in reader.fieldnames or []}
        if "id" not in columns or ("title" not in columns and "body" not in columns):
            raise InputError(f"{path}: CSV needs an `id` column and `title` and/or `body` columns; "
                             f"found {reader.fieldnames}")
        for row in reader:
            yield Report(id=row[columns["id"]], title=row.get(columns.get("title", ""), "") or "",
                         body=row.get(columns.get("body", ""), "") or "", url=row.get(columns.get("url", "")) or None)


def _folder(path: Path) -> Iterator[Report]:
    for file in sorted(p for p in path.iterdir() if p.suffix.lower() in (".md", ".txt") and p.is_file()):
        text = file.read_text(encoding="utf-8", errors="replace")
        first, _, rest = text.partition("\n")
        yield Report(id=file.stem, title=first.lstrip("# ").strip(), body=rest.strip("\n"))


def read_reports(path: Path, fmt: str | None = None) -> Iterator[Report]:
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    fmt = fmt or detect_format(path)
    readers = {"jsonl": _jsonl, "github": _github, "csv": _csv, "folder": _folder}
    if fmt not in readers:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return readers[fmt](path)
