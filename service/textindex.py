"""Search a whole paste at once and map matches back to their lines.

Running a regex over the joined text is one pass in C; looping over 100k lines in Python and searching each is not.
Patterns that anchor with ^/$ must be compiled with re.MULTILINE to keep their per-line meaning.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator

from service.models import Line


class TextIndex:
    """Indexes each distinct line text once (its first occurrence): a warning repeated 200k times is one line."""

    def __init__(self, lines: list[Line]) -> None:
        seen: set[str] = set()
        self.lines = []
        for line in lines:
            if line.text not in seen:
                seen.add(line.text)
                self.lines.append(line)
        self.starts: list[int] = []
        position = 0
        for line in self.lines:
            self.starts.append(position)
            position += len(line.text) + 1
        self.text = "\n".join(line.text for line in self.lines)

    def line_at(self, position: int) -> Line:
        return self.lines[bisect_right(self.starts, position) - 1]

    def first(self, pattern: re.Pattern[str]) -> tuple[re.Match[str], Line] | None:  # also takes an re2 pattern
        match = pattern.search(self.text)
        return (match, self.line_at(match.start())) if match else None

    def finditer(self, pattern: re.Pattern[str]) -> Iterator[tuple[re.Match[str], Line]]:
        for match in pattern.finditer(self.text):
            yield match, self.line_at(match.start())

    def lines_matching(self, pattern: re.Pattern[str], limit: int) -> list[Line]:
        """The first `limit` distinct lines with a match."""
        found: list[Line] = []
        for _, line in self.finditer(pattern):
            if not found or found[-1] is not line:
                found.append(line)
                if len(found) >= limit:
                    break
        return found
