"""Helpers the extractors share: the last fact with a key, the first line matching a pattern, config truthiness."""

from __future__ import annotations

import re

from service.models import Fact, Line
from service.textindex import TextIndex


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
