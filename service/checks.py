"""Run an article's fixtures through the engine.

- `trigger`: the article is diagnosed and ranked first; `ok`: it is not diagnosed.
- `expect: ID` (any kind): that article ranks first (for an `ok` near miss: the sibling that should win).
- `evidence: [substring, ...]`: each substring is in a line quoted as evidence of the expected article (`expect`, or
  the fixture's own article for a trigger).
- `fixed: |` (trigger): a config block that appears verbatim in the text; with the article's `fix.patch` merged
  into it (RFC 7396), the same paste must no longer diagnose the article.

Shared by `tunedoc check` and the generated test per fixture (tests/test_kb_fixtures.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import yaml

from service.kb import Article, Fixture
from service.models import DiagnoseResult
from service.patches import merge_patch
from service.pipeline import diagnose
from service.rules import RuleSet


@dataclass(frozen=True)
class FixtureOutcome:
    fixture: Fixture
    passed: bool
    detail: str


def patched_config(config: str, article: Article) -> str:
    """`config` (a DeepSpeed JSON object or a training YAML) with the article's matching patch applied."""
    patch = article.fix.patch or {}
    stripped = config.strip()
    if stripped.startswith("{"):
        if "deepspeed-config" not in patch:
            raise ValueError(f"`fixed` is JSON but {article.id} has no deepspeed-config patch")
        return json.dumps(merge_patch(json.loads(stripped), patch["deepspeed-config"]), indent=2) + "\n"
    if "train-config" not in patch:
        raise ValueError(f"`fixed` is YAML but {article.id} has no train-config patch")
    data = yaml.safe_load(stripped)
    if not isinstance(data, dict):
        raise ValueError("`fixed` must be a YAML mapping or a JSON object")
    return yaml.safe_dump(merge_patch(data, patch["train-config"]), sort_keys=False, allow_unicode=True)


def _ranked(result: DiagnoseResult) -> str:
    return str([f"{d.id}({d.score})" for d in result.diagnoses] or "[]")


def run_fixture(rules: RuleSet, fixture: Fixture) -> FixtureOutcome:
    result = diagnose(fixture.text, rules=rules)
    ids = [d.id for d in result.diagnoses]
    failures: list[str] = []
    if fixture.kind in ("trigger", "todo-trigger"):
        if not ids or ids[0] != fixture.article:
            failures.append(f"{fixture.article} is not ranked first")
    elif fixture.article in ids:
        failures.append(f"{fixture.article} is diagnosed")
    if fixture.expect is not None and (not ids or ids[0] != fixture.expect):
        failures.append(f"expected {fixture.expect} first")
    if fixture.evidence:
        winner = fixture.expect or fixture.article
        quoted = [e.text for d in result.diagnoses if d.id == winner for e in d.evidence]
        missing = [s for s in fixture.evidence if not any(s in line for line in quoted)]
        if missing:
            failures.append(f"not quoted as evidence of {winner}: {missing}")
    if fixture.fixed is not None:
        failures += _check_fixed(rules, fixture)
    state = next((d for d in result.differential if d.id == fixture.article), None)
    detail = f"diagnoses={_ranked(result)}"
    if state is not None:
        detail += f"; {fixture.article} is {state.status}" + (f" ({state.reason})" if state.reason else "")
    if failures:
        detail = "; ".join(failures) + f" — {detail}"
    return FixtureOutcome(fixture, not failures, detail)


def _check_fixed(rules: RuleSet, fixture: Fixture) -> list[str]:
    assert fixture.fixed is not None
    article = rules.catalogue.by_id.get(fixture.article)
    if article is None:
        return [f"unknown article {fixture.article}"]
    if fixture.fixed not in fixture.text:
        return ["`fixed` must appear verbatim in `text` (it is the config block the patch is applied to)"]
    try:
        patched = fixture.text.replace(fixture.fixed, patched_config(fixture.fixed, article), 1)
    except (ValueError, yaml.YAMLError) as exc:
        return [f"`fixed`: {exc}"]
    after = diagnose(patched, rules=rules)
    if fixture.article in [d.id for d in after.diagnoses]:
        return [f"still diagnosed after applying the patch: {_ranked(after)}"]
    return []
