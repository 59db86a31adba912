"""Stream a large log file into bounded state: the first lines (configs and prose), the last lines (where runs
fail), the salient lines in between (errors and warnings, capped) and the metric records (downsampled), so a 100 MB
log costs one pass and a bounded amount of memory.

Scanning is chunked and done with C-speed primitives (str.split, str.find, one RE2 pass over a whole chunk);
Python only touches the lines it keeps. The keep-worthy lines are found by literal search (`loss`) and by one RE2
pass (a superset of the error/warning pattern: RE2's ASCII `\b` matches wherever Python's Unicode `\b` does); each
candidate is then confirmed with the original Python pattern, so exactly the same lines are kept as by a Python
regex pass over every line, at disk speed.

Metric values are parsed (`parse._metric_values`, a Python regex) only for the loss lines whose records can be
kept: the first METRICS_KEEP records, the last METRICS_KEEP (found at the end, newest first, from a bounded buffer of
unparsed loss lines) and the non-finite or zero-loss ones (only lines that `_maybe_odd` lets through can hold one).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import re2

from service.models import Line, MetricRecord
from service.parse import _SALIENT_MIDDLE, _metric_values
from service.text import clean_line

CHUNK_BYTES = 8 * 1024 * 1024
STREAM_THRESHOLD_BYTES = 8 * 1024 * 1024  # smaller files are read whole
# A streamed log keeps fewer lines than a paste: its config sits at the top and its failure at the end.
HEAD_LINES, TAIL_LINES, MIDDLE_BUDGET = 2_000, 5_000, 3_000
METRICS_KEEP = 2000  # first and last records kept each; non-finite and zero-loss records kept up to the same cap
_LOSS = re.compile(r"(?<![\w.])['\"]?loss['\"]?\s*[:=]")
# _SALIENT_MIDDLE's alternatives in RE2 (linear time, ~50x faster than Python's re on a chunk); a superset of it.
_SALIENT_PREFILTER = re2.compile(_SALIENT_MIDDLE.pattern)


@dataclass
class StreamedLog:
    lines: list[Line]
    metrics: list[MetricRecord]
    total_lines: int
    total_bytes: int
    notes: list[str] = field(default_factory=list)


def _interesting(values: dict[str, float]) -> bool:
    loss, norm = values.get("loss"), values.get("grad_norm")
    return loss == 0.0 or norm == 0.0 or any(v != v or v in (float("inf"), float("-inf")) for v in values.values())


# Every line whose metric values can be `_interesting` matches this (tests/test_stream_prefilter.py checks it):
# `_metric_values` takes a value from `nan`/`inf`/`infinity` (matched here by `nan|inf`, case-insensitive) or from a
# number `[-+]?\d+(\.\d*)?([eE][-+]?\d+)?` that is preceded by a non-digit, non-dot character. In an ASCII line such
# a number is 0.0 only when its digits are all zeros (the last alternative: zeros, an optional dot and zeros, then
# neither a digit nor a dot) or when it underflows, and it is infinite only when it overflows; neither can happen
# with fewer than 200 digits in each digit run and an exponent of at most two digits (|value| stays within
# 1e-299..1e299). A non-ASCII line (Unicode digits such as `０` are digits to Python's `\d`) always goes the slow way;
# on ASCII text RE2's `\d` and case folding are Python's. A one-pattern RE2 set: its Match is a thinner call than
# search (~0.6 us a line; Python's re ~8 us).
_MAYBE_ODD = re2.Set.SearchSet()
_MAYBE_ODD.Add(r"(?i)nan|inf|\d{200}|e[-+]?\d{3}|(?:^|[^\d.])0+(?:\.0*)?(?:[^\d.]|$)")
_MAYBE_ODD.Compile()


def _maybe_odd(text: str) -> bool:
    return not text.isascii() or _MAYBE_ODD.Match(text) is not None


def _record(part: str, number: int, text: str) -> MetricRecord | None:
    values = _metric_values(text)
    if "loss" in values and len(values) >= 2:
        return MetricRecord(Line(part, number, clean_line(text)), values)
    return None


# Unparsed loss lines buffered before the older ones are dropped (about one in eight is parsed), and the longest
# line buffered (a longer one is parsed at once): the buffer holds at most 8M characters whatever the log.
PENDING_LINES = 8 * METRICS_KEEP
PENDING_LINE_CHARS = 512


def _newest_records(part: str, pending: list[tuple[int, str]], keep: int) -> list[MetricRecord]:
    """The last `keep` metric records among `pending` (loss lines in file order), oldest first: parsed newest
    first, stopping as soon as `keep` are found."""
    found: list[MetricRecord] = []
    for number, text in reversed(pending):
        record = _record(part, number, text)
        if record is not None:
            found.append(record)
            if len(found) >= keep:
                break
    found.reverse()
    return found


def _matching_lines(text: str, pattern: re.Pattern[str], base: int):  # noqa: ANN202 - iterator
    """(line number, line) for each line of `text` with a match; one regex pass over the whole chunk."""
    position = line_index = 0
    for match in pattern.finditer(text):
        start = match.start()
        if start < position:
            continue  # another match on a line already yielded
        line_index += text.count("\n", position, start)
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", start)
        line_end = len(text) if line_end < 0 else line_end
        yield base + line_index + 1, text[line_start:line_end]
        position = line_end


def _loss_lines(text: str, base: int) -> Iterator[tuple[int, str]]:
    """What `_matching_lines(text, _LOSS, base)` yields, found with str.find: every _LOSS match contains the
    literal `loss`, and a match that starts at a quote before it also matches at the `loss` itself (the lookbehind
    then sees the quote), so a line has a match exactly when one of its `loss` occurrences matches there."""
    position = line_index = 0
    find, match = text.find, _LOSS.match
    start = find("loss")
    while start >= 0:
        if match(text, start):  # whole-text semantics: the lookbehind sees the previous character
            line_index += text.count("\n", position, start)
            line_start = text.rfind("\n", 0, start) + 1
            line_end = find("\n", start)
            line_end = len(text) if line_end < 0 else line_end
            yield base + line_index + 1, text[line_start:line_end]
            position = line_end
            start = find("loss", line_end)
        else:
            start = find("loss", start + 1)


def _salient_lines(text: str, base: int) -> Iterator[tuple[int, str]]:
    """What `_matching_lines(text, _SALIENT_MIDDLE, base)` yields: candidates from one RE2 pass over the chunk,
    each confirmed on its line by the Python pattern (whose alternatives never span lines)."""
    position = line_index = skip = 0
    for found in _SALIENT_PREFILTER.finditer(text):
        start = found.start()
        if start < skip:
            continue  # on a line already yielded or rejected
        line_start = text.rfind("\n", 0, start) + 1
        line_end = text.find("\n", start)
        line_end = len(text) if line_end < 0 else line_end
        skip = line_end
        line = text[line_start:line_end]
        if _SALIENT_MIDDLE.search(line):
            line_index += text.count("\n", position, start)
            position = line_end
            yield base + line_index + 1, line


_EARLIER_FRAMES = re2.compile(r"[^\n\r]*\r")


def stream_file(path: Path, part: str = "input") -> StreamedLog:  # noqa: C901 - one pass, kept in one place
    head: list[Line] = []
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    middle: list[Line] = []
    first_metrics: list[MetricRecord] = []
    last_metrics: deque[MetricRecord] = deque(maxlen=METRICS_KEEP)
    pending: list[tuple[int, str]] = []  # loss lines after the first records, newer than last_metrics, unparsed
    odd_metrics: list[MetricRecord] = []

    def flush() -> None:
        last_metrics.extend(_newest_records(part, pending, METRICS_KEEP))
        pending.clear()

    seen_lines = 0
    total_bytes = 0
    carry = ""
    with path.open("rb") as f:
        while True:
            raw = f.read(CHUNK_BYTES)
            total_bytes += len(raw)
            text = carry + raw.decode("utf-8", errors="replace")
            if raw:
                cut = text.rfind("\n")
                if cut < 0:
                    carry = text if len(text) < CHUNK_BYTES else ""  # a single huge line: keep its start only
                    if len(text) >= CHUNK_BYTES:
                        text = text[:4096]
                    else:
                        continue
                else:
                    carry, text = text[cut + 1:], text[:cut]
            elif not text:
                break
            # Line numbers as `grep -n` counts them: a bare \r (a progress bar redrawn in place) does not end a
            # line; of its frames the last, the state the terminal showed, is kept. RE2: linear, C speed.
            if "\r" in text:
                text = _EARLIER_FRAMES.sub("", text.replace("\r\n", "\n"))
            base = seen_lines
            if len(head) < HEAD_LINES:
                first = text.split("\n", HEAD_LINES - len(head))[:HEAD_LINES - len(head)]
                head.extend(Line(part, base + i + 1, clean_line(t)) for i, t in enumerate(first))
            for number, line_text in _loss_lines(text, base):
                if len(first_metrics) < METRICS_KEEP:
                    record = _record(part, number, line_text)
                    if record is not None:
                        first_metrics.append(record)
                    continue
                if len(odd_metrics) < METRICS_KEEP and _maybe_odd(line_text):
                    record = _record(part, number, line_text)
                    if record is not None and _interesting(record.values):
                        odd_metrics.append(record)
                if len(line_text) > PENDING_LINE_CHARS:
                    flush()
                    record = _record(part, number, line_text)
                    if record is not None:
                        last_metrics.append(record)
                else:
                    pending.append((number, line_text))
                    if len(pending) >= PENDING_LINES:
                        flush()
            if len(middle) < MIDDLE_BUDGET:
                for number, line_text in _salient_lines(text, base):
                    if number > HEAD_LINES:
                        middle.append(Line(part, number, clean_line(line_text)))
                        if len(middle) >= MIDDLE_BUDGET:
                            break
            # only the chunk's last TAIL_LINES lines can reach the tail: split those, count the rest
            pieces = text.rsplit("\n", TAIL_LINES)
            tail.extend(pieces[1:] if len(pieces) > TAIL_LINES else pieces)
            seen_lines += text.count("\n") + 1
            if not raw:
                break
    flush()
    tail_start = seen_lines - len(tail) + 1
    kept: dict[int, Line] = {line.number: line for line in head}
    kept.update({line.number: line for line in middle if line.number < tail_start})
    kept.update({tail_start + i: Line(part, tail_start + i, clean_line(t)) for i, t in enumerate(tail)})
    metrics = sorted({r.line.number: r for r in first_metrics + odd_metrics + list(last_metrics)}.values(),
                     key=lambda r: r.line.number)
    notes = []
    if seen_lines > len(kept):
        notes.append(f"large log ({total_bytes / 1e6:.1f} MB, {seen_lines} lines): analysed the first {len(head)}, "
                     f"the last {len(tail)} and {len(middle)} error/warning lines in between; "
                     f"{len(metrics)} metric records kept")
    return StreamedLog(sorted(kept.values(), key=lambda line: line.number), metrics, seen_lines, total_bytes, notes)
