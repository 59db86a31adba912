"""Finding 3 (issue 11): a quadratic pattern in parse.py cost 0.19 s on one 4,000-space line and 131 s on a 5 MB body.

Every compiled pattern of tunedoc's own modules is found by walking the modules (so a new one cannot be forgotten)
and run with search, match and finditer over 16,000-character adversarial lines. A linear pattern takes
milliseconds; a quadratic one takes seconds here, so the bound has a wide margin on both sides.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import time

import pytest
import re2

import service
import ui

N = 16_000  # a quadratic pattern needs seconds here (and hours at 100k: keep failures fast)
ADVERSARIAL = [
    " " * N, "\t " * (N // 2), "a" * N, "1" * N, "1." * (N // 2), "-" * N, "'" * N, '"a' * (N // 2),
    "=" * N, "a=" * (N // 2), "--a" * (N // 3), "{" * N, "(" * N, "[" * N, "|" * N, "%|" * (N // 2),
    "loss " * (N // 5), "loss: " * (N // 6), "'loss': 1, " * (N // 11), "version " * (N // 8), "- a: " * (N // 5),
    "训练" * (N // 2), "错误 " * (N // 3), "Error" * (N // 5), "error: " * (N // 7), "a " * (N // 2), "a_" * (N // 2),
    "#" * N, "*" * N, "`" * N, "/" * N, "\\" * N, "." * N, ":" * N, "0x" * (N // 2), "torch.Size([" * (N // 12),
    "hf_" * (N // 3), "token=" * (N // 6), "https://" * (N // 8), "A" * N, "eyJ" * (N // 3), "@" * N, "+" * N,
]
BOUND = 1.0  # seconds per pattern, all inputs and all three calls together


def _patterns() -> list[tuple[str, re.Pattern | re2._Regexp]]:
    found: dict[str, re.Pattern | re2._Regexp] = {}

    def collect(name: str, value: object, depth: int = 0) -> None:
        if isinstance(value, (re.Pattern, re2._Regexp)):  # RE2 is linear by design; its str offset mapping is not
            found.setdefault(name, value)
        elif depth < 2 and isinstance(value, dict):
            for key, item in value.items():
                collect(f"{name}[{key}]", item, depth + 1)
        elif depth < 2 and isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                collect(f"{name}[{i}]", item, depth + 1)

    for package in (service, ui):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name.endswith(("chat", "mcp_server")):  # import Gradio/MCP servers; their patterns live elsewhere
                continue
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                collect(f"{info.name}.{name}", value)
    return sorted(found.items())


PATTERNS = _patterns()


def test_the_walk_finds_the_patterns_that_run_on_user_text():
    names = {name for name, _ in PATTERNS}
    assert "service.parse._LOG" in names and "service.parse._METRIC" in names
    assert "service.signals.paste._FAILURE" in names  # an RE2 pattern
    assert len(PATTERNS) > 50


@pytest.mark.parametrize("name, pattern", PATTERNS, ids=[n for n, _ in PATTERNS])
def test_pattern_is_linear_on_adversarial_lines(name, pattern):
    started = time.perf_counter()
    for text in ADVERSARIAL:
        pattern.search(text)
        pattern.match(text)
        for _ in pattern.finditer(text):
            pass
        if time.perf_counter() - started > BOUND:
            pytest.fail(f"{name} took over {BOUND} s (last input: {text[:12]!r}...)")
