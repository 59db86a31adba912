"""Helpers the extractors share: the last fact with a key, the first line matching a pattern, config truthiness, the
prose lines of a paste and the clause around a match."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from service.models import Fact, Line, Parsed
from service.text import clause
from service.textindex import TextIndex

# Python's \b and \w count CJK characters as word characters, so an ASCII term written against Chinese text
# ("bf16开着", "用zero3训练", "学习率2e-4训练") has no \b around it. Prose readings bound their terms by ASCII word
# characters only (RE2's \b, which the text index's prefilter already uses, means the same).
ASCII_WORD = "A-Za-z0-9_"
ASCII_B = rf"(?:(?<![{ASCII_WORD}])(?=[{ASCII_WORD}])|(?<=[{ASCII_WORD}])(?![{ASCII_WORD}]))"


def prose_pattern(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """`pattern` compiled with each `\\b` an ASCII word boundary (see ASCII_B)."""
    return re.compile(pattern.replace(r"\b", ASCII_B), flags)


def last_fact(facts: list[Fact], *keys: str, sources: tuple[str, ...] = ()) -> Fact | None:
    """The last non-null fact with one of `keys`: a later line (an override) wins."""
    for fact in reversed(facts):  # from the end: the first found is the last, and most keys are found early
        if fact.key in keys and (not sources or fact.source in sources) and fact.value is not None:
            return fact
    return None


def first_match(index: TextIndex, pattern: re.Pattern[str]) -> tuple[re.Match[str], Line] | None:
    return index.first(pattern)


def truthy(value: object) -> bool | None:
    """A config value as a boolean; None when it says nothing (`auto`, a list, ...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        low = value.lower()
        if low in ("auto",):
            return None
        return low not in ("", "0", "false", "no", "none", "off")
    return None


# Settings and symptoms named in prose sit at the top of a report: the first 200 prose lines are read.
PROSE_LINES = 200


def prose_lines(parsed: Parsed) -> list[Line]:
    """The paste's prose lines (and its first line, often a title), in order, at most PROSE_LINES."""
    return [line for seg in parsed.segments if seg.kind == "prose" or seg.lines[0] is parsed.lines[0]
            for line in seg.lines][:PROSE_LINES]


V = TypeVar("V", bound=Hashable)


def named_values(lines: Sequence[Line],
                 readers: Sequence[tuple[re.Pattern[str], Callable[[re.Match[str]], V | None]]],
                 advice: re.Pattern[str] | None = None) -> dict[V, Line]:
    """Every value the lines name for a setting, with the first line naming it: each reader's pattern found in the
    lines, read into a value (None: not a value of the setting), skipped where its clause is `advice` ("lower it to
    ...", "建议 ...")."""
    named: dict[V, Line] = {}
    for line in lines:
        for pattern, value_of in readers:
            for match in pattern.finditer(line.text):
                value = value_of(match)
                if value is not None and not (advice and advice.search(clause(line.text, match.start(), match.end()))):
                    named.setdefault(value, line)
    return named


def named_once(parsed: Parsed, readers: Sequence[tuple[re.Pattern[str], Callable[[re.Match[str]], V | None]]],
               advice: re.Pattern[str]) -> tuple[V, Line] | None:
    """The one value the prose names for a setting (`named_values` over the prose lines), and its first line. None
    when the prose names no value or several (which one is this run's?)."""
    named = named_values(prose_lines(parsed), readers, advice)
    return next(iter(named.items())) if len(named) == 1 else None
