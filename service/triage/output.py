"""Crash-safe, resumable JSONL output.

Each finished report is appended as one complete line with a single write() on an O_APPEND descriptor, so a kill
leaves whole lines only (at worst a torn last line if the machine itself dies mid-write). On start, a torn last line
is cut off and the ids already written are skipped, so re-running the same command completes the rest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class ResumableOutput:
    """`summarize` keeps what the summary report needs of each row, not the whole row (memory stays small)."""

    def __init__(self, path: Path, summarize=lambda row: row) -> None:  # noqa: ANN001 - dict -> dict
        self.path = path
        self.summarize = summarize
        self.done: dict[str, dict] = {}
        self._repair_and_load()
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def _repair_and_load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        good_end = 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break  # torn tail: written partly when the process died
            try:
                row = json.loads(line)
            except ValueError:
                break
            self.done[str(row.get("id"))] = self.summarize(row)
            good_end += len(line)
        if good_end != len(data):
            with self.path.open("r+b") as f:
                f.truncate(good_end)

    def write(self, row: dict) -> None:
        self.write_line(str(row.get("id")), json.dumps(row, ensure_ascii=False), row)

    def write_line(self, row_id: str, text: str, row: dict) -> None:
        """Append `text` (a row already serialised, no newline) as one line; `row` holds what `summarize` reads."""
        view = memoryview((text + "\n").encode("utf-8"))
        while view:  # one write() in practice; loop only for a short write
            view = view[os.write(self._fd, view):]
        self.done[row_id] = self.summarize(row)

    def close(self) -> None:
        os.close(self._fd)
