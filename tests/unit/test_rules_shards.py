"""A short paste is scanned through the literal index, a long one with the big RE2 sets: both must find the same
lines, on every fixture, on pastes mixing several causes' evidence, and on KBs five and twenty times larger."""

import random

from service.kb import Catalogue
from service.models import Line
from service.negation import mask_negated_symptoms
from service.rules import SMALL_INPUT_LINES, RuleSet
from tests.kb_scale import scaled_catalogue


def _scan_sets(rules: RuleSet, lines: list[Line]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for line in lines:
        for offset, shard in rules._sets:
            for i in shard.Match(mask_negated_symptoms(line.text)) or ():  # as scan() reads a line
                found.setdefault(offset + i, []).append(line.number)
    return {k: v[:5] for k, v in found.items()}


def _scan(rules: RuleSet, lines: list[Line]) -> dict[int, list[int]]:
    return {k: [line.number for line in v] for k, v in rules.scan(lines).items()}


def _lines(text: str) -> list[Line]:
    return [Line("paste", i, t) for i, t in enumerate(text.splitlines(), start=1) if t][:SMALL_INPUT_LINES]


def test_the_literal_index_and_the_sets_match_the_same_lines():
    catalogue = Catalogue.load()
    rules = RuleSet(catalogue)
    texts = [f.text for fixtures in catalogue.fixtures.values() for f in fixtures]
    assert len(texts) > 100
    rng = random.Random(7)
    mixed = ["\n".join(rng.sample(texts, 5)) for _ in range(50)]  # evidence of several causes in one paste
    woken = 0
    for text in texts + mixed:
        lines = _lines(text)
        assert len(lines) <= SMALL_INPUT_LINES
        scanned = _scan(rules, lines)
        assert scanned == _scan_sets(rules, lines)
        woken += len(scanned)
    assert woken > len(texts)  # the fixtures do match: the comparison is not between two empty results


def test_larger_kbs_match_the_same():
    base = Catalogue.load()
    texts = [fixtures[0].text for fixtures in list(base.fixtures.values())[:20]]
    for factor, distinct in ((5, True), (20, True), (5, False)):
        rules = RuleSet(scaled_catalogue(base, factor, distinct=distinct))
        for text in texts:
            lines = _lines(text)
            assert _scan(rules, lines) == _scan_sets(rules, lines)


def test_a_kb_grown_by_new_causes_runs_no_more_patterns_per_line():
    """What keeps the rule cost flat: a line's candidates are the patterns keyed by literals it holds, and the copies
    of a KB grown by new causes are keyed by their own evidence (rare on the fixtures), not by their originals'."""
    base = Catalogue.load()
    lines = [t for fixtures in base.fixtures.values() for f in fixtures for t in f.text.splitlines() if t]
    small = RuleSet(base)._literals
    grown = RuleSet(scaled_catalogue(base, 20, distinct=True))._literals
    assert len(grown.patterns) > 15 * len(small.patterns)
    run_small = sum(len(small.candidates(t)) for t in lines)
    run_grown = sum(len(grown.candidates(t)) for t in lines)
    assert run_small > len(lines)  # the lines do wake patterns
    assert run_grown <= 1.1 * run_small
