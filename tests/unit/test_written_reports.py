"""benchmarks/written_reports: every report names a category kb/ has (or out-of-scope / not:<category>), and the
outcome of an answer is classified the way the benchmark's table says."""

from __future__ import annotations

import json

import pytest

from benchmarks.written_reports import REPORTS, outcome
from service.kb import Catalogue


def test_every_expected_category_exists() -> None:
    categories = {a.category for a in Catalogue.load().articles} | {"out-of-scope"}
    for row in map(json.loads, REPORTS.read_text(encoding="utf-8").splitlines()):
        assert row["expected"].removeprefix("not:") in categories, row["expected"]
        assert row["text"].strip() and row["genre"]


@pytest.mark.parametrize(("expected", "diagnosed", "ranked", "got"), [
    ("a", ["a"], ["a", "b"], "answered"),
    ("a", ["b"], ["b", "a"], "wrong first"),
    ("a", [], ["a", "b"], "named first"),
    ("a", [], ["b", "c", "a"], "top 3"),
    ("a", [], ["b", "c", "d", "a"], "missed"),
    ("out-of-scope", [], ["a"], "abstained"),
    ("out-of-scope", ["a"], ["a"], "wrong first"),
    ("not:a", ["a"], ["a"], "wrong first"),
    ("not:a", ["b"], ["b", "a"], "held back"),
    ("not:a", [], ["a"], "held back"),
])
def test_outcome(expected: str, diagnosed: list[str], ranked: list[str], got: str) -> None:
    assert outcome(expected, diagnosed, ranked) == got
