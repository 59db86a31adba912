"""A short paste is scanned with RE2's atom prefilter, a long one with the big RE2 set: both must find the same
lines, on every fixture and on a KB five times larger (several prefilter shards)."""

import random

from service.kb import Catalogue
from service.models import Line
from service.rules import SMALL_INPUT_LINES, RuleSet
from tests.kb_scale import scaled_catalogue


def _scan(shards, lines: list[Line], encode: bool) -> dict[int, list[int]]:  # noqa: ANN001 - RE2 shards
    found: dict[int, list[int]] = {}
    for line in lines:
        text = line.text.encode() if encode else line.text
        for offset, shard in shards:
            for i in shard.Match(text) or ():
                found.setdefault(offset + i, []).append(line.number)
    return {k: v[:5] for k, v in found.items()}


def _lines(text: str) -> list[Line]:
    return [Line("paste", i, t) for i, t in enumerate(text.splitlines(), start=1) if t][:SMALL_INPUT_LINES]


def test_the_prefilter_and_the_set_match_the_same_lines():
    catalogue = Catalogue.load()
    rules = RuleSet(catalogue)
    assert rules._filters is not None
    texts = [f.text for fixtures in catalogue.fixtures.values() for f in fixtures]
    assert len(texts) > 100
    rng = random.Random(7)
    mixed = ["\n".join(rng.sample(texts, 5)) for _ in range(50)]  # evidence of several causes in one paste
    for text in texts + mixed:
        lines = _lines(text)
        scanned = {k: [line.number for line in v] for k, v in rules.scan(lines).items()}
        assert scanned == _scan(rules._sets, lines, False) == _scan(rules._filters, lines, True)


def test_a_larger_kb_prefilters_in_shards_and_matches_the_same():
    base = Catalogue.load()
    rules = RuleSet(scaled_catalogue(base, 5, distinct=True))
    assert rules._filters is not None and len(rules._filters) > 1
    for fixtures in list(base.fixtures.values())[:15]:
        lines = _lines(fixtures[0].text)
        assert _scan(rules._filters, lines, True) == _scan(rules._sets, lines, False)
