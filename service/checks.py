"""Run an article's fixtures through the engine: `trigger` must rank it first, `ok` must not diagnose it.

Shared by `tunedoc check` and the generated test per fixture (tests/test_kb_fixtures.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from service.kb import Fixture
from service.pipeline import diagnose
from service.rules import RuleSet


@dataclass(frozen=True)
class FixtureOutcome:
    fixture: Fixture
    passed: bool
    detail: str


def run_fixture(rules: RuleSet, fixture: Fixture) -> FixtureOutcome:
    result = diagnose(fixture.text, rules=rules)
    ranked = [f"{d.id}({d.score})" for d in result.diagnoses]
    ids = [d.id for d in result.diagnoses]
    if fixture.kind in ("trigger", "todo-trigger"):
        passed = bool(ids) and ids[0] == fixture.article
    else:
        passed = fixture.article not in ids
    state = next((d for d in result.differential if d.id == fixture.article), None)
    detail = f"diagnoses={ranked or '[]'}"
    if state is not None:
        detail += f"; {fixture.article} is {state.status}" + (f" ({state.reason})" if state.reason else "")
    return FixtureOutcome(fixture, passed, detail)
