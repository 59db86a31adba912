"""The signal registry: every extractor, the signals it provides (name, type, doc) and the signals it requires.

An extractor is a function `(parsed, out) -> None` decorated with `@extractor(provides=[...], requires=[...])`.
The run order is derived, not written: a topological sort of the `requires` edges, ties broken by extractor name,
so it is the same on every run. A signal provided twice, a required signal nobody provides, or a cycle is a
`SignalRegistryError` when `plan()` runs (at import of service.signals). While an extractor runs, its collector
refuses to set a signal it did not declare in `provides` and to read one it did not declare in `requires`
(`UndeclaredSignalError`). service/vocabulary.py and docs/signals.md are built from this registry.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from service.models import Line, Parsed, Signal
from service.textindex import TextIndex

SIGNAL_TYPES = ("bool", "int", "float", "str", "version")
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")


class SignalRegistryError(Exception):
    """A broken declaration: duplicate or malformed signal, unknown requirement, a cycle."""


class UndeclaredSignalError(AssertionError):
    """An extractor set or read a signal it did not declare (a programming error, found by the tests)."""


@dataclass(frozen=True)
class SignalSpec:
    """One signal of the vocabulary. `internal`: why no KB matcher uses it (None: matchers must use it)."""

    name: str
    type: str
    doc: str
    internal: str | None = None
    provider: str = ""  # the name of the extractor that sets it; filled in at registration


def signal(name: str, type_: str, doc: str, *, internal: str | None = None) -> SignalSpec:
    """Declare a signal in an extractor's `provides`."""
    return SignalSpec(name, type_, doc, internal)


ExtractorFn = Callable[[Parsed, "Scope"], None]


@dataclass(frozen=True)
class Extractor:
    name: str  # the function's name, unique across areas, e.g. "deepspeed"
    area: str
    doc: str
    run: ExtractorFn
    provides: tuple[SignalSpec, ...]
    requires: tuple[str, ...]

    @cached_property
    def provided(self) -> frozenset[str]:
        return frozenset(s.name for s in self.provides)

    @cached_property
    def readable(self) -> frozenset[str]:
        return self.provided | frozenset(self.requires)


_EXTRACTORS: dict[str, Extractor] = {}
_PROVIDER: dict[str, str] = {}  # signal -> extractor name
_SEALED: list[Extractor] = []  # the plan, once every area module is registered (service/signals/__init__.py)


def _check_spec(owner: str, spec: SignalSpec) -> None:
    if not _NAME.match(spec.name):
        raise SignalRegistryError(f"{owner}: malformed signal name {spec.name!r}")
    if spec.type not in SIGNAL_TYPES:
        raise SignalRegistryError(f"{owner}: signal {spec.name!r} has type {spec.type!r}, not one of {SIGNAL_TYPES}")
    if not spec.doc.strip():
        raise SignalRegistryError(f"{owner}: signal {spec.name!r} has no doc")


def extractor(*, provides: Iterable[SignalSpec], requires: Iterable[str] = ()) -> Callable[[ExtractorFn], ExtractorFn]:
    """Register `fn` as an extractor named after the function; its module is its area (service.signals.model ->
    model)."""
    specs = tuple(provides)
    needed = tuple(requires)

    def register(fn: ExtractorFn) -> ExtractorFn:
        name = fn.__name__
        for spec in specs:
            _check_spec(name, spec)
        if _SEALED:
            raise SignalRegistryError(f"extractor {name!r} registered after the registry was sealed")
        if name in _EXTRACTORS:
            raise SignalRegistryError(f"extractor {name!r} is registered twice")
        if not specs:
            raise SignalRegistryError(f"extractor {name!r} provides no signal")
        filled = []
        for spec in specs:
            if spec.name in _PROVIDER:
                raise SignalRegistryError(f"signal {spec.name!r} is provided by both {_PROVIDER[spec.name]!r} and "
                                          f"{name!r}")
            _PROVIDER[spec.name] = name
            filled.append(SignalSpec(spec.name, spec.type, spec.doc, spec.internal, name))
        area = fn.__module__.rsplit(".", 1)[-1]
        _EXTRACTORS[name] = Extractor(name, area, (fn.__doc__ or "").strip(), fn, tuple(filled), needed)
        return fn

    return register


def extractors() -> list[Extractor]:
    """Every registered extractor, in registration order (the order of the area modules, then of definition)."""
    return list(_EXTRACTORS.values())


def specs() -> list[SignalSpec]:
    """Every declared signal, in registration order."""
    return [spec for ex in _EXTRACTORS.values() for spec in ex.provides]


def provided_by(extractor_name: str) -> frozenset[str]:
    """The signals one extractor declares (empty for an unknown name)."""
    found = _EXTRACTORS.get(extractor_name)
    return found.provided if found else frozenset()


def area_of(extractor_name: str) -> str:
    """The area (module) of one extractor (empty for an unknown name)."""
    found = _EXTRACTORS.get(extractor_name)
    return found.area if found else ""


def seal() -> list[Extractor]:
    """Close the registry: compute the plan (raising on a broken declaration) and refuse later registrations."""
    if not _SEALED:
        _SEALED.extend(plan())
    return list(_SEALED)


def is_sealed() -> bool:
    return bool(_SEALED)


def plan(registered: Iterable[Extractor] | None = None) -> list[Extractor]:
    """The run order: each extractor after the providers of what it requires; ties by name. Raises on a requirement
    nobody provides and on a cycle (naming the extractors in it)."""
    items = {ex.name: ex for ex in (extractors() if registered is None else registered)}
    provider: dict[str, str] = {}
    for ex in items.values():
        for spec in ex.provides:
            if provider.setdefault(spec.name, ex.name) != ex.name:
                raise SignalRegistryError(f"signal {spec.name!r} is provided by both {provider[spec.name]!r} and "
                                          f"{ex.name!r}")
    after: dict[str, set[str]] = {name: set() for name in items}  # extractor -> the extractors it waits for
    for ex in items.values():
        for needed in ex.requires:
            if needed not in provider:
                raise SignalRegistryError(f"{ex.name} requires {needed!r}, which no extractor provides")
            if provider[needed] != ex.name:  # reading one's own earlier output needs no edge
                after[ex.name].add(provider[needed])
    waiting = {name: len(deps) for name, deps in after.items()}
    unblocks: dict[str, list[str]] = {name: [] for name in items}
    for name, deps in after.items():
        for dep in deps:
            unblocks[dep].append(name)
    ready = [name for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[Extractor] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(items[name])
        for later in unblocks[name]:
            waiting[later] -= 1
            if waiting[later] == 0:
                heapq.heappush(ready, later)
    if len(order) < len(items):
        stuck = sorted(name for name, count in waiting.items() if count > 0)
        raise SignalRegistryError(f"cycle in the signal requirements among {stuck}")
    return order


class Collector:
    """The signals found so far, shared by all extractors of one run; each extractor sees it through a `Scope`."""

    def __init__(self, index: TextIndex) -> None:
        self.found: dict[str, Signal] = {}
        self.index = index

    def scope(self, ex: Extractor) -> Scope:
        return Scope(self, ex.name, ex.provided, ex.readable)


class Scope:
    """What one extractor may do: set the signals it provides, read those it provides or requires."""

    __slots__ = ("_found", "_name", "_readable", "_writable", "index")

    def __init__(self, collector: Collector, name: str, writable: frozenset[str], readable: frozenset[str]) -> None:
        self._found = collector.found
        self._name = name
        self._writable = writable
        self._readable = readable
        self.index = collector.index

    def set(self, name: str, value: object, lines: Iterable[Line]) -> None:
        if name not in self._writable:
            raise UndeclaredSignalError(f"extractor {self._name} set {name!r}, which it does not declare in provides")
        if value is None:
            return
        self._found[name] = Signal(name, value, tuple(lines))

    def get(self, name: str) -> Signal | None:
        if name not in self._readable:
            raise UndeclaredSignalError(f"extractor {self._name} read {name!r}, which it does not declare in requires")
        return self._found.get(name)

    def has(self, name: str) -> bool:
        return self.get(name) is not None


def run(plan_: list[Extractor], parsed: Parsed) -> dict[str, Signal]:
    """Run the extractors in plan order over one parse; the signals sorted by name."""
    collector = Collector(TextIndex(parsed.lines))
    for ex in plan_:
        ex.run(parsed, collector.scope(ex))
    return dict(sorted(collector.found.items()))
