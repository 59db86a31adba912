"""The literal index (service/prefilter.py) must find exactly what an RE2 set finds: the literals it reads off a
pattern are necessary for a match, case-folding included, and a pattern it cannot read runs on every line."""

import random

import re2

from service.kb import Catalogue
from service.prefilter import MAX_RUN, LiteralIndex, requirement


def _set(patterns: list[str]) -> re2.Set:
    options = re2.Options()
    options.max_mem = 256 << 20  # as service/rules.py builds its sets: the KB's patterns exceed the default budget
    pattern_set = re2.Set.SearchSet(options)
    for pattern in patterns:
        pattern_set.Add(pattern)
    pattern_set.Compile()
    return pattern_set


def _set_matches(patterns: list[str], text: str) -> list[int]:
    return sorted(_set(patterns).Match(text) or [])


def test_requirements_read_off_the_parse_tree():
    assert requirement("Traceback") == "traceback"
    assert requirement(r"(?i)CUDA out of memory\. Tried") == "cuda out of memory. tried"
    # a run of few known strings becomes one OR of its concatenations; the wildcard gap splits the AND
    assert requirement(r"(?i)(deepspeed|ds)[ _-]?config[^\n]{0,40}mismatch") == (
        "and", (("or", ("deepspeed config", "deepspeed-config", "deepspeed_config", "deepspeedconfig",
                        "ds config", "ds-config", "ds_config", "dsconfig")), "mismatch"))
    assert requirement(r"loss\s*=\s*nan") == ("and", ("loss", "=", "nan"))
    assert requirement(r"(a\w+|b)") == ("or", ("a", "b"))
    assert requirement(r"(\w+|b)") is None  # an alternative with no literal: nothing is required
    assert requirement(r"x?y*") is None
    assert requirement(r"\d+\s+steps?") == ("or", ("step", "steps"))


def test_unreadable_and_literal_free_patterns_run_on_every_line():
    patterns = [r"\p{Han}{2}", r"\x{263a}", r"[0-9]{4}", "nan"]  # RE2-only syntax Python's parser cannot read
    index = LiteralIndex(patterns)
    assert index.always == [0, 1, 2]
    assert index.match("数据 ☺ 2024 loss nan") == _set_matches(patterns, "数据 ☺ 2024 loss nan") == [0, 1, 2, 3]
    assert index.match("nothing here") == []


def test_case_folding_never_hides_a_match():
    # RE2's (?i) lets `k` match the Kelvin sign and `s` the long s: casefold maps both to ASCII
    patterns = [r"(?i)killed", r"(?i)sigkill", "Killed", r"(?i)straße", r"(?i)ΣΤΟΠ"]
    index = LiteralIndex(patterns)
    for text in ["process \u212Ailled", "\u017FIG\u212AILL", "KILLED", "Killed", "STRASSE", "straße", "στοπ"]:
        assert index.match(text) == _set_matches(patterns, text), text


def test_no_case_folding_quirk_outside_the_two_letters_it_maps():
    # the only non-ASCII characters an ASCII letter matches under RE2's (?i): the module's argument rests on it
    ascii_letter = re2.compile("(?i)[a-z]")
    odd = [chr(c) for c in range(0x80, 0x30000) if not 0xD800 <= c <= 0xDFFF and ascii_letter.search(chr(c))]
    assert odd == ["\u017F", "\u212A"]
    assert [c.casefold() for c in odd] == ["s", "k"]


def test_kb_patterns_on_mutated_fixture_lines():
    catalogue = Catalogue.load()
    patterns = sorted({m.regex for a in catalogue.articles for m in a.symptoms + a.conditions + a.excludes
                       if m.regex})
    lines = [t for fixtures in catalogue.fixtures.values() for f in fixtures for t in f.text.splitlines() if t]
    index = LiteralIndex(patterns, lines[::2])  # rarity from half the lines, checked on all
    rng = random.Random(11)
    mutated = []
    for line in rng.sample(lines, 400):
        chars = list(line)
        for _ in range(3):
            i = rng.randrange(len(chars))
            chars[i] = rng.choice([chars[i].upper(), chars[i].lower(), " ", "", "\u212A", "\u017F"])
        mutated.append("".join(chars))
    everything = _set(patterns)
    matched = 0
    for text in lines + mutated:
        found = index.match(text)
        if found is None:  # too many candidates: the caller scans with its set
            continue
        assert found == sorted(everything.Match(text) or []), text
        matched += bool(found)
    assert matched > len(lines) // 2


def test_too_many_candidates_hand_back_to_the_set_scan():
    patterns = [f"error{'x' * i}|error" for i in range(MAX_RUN + 1)]
    assert LiteralIndex(patterns).match("an error") is None
    assert LiteralIndex(patterns[:MAX_RUN]).match("an error") == list(range(MAX_RUN))
