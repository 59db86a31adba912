"""The warm path's shortcuts give what the plain code gives: fact location by index, the advice screen, the
emphasis screen, last_fact from the end and the snippet cache."""

import random

from service.models import Fact, Line
from service.parse import _ADVICE, _EMPHASIS, _advice, _yaml_facts
from service.patches import FactIndex, _render_snippet, locate, snippet
from service.signals.facts import last_fact

KEYS = ["bf16", "fp16", "stage", "overlap_comm", "HF_TOKEN".lower(), "lr"]
PATHS = ["bf16", "train.bf16", "zero_optimization.stage", "stage", "overlap_comm", "hf_token", "lr"]
SOURCES = ["yaml", "json", "flag", "kwarg", "env"]


def _facts(rng: random.Random, n: int) -> list[Fact]:
    line = Line("input", 1, "x")
    return [Fact(rng.choice(KEYS), rng.choice(PATHS), rng.choice([None, True, 1, "a"]), line, rng.choice(SOURCES))
            for _ in range(n)]


def _locate_plain(target: str, patch: dict, facts: list[Fact]) -> list[Fact]:
    found = []
    for path in (["zero_optimization.stage", "bf16", "overlap_comm", "hf_token", "lr"] if patch else []):
        leaf = path.rsplit(".", 1)[-1]
        matches = [f for f in facts if f.path == path or (f.key == leaf and (target != "env" or f.source == "env"))]
        if matches:
            found.append(matches[-1])
    return found


def test_locate_by_index_is_the_last_matching_fact():
    rng = random.Random(5)
    patch = {"zero_optimization": {"stage": 2}, "bf16": True, "overlap_comm": False, "hf_token": None, "lr": 1}
    for _ in range(300):
        facts = _facts(rng, rng.randint(0, 40))
        for target in ("train-config", "deepspeed-config", "env"):
            got = locate(target, patch, FactIndex(facts))
            assert [id(f) for f in got] == [id(f) for f in _locate_plain(target, patch, facts)]


def test_last_fact_from_the_end_is_the_last_one():
    rng = random.Random(6)
    for _ in range(300):
        facts = _facts(rng, rng.randint(0, 30))
        keys = tuple(rng.sample(KEYS, 2))
        sources = tuple(rng.sample(SOURCES, rng.randint(0, 2)))
        chosen = None
        for fact in facts:
            if fact.key in keys and (not sources or fact.source in sources) and fact.value is not None:
                chosen = fact
        assert last_fact(facts, *keys, sources=sources) is chosen


def test_advice_screen_agrees_with_the_regex():
    texts = ["lr=1e-5", "You should set use_cache=False", "WARNING: x=1", "please use attn=eager", "pleaseuse a=1",
             "recommended: a=b", "ſhould you ſet x=1", "you ſhould x=1", "conſider x=1", "WARN x=1", "you  can a=b",
             "instead  of a=b", "Instead Of a=b", "\u212aeep x=1", "我建议 consider x=1", "YOU MAY x=2"]
    for text in texts:
        assert _advice(text) == bool(_ADVICE.search(text)), text


def test_emphasis_screen_keeps_every_substitution():
    texts = ["**bf16: true**", "`fp16: false`  ", "__stage: 3__", "a_b: 1", "**bold** text", "x: `y`", "`a`\u2003",
             "  **flash_attn: disabled** ", "*a: 1*", "_a: 1_", "`a`\x1c", "**a**\u00a0\u3000"]
    for text in texts:
        if _EMPHASIS.sub(r"\1\2", text) != text:  # _yaml_facts substitutes only lines that pass this screen
            assert text.rstrip().endswith(("**", "__", "`")), text
        fact = _yaml_facts(Line("input", 1, text), [])
        assert fact is None or "*" not in str(fact.value) or not text.rstrip().endswith("**"), text


def test_snippet_cache_renders_like_the_plain_call():
    for target, patch in [("train-config", {"bf16": True}), ("train-config", {"bf16": 1}),
                          ("train-config", {"bf16": 1.0}), ("deepspeed-config", {"zero_optimization": {"stage": 2}}),
                          ("env", {"NCCL_P2P_DISABLE": 1})]:
        assert snippet(target, patch) == _render_snippet(target, patch)
        assert snippet(target, patch) == _render_snippet(target, patch)  # from the cache
