"""Which of many regexes can match a line, from the literal strings each one cannot match without.

RE2's own atom prefilter (FilteredRE2) does this, but the Python binding compiles its atoms into one RE2 set with a
fixed memory budget that fails beyond about a thousand patterns, so a KB many times today's needed one call per
shard and line, and the rule cost grew with the KB. This index costs the same per line whatever the number of
patterns: a pattern is only run on a line that contains its literals.

A pattern's requirement is a tree of literals under AND and OR nodes that every match satisfies (RE2's prefilter
builds the same kind of tree), read off the parse tree by Python's `re` parser, which reads the syntax the KB uses
the way RE2 does; a pattern it cannot read has no requirement and runs on every line. From the tree, each pattern
is keyed by a few literals one of which every match contains, chosen to be rare on the KB's fixtures; a line wakes
the patterns whose keys it holds, and RE2 decides. Literals and lines are compared case-folded, so a key can only
wake too many patterns, never too few. Case folding covers RE2's `(?i)`: the only non-ASCII characters an ASCII
letter matches case-insensitively in RE2 are U+017F and U+212A, which `casefold` maps to `s` and `k`; a character
with case outside ASCII (é, Σ) is never part of a literal. tests/unit/test_prefilter.py holds that the index finds
exactly what an RE2 set finds.
"""

from __future__ import annotations

import re
import re._constants as sre  # Python 3.11's regex parser: private, pinned by the project's Python
import re._parser as sre_parse
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TypeAlias

import re2

Node: TypeAlias = "str | tuple[str, tuple[Node, ...]]"  # a literal (case-folded), or ("and" | "or", children)
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
GRAM = 3  # literals of at least this length are found through one of their trigrams, shorter ones by first character
MAX_RUN = 64  # patterns worth running one by one on a line; beyond that the caller's RE2 set scan is cheaper
MAX_EXACT = 16  # the most strings a run of elements is expanded into
SHORT_RARITY = 1_000  # how often a one- or two-character literal is taken to occur in the sample


def _plain(char: str) -> bool:
    """A character that case folding cannot confuse with another: ASCII, or uncased (CJK, punctuation)."""
    return char.isascii() or unicodedata.category(char) == "Lo" or unicodedata.category(char).startswith("P")


def _node(kind: str, children: list[Node]) -> Node | None:
    if not children:
        return None
    return children[0] if len(children) == 1 else (kind, tuple(children))


def _exact(op: object, value: object) -> set[str] | None:
    """The strings one element can match, when they are few and known (a literal, a small class, a group or
    alternation of such, an optional one); None otherwise."""
    if op is sre.LITERAL:
        return {chr(value)} if _plain(chr(value)) else None  # type: ignore[arg-type]
    if op is sre.IN:
        chars = [chr(v) for o, v in value if o is sre.LITERAL]  # type: ignore[attr-defined]
        if len(chars) == len(value) and len(chars) <= MAX_EXACT and all(map(_plain, chars)):  # type: ignore[arg-type]
            return set(chars)
        return None
    if op is sre.SUBPATTERN:
        return _exact_sequence(value[3])  # type: ignore[index]
    if op is sre.BRANCH:
        alternatives = [_exact_sequence(branch) for branch in value[1]]  # type: ignore[index]
        if any(a is None for a in alternatives):
            return None
        union = set().union(*alternatives)  # type: ignore[arg-type]
        return union if len(union) <= MAX_EXACT else None
    if op in _REPEATS and value[0] == 0 and value[1] == 1:  # type: ignore[index]
        inner = _exact_sequence(value[2])  # type: ignore[index]
        return None if inner is None else inner | {""}
    return None


def _exact_sequence(items: Iterable[tuple[object, object]]) -> set[str] | None:
    strings = {""}
    for op, value in items:
        part = _exact(op, value)
        if part is None or len(strings) * len(part) > MAX_EXACT:
            return None
        strings = {a + b for a in strings for b in part}
    return strings


def _tree(items: Iterable[tuple[object, object]]) -> Node | None:
    """What a match of this sequence must contain; None when nothing is known. Runs of elements whose strings are
    few and known (literals, small classes and alternations, optional parts) become one OR of their concatenations,
    so `(deepspeed|ds)[ _-]?config` requires one of a few whole words, not a `d`."""
    children: list[Node] = []
    strings = {""}

    def flush() -> None:
        nonlocal strings
        folded = {s.casefold() for s in strings}
        if "" not in folded:
            children.append(_node("or", sorted(folded)))  # type: ignore[arg-type]
        strings = {""}

    for op, value in items:
        part = _exact(op, value)
        if part is not None and len(strings) * len(part) <= MAX_EXACT:
            strings = {a + b for a in strings for b in part}
            continue
        flush()
        if part is not None:
            strings = part
            continue
        child: Node | None = None
        if op is sre.SUBPATTERN:
            child = _tree(value[3])  # type: ignore[index]
        elif op is sre.ATOMIC_GROUP:
            child = _tree(value)  # type: ignore[arg-type]
        elif op in _REPEATS and value[0] >= 1:  # type: ignore[index]
            child = _tree(value[2])  # type: ignore[index]
        elif op is sre.BRANCH:
            alternatives = [_tree(branch) for branch in value[1]]  # type: ignore[index]
            if all(a is not None for a in alternatives):
                child = _node("or", alternatives)  # type: ignore[arg-type]
        # anything else (large classes, anchors, any-character, optional parts) requires no literal
        if child is not None:
            children.append(child)
    flush()
    return _node("and", children)


def requirement(pattern: str) -> Node | None:
    """The literals a match of `pattern` must contain, as an AND/OR tree; None when nothing is known."""
    try:
        return _tree(list(sre_parse.parse(pattern)))
    except (re.error, OverflowError, RecursionError):
        return None


def _grams(text: str) -> set[str]:
    return {text[i:i + GRAM] for i in range(len(text) - GRAM + 1)}


class LiteralIndex:
    """Pattern index -> whether it matches, for a line, running only the patterns whose literals the line holds."""

    def __init__(self, patterns: Sequence[str], sample: Iterable[str] = ()) -> None:
        """`sample`: lines like the ones to come (the KB's fixtures), to index each pattern by its rarest literals."""
        self.patterns = patterns
        # One single-pattern RE2 set per pattern, compiled when first needed: a set answers only whether it matches
        # (no submatch bookkeeping), which is all a scan needs, in about half the time of a regex search call.
        self._sets: list[re2.Set | None] = [None] * len(patterns)
        self._seen = Counter(g for line in sample for g in _grams(line.casefold()))
        self.always: list[int] = []
        self.by_gram: dict[str, list[tuple[str, int]]] = {}
        self.by_char: dict[str, list[tuple[str, int]]] = {}
        for index, pattern in enumerate(patterns):
            tree = requirement(pattern)
            if tree is None:
                self.always.append(index)
                continue
            for literal in sorted(self._keys(tree)[0]):
                if len(literal) < GRAM:
                    self.by_char.setdefault(literal[0], []).append((literal, index))
                else:
                    self.by_gram.setdefault(self._rarest_gram(literal), []).append((literal, index))

    def _rarest_gram(self, literal: str) -> str:
        return min(_grams(literal), key=lambda g: (self._seen[g], g))

    def _cost(self, literal: str) -> int:
        """How often the literal's key is expected on a line (sample counts); the longer literal breaks ties."""
        rarity = SHORT_RARITY if len(literal) < GRAM else self._seen[self._rarest_gram(literal)]
        return 100 * rarity + max(0, 50 - len(literal))

    def _keys(self, node: Node) -> tuple[frozenset[str], int]:
        """Literals one of which every match contains, chosen to be rare: an AND needs only one child's."""
        if isinstance(node, str):
            return frozenset([node]), self._cost(node)
        kind, children = node
        keys = [self._keys(c) for c in children]
        if kind == "and":
            return min(keys, key=lambda k: (k[1], sorted(k[0])))
        return frozenset().union(*(k[0] for k in keys)), sum(k[1] for k in keys)

    def _matches(self, index: int, encoded: bytes) -> bool:
        pattern_set = self._sets[index]
        if pattern_set is None:
            pattern_set = re2.Set.SearchSet()
            pattern_set.Add(self.patterns[index])
            pattern_set.Compile()
            self._sets[index] = pattern_set
        return bool(pattern_set.Match(encoded))

    def candidates(self, text: str) -> set[int]:
        """The patterns keyed by literals `text` holds, and those without a requirement: the ones worth running."""
        folded = text.casefold()
        found = set(self.always)
        for gram in _grams(folded) & self.by_gram.keys():
            found.update(i for literal, i in self.by_gram[gram] if literal in folded)
        for char in set(folded) & self.by_char.keys():
            found.update(i for literal, i in self.by_char[char] if literal in folded)
        return found

    def match(self, text: str) -> list[int] | None:
        """The sorted indices of the patterns that match `text`, the same as an RE2 set of them finds; None when
        more than MAX_RUN patterns are candidates (one set scan is then cheaper)."""
        found = self.candidates(text)
        # RE2 checks the candidates faster than Python could check the rest of their literal trees
        if len(found) > MAX_RUN:
            return None
        encoded = text.encode("utf-8")
        return sorted(i for i in found if self._matches(i, encoded))
