"""One test per KB fixture: a `trigger` must rank its article first; an `ok` near miss must not diagnose it."""

import pytest

from service.checks import run_fixture
from service.kb import Catalogue

_CATALOGUE = Catalogue.load()
_CASES = [
    pytest.param(fixture, id=f"{article_id}[{fixture.kind}]{fixture.name}",
                 marks=[pytest.mark.xfail(strict=False)] if fixture.kind.startswith("todo") else [])
    for article_id, fixtures in sorted(_CATALOGUE.fixtures.items())
    for fixture in fixtures
]


@pytest.mark.parametrize("fixture", _CASES)
def test_fixture(rules, fixture):
    outcome = run_fixture(rules, fixture)
    assert outcome.passed, outcome.detail


def _one(name: str):
    return next(f for fs in _CATALOGUE.fixtures.values() for f in fs if f.name == name)


def test_expect_evidence_and_fixed_can_fail(rules):
    base = _one("llamafactory-qwen25-lora-bf16-nan-from-start")
    assert run_fixture(rules, base).passed
    wrong_winner = base.model_copy(update={"expect": "fp16-overflow"})
    assert "expected fp16-overflow first" in run_fixture(rules, wrong_winner).detail
    unquoted = base.model_copy(update={"evidence": ["a line that is not there"]})
    assert "not quoted as evidence" in run_fixture(rules, unquoted).detail
    no_fix = base.model_copy(update={"fixed": "cutoff_len: 4096\n"})  # patching this block leaves bf16 on
    assert "still diagnosed after applying the patch" in run_fixture(rules, no_fix).detail


def test_merge_patch_is_rfc7396():
    from service.checks import merge_patch

    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": None, "e": 4}, "f": 5}) == {
        "a": 1, "b": {"d": 3, "e": 4}, "f": 5}
