"""The signal registry (issue 13, item 1): declarations, the derived run order, the collector's refusals, and the
promises about the vocabulary: every signal is produced by an example, and used by a matcher unless internal."""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import pytest
import yaml

from service import vocabulary
from service.kb import Catalogue, signals_used
from service.models import Line, Part
from service.parse import parse
from service.signals import AREAS, PLAN, extract_signals, registry
from service.signals.registry import (
    Collector,
    Extractor,
    SignalRegistryError,
    SignalSpec,
    UndeclaredSignalError,
    signal,
)
from service.textindex import TextIndex

EXAMPLES = yaml.safe_load((Path(__file__).parent / "data" / "signal_examples.yaml").read_text(encoding="utf-8"))
REGISTERED = [spec.name for spec in registry.specs()]


def signals(text: str) -> dict:
    return {name: s.value for name, s in extract_signals(parse([Part("input", text)])).items()}


def _fake(name: str, provides: tuple[str, ...], requires: tuple[str, ...] = ()) -> Extractor:
    return Extractor(name, "test", "", lambda parsed, out: None,
                     tuple(SignalSpec(p, "bool", "doc", provider=name) for p in provides), requires)


# ---------------------------------------------------------------- declarations and the vocabulary


def test_every_signal_is_declared_once_with_a_known_type_and_a_doc():
    assert len(REGISTERED) == len(set(REGISTERED))
    for spec in registry.specs():
        assert spec.type in vocabulary.SIGNAL_TYPES and spec.doc.strip() and spec.provider, spec
        assert spec.internal is None or spec.internal.strip(), spec


def test_the_vocabulary_is_the_registry():
    assert set(vocabulary.SIGNALS) == set(REGISTERED)
    for name, spec in vocabulary.SIGNALS.items():
        assert spec.name == name and isinstance(spec, vocabulary.SignalSpec)
    assert {ex.area for ex in registry.extractors()} == {a.__name__.rsplit(".", 1)[-1] for a in AREAS}


def test_every_emitted_signal_is_declared_by_its_provider():
    text = "\n".join(example["text"] for examples in EXAMPLES.values() for example in examples)
    found = extract_signals(parse([Part("input", text)]))
    assert set(found) <= set(REGISTERED)


# ---------------------------------------------------------------- the derived run order


def test_plan_runs_each_extractor_after_the_providers_of_what_it_requires():
    position = {ex.name: i for i, ex in enumerate(PLAN)}
    provider = {spec.name: spec.provider for spec in registry.specs()}
    assert set(position) == {ex.name for ex in registry.extractors()}
    for ex in PLAN:
        for needed in ex.requires:
            assert position[provider[needed]] <= position[ex.name], (ex.name, needed)
    # the hidden dependencies of the hand-written order, now declared
    assert position["model"] < position["template"] and position["exceptions"] < position["paste"]


def test_plan_is_deterministic_and_breaks_ties_by_name():
    assert [ex.name for ex in registry.plan()] == [ex.name for ex in PLAN]
    shuffled = list(reversed(registry.extractors()))
    assert [ex.name for ex in registry.plan(shuffled)] == [ex.name for ex in PLAN]
    free = [_fake("c", ("c.x",)), _fake("a", ("a.x",)), _fake("b", ("b.x",), ("c.x",))]
    assert [ex.name for ex in registry.plan(free)] == ["a", "c", "b"]


def test_a_cycle_is_an_error_naming_its_members():
    cycle = [_fake("a", ("a.x",), ("b.x",)), _fake("b", ("b.x",), ("a.x",)), _fake("c", ("c.x",))]
    with pytest.raises(SignalRegistryError, match=r"cycle .*\['a', 'b'\]"):
        registry.plan(cycle)


def test_a_requirement_nobody_provides_is_an_error():
    with pytest.raises(SignalRegistryError, match="requires 'nothing.here'"):
        registry.plan([_fake("a", ("a.x",), ("nothing.here",))])


def test_a_signal_provided_twice_is_an_error():
    with pytest.raises(SignalRegistryError, match="provided by both"):
        registry.plan([_fake("a", ("x",)), _fake("b", ("x",))])


def test_no_extractor_can_join_a_sealed_registry():
    with pytest.raises(SignalRegistryError, match="sealed"):
        registry.extractor(provides=[signal("late.signal", "bool", "doc")])(lambda parsed, out: None)


def test_malformed_declarations_are_refused():
    with pytest.raises(SignalRegistryError, match="type 'list'"):
        registry.extractor(provides=[signal("x.y", "list", "doc")])(lambda parsed, out: None)


# ---------------------------------------------------------------- the collector refuses undeclared signals


def _scope(provides: tuple[str, ...], requires: tuple[str, ...] = ()):
    lines = [Line("input", 1, "bf16: true")]
    return Collector(TextIndex(lines)).scope(_fake("probe", provides, requires))


def test_setting_an_undeclared_signal_raises():
    out = _scope(("precision",))
    out.set("precision", "bf16", [])
    with pytest.raises(UndeclaredSignalError, match="probe set 'tf32'"):
        out.set("tf32", True, [])


def test_reading_an_undeclared_signal_raises():
    out = _scope(("template",), ("model.family",))
    assert out.get("model.family") is None and out.get("template") is None
    with pytest.raises(UndeclaredSignalError, match="probe read 'model.is_base'"):
        out.get("model.is_base")


def _names_used(ex: Extractor) -> set[str]:
    """The literal signal names the extractor's source passes to `out.set`, `out.get` and `out.has`."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(ex.run)))
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("set", "get", "has") and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "out" and node.args and isinstance(node.args[0], ast.Constant)}


@pytest.mark.parametrize("ex", registry.extractors(), ids=lambda ex: ex.name)
def test_an_extractor_names_only_signals_it_declares(ex):
    """Static: a branch no example reaches still cannot set or read an undeclared signal by name."""
    assert _names_used(ex) <= ex.provided | set(ex.requires)


def test_the_static_check_sees_reads_and_writes():
    template = next(ex for ex in registry.extractors() if ex.name == "template")
    assert _names_used(template) == {"template", "template.matches_model", "template.differs", "model.family",
                                     "model.is_base"}


# ---------------------------------------------------------------- every signal is produced, and used unless internal


def test_every_signal_has_an_example():
    assert set(EXAMPLES) == set(REGISTERED), "add an example paste to tests/unit/data/signal_examples.yaml"


@pytest.mark.parametrize("name", REGISTERED)
def test_each_signal_is_produced_by_its_examples(name):
    for example in EXAMPLES.get(name, []):
        found = signals(example["text"])
        assert name in found, example["text"]
        if "value" in example:
            assert found[name] == example["value"]


def test_every_signal_not_marked_internal_is_used_by_a_matcher():
    used = signals_used(Catalogue.load())
    unused = sorted(spec.name for spec in registry.specs() if spec.internal is None and spec.name not in used)
    assert not unused, f"no KB matcher uses {unused}: use it, or mark it internal=... with the reason"
