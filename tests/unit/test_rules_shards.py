"""A short paste is scanned with small RE2 sets, a long one with the big set: both must find the same lines."""

from service.kb import Catalogue
from service.models import Line
from service.rules import SMALL_INPUT_LINES, RuleSet


def _scan_with(rules: RuleSet, shards, lines: list[Line]) -> dict[int, list[int]]:  # noqa: ANN001 - RE2 shards
    found: dict[int, list[int]] = {}
    for line in lines:
        for offset, shard in shards:
            for i in shard.Match(line.text) or ():
                found.setdefault(offset + i, []).append(line.number)
    return {k: v[:5] for k, v in found.items()}


def test_small_and_big_sets_match_the_same_lines():
    catalogue = Catalogue.load()
    rules = RuleSet(catalogue)
    assert rules._use_small and len(rules._small_sets) > 1  # today's KB takes the small-set path for short pastes
    texts = [f.text for fixtures in catalogue.fixtures.values() for f in fixtures]
    assert len(texts) > 100
    for text in texts:
        lines = [Line("paste", i, t) for i, t in enumerate(text.splitlines(), start=1) if t][:SMALL_INPUT_LINES]
        scanned = {k: [line.number for line in v] for k, v in rules.scan(lines).items()}
        assert scanned == _scan_with(rules, rules._sets, lines) == _scan_with(rules, rules._small_sets, lines)
