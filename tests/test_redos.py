"""Regexes run on untrusted text. KB patterns run in RE2 (linear time; the catalogue lint rejects what RE2 cannot
compile); tunedoc's own Python patterns are checked here too. Each pattern gets adversarial inputs and a time bound."""

import re
import time

import pytest
import re2

import service.parse as parse_module
import service.salient as salient_module
import service.signals as signals_module
from service.kb import Catalogue

ADVERSARIAL = [
    "a" * 4096 + "!",
    "(" * 4000,
    "loss " * 800,
    "size mismatch for x: " + "copying a param with shape torch.Size([" * 100,
    "-" * 4096,
    "1." * 2000,
    " \t" * 2000,
    "OVERFLOW! " * 400,
    "训练" * 2000,
    "'" + "a'" * 2000,
    "--" * 2000 + "=",
    "{" * 2000 + '"a":' * 500,
]
BOUND = 0.5  # seconds per pattern for all inputs together; a catastrophic pattern takes minutes


def _kb_patterns() -> list[str]:
    catalogue = Catalogue.load()
    patterns = {m.regex for a in catalogue.articles for m in a.matchers if m.regex}
    patterns |= {m.regex for g in catalogue.groups.values() for m in g.symptoms if m.regex}
    return sorted(patterns)


def _own_patterns() -> list[tuple[str, re.Pattern]]:
    found = []
    for module in (parse_module, signals_module, salient_module):
        for name, value in sorted(vars(module).items()):
            if isinstance(value, re.Pattern):
                found.append((f"{module.__name__}.{name}", value))
    for name, pattern in sorted(signals_module._VERSION_RES.items()):
        found.append((f"version:{name}", pattern))
    for name, pattern in sorted(signals_module._KNOWN_RES.items()):
        found.append((f"known:{name}", pattern))
    return found


@pytest.mark.parametrize("pattern", _kb_patterns())
def test_kb_pattern_is_linear_time(pattern):
    compiled = re2.compile(pattern)
    started = time.perf_counter()
    for text in ADVERSARIAL:
        compiled.search(text)
    assert time.perf_counter() - started < BOUND


@pytest.mark.parametrize("name, pattern", _own_patterns(), ids=[n for n, _ in _own_patterns()])
def test_own_pattern_is_fast_on_adversarial_lines(name, pattern):
    started = time.perf_counter()
    for text in ADVERSARIAL:
        pattern.search(text)
    assert time.perf_counter() - started < BOUND, name


def test_lint_rejects_a_pattern_re2_cannot_take():
    from service.kb import Matcher

    with pytest.raises(ValueError, match="RE2 cannot compile"):
        Matcher(id="x", regex=r"(a+)\1")
