"""numbered_frames' fast path (a paste with no `\\r` and no control character: one split, no regex per line) gives
what the per-line cleaning gives."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from service.text import _LINE_END, MAX_LINE_CHARS, clean_line, numbered_frames

EXAMPLES = int(os.environ.get("TUNEDOC_FUZZ_EXAMPLES", "1000"))


def reference_frames(text: str) -> list[tuple[int, str]]:
    """numbered_frames without the fast path (the oracle)."""
    if not text:
        return []
    lines = _LINE_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    out: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if "\r" in line:
            frames = [f for f in line.split("\r") if f.strip()] or [""]
            out.extend((number, clean_line(f)) for f in frames)
        else:
            out.append((number, clean_line(line)))
    return out


PIECES = ["\n", "\r\n", "\r", "\t", " ", "a", "loss: 1", "中文", "\x1b[31m", "\x1b]0;t\x07", "\x00", "\x0b", "\x0c",
          "\x1c", "\x7f", "\u2028", "\x85", "é", "x" * (MAX_LINE_CHARS - 2), "\n\n", ""]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=30).map("".join))
def test_numbered_frames_equal_per_line_cleaning(text):
    assert numbered_frames(text) == reference_frames(text)


def test_numbered_frames_long_and_plain_lines():
    for text in ["a\nb\n", "a\n\nb", "\n", "x" * (3 * MAX_LINE_CHARS) + "\nend", "tab\there\n\u2028next", "no newline"]:
        assert numbered_frames(text) == reference_frames(text)
