"""Search a whole paste at once and map matches back to their lines.

Running a regex over the joined text is one pass in C; looping over 100k lines in Python and searching each is not.
Patterns that anchor with ^/$ must be compiled with re.MULTILINE to keep their per-line meaning.

A Python regex that fails deep into a 600 KB text still costs a full backtracking scan. So each Python pattern gets
an RE2 *prefilter* (`prefilter()`), derived from its parse tree: the same regex with every assertion (lookarounds,
`\\b`, anchors) dropped and every character test widened (`\\d` -> ASCII digits or any non-ASCII character, a
negated class -> any character, ...), so it matches wherever the Python regex does. RE2 scans the UTF-8 text in
linear time; the Python regex then only runs from the first place the prefilter matches, and, when it cannot match
a newline (`line_local`), only on the lines the prefilter matches. Python semantics decide every match: the results
are those of the plain Python search, only cheaper.
"""

from __future__ import annotations

import re
import re._constants as sre  # the parse tree of Python's regex engine
import re._parser as sre_parse
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import re2

from service.models import Line


class _Unsupported(Exception):
    """A construct the prefilter translation does not handle: the pattern is searched without a prefilter."""


# The characters Python's IGNORECASE matches for an ASCII letter besides its two cases (tests/unit/test_textindex.py
# checks every ASCII letter against all of Unicode).
_PY_EXTRA_FOLDS = {"i": "ıİ", "I": "ıİ", "k": "\u212a", "K": "\u212a", "s": "ſ", "S": "ſ"}
_ANY = r"(?s:.)"
_NON_ASCII = r"\x{80}-\x{10FFFF}"
# Supersets of Python's Unicode categories (RE2's \d \w \s are ASCII-only): the ASCII members plus any non-ASCII.
_CATEGORY = {
    sre.CATEGORY_DIGIT: ("0-9" + _NON_ASCII, False),
    sre.CATEGORY_WORD: ("0-9A-Za-z_" + _NON_ASCII, False),
    sre.CATEGORY_SPACE: (r"\t\n\x0b\x0c\r\x1c-\x1f " + _NON_ASCII, True),
    sre.CATEGORY_NOT_DIGIT: (r"\x00-/:-\x{10FFFF}", True),
    sre.CATEGORY_NOT_WORD: (r"\x00-/:-@\[-\^`\{-\x{10FFFF}", True),
    sre.CATEGORY_NOT_SPACE: (r"\x00-\x08\x0e-\x1b!-\x{10FFFF}", False),
}
_MAX_RE2_REPEAT = 1000


def _char(code: int) -> str:
    return rf"\x{{{code:x}}}"


def _cased(code: int) -> bool:
    c = chr(code)
    return c.lower() != c or c.upper() != c or c.casefold() != c


@dataclass(frozen=True)
class Prefilter:
    """`regex` (RE2) matches wherever the Python pattern does; `line_local`: no Python match can span a newline and
    searching one line (pos/endpos at its bounds) finds what searching the whole text finds there."""

    regex: Any  # re2._Regexp
    line_local: bool


class _Translator:
    def __init__(self) -> None:
        self.newline = False  # some element (lookarounds included) can match "\n"
        self.boundary_sensitive = False  # an anchor whose meaning differs at a line end cut by endpos

    def seq(self, items: Any, flags: int) -> str:
        return "".join(self.item(op, av, flags) for op, av in items)

    def literal(self, code: int, flags: int, in_class: bool) -> str:
        if code == 10:
            self.newline = True
        if flags & re.IGNORECASE and _cased(code):
            c = chr(code)
            if not c.isascii():
                self.newline = True
                return _CATEGORY_ANY_CLASS if in_class else _ANY
            extra = "".join(_char(ord(x)) for x in _PY_EXTRA_FOLDS.get(c, ""))
            both = _char(ord(c.lower())) + _char(ord(c.upper())) + extra
            return both if in_class else f"[{both}]"
        return _char(code)

    def klass(self, items: list[tuple[Any, Any]], flags: int) -> str:
        if items and items[0][0] is sre.NEGATE:
            excludes_newline = any(
                (op is sre.LITERAL and av == 10) or (op is sre.RANGE and av[0] <= 10 <= av[1])
                or (op is sre.CATEGORY and av in (sre.CATEGORY_SPACE, sre.CATEGORY_LINEBREAK))
                for op, av in items[1:]
            )
            if excludes_newline:
                return r"[^\n]"
            self.newline = True
            return _ANY
        parts = []
        for op, av in items:
            if op is sre.LITERAL:
                parts.append(self.literal(av, flags, in_class=True))
            elif op is sre.RANGE:
                lo, hi = av
                if lo <= 10 <= hi:
                    self.newline = True
                if flags & re.IGNORECASE and hi > 0x7F:
                    self.newline = True
                    return _ANY
                if flags & re.IGNORECASE and any(_cased(c) for c in range(lo, hi + 1)):
                    letters = [chr(c) for c in range(lo, hi + 1) if chr(c).isalpha()]
                    folds = {ord(x) for c in letters for x in (c.lower(), c.upper(), *_PY_EXTRA_FOLDS.get(c, ""))}
                    parts.append(_char(lo) + "-" + _char(hi) + "".join(_char(x) for x in sorted(folds)))
                else:
                    parts.append(_char(lo) + "-" + _char(hi))
            elif op is sre.CATEGORY and av in _CATEGORY:
                text, newline = _CATEGORY[av]
                self.newline |= newline
                parts.append(text)
            else:
                raise _Unsupported(f"class item {op}")
        return "[" + "".join(parts) + "]"

    def item(self, op: Any, av: Any, flags: int) -> str:  # noqa: C901, PLR0911, PLR0912 - one branch per opcode
        if op is sre.LITERAL:
            return self.literal(av, flags, in_class=False)
        if op is sre.NOT_LITERAL:
            if av == 10:  # "\n" has no other case
                return r"[^\n]"
            self.newline = True
            return _ANY
        if op is sre.ANY:
            if flags & re.DOTALL:
                self.newline = True
                return _ANY
            return r"[^\n]"
        if op is sre.IN:
            return self.klass(av, flags)
        if op is sre.BRANCH:
            return "(?:" + "|".join(self.seq(alt, flags) for alt in av[1]) + ")"
        if op is sre.SUBPATTERN:
            _, add, remove, body = av
            return "(?:" + self.seq(body, (flags | add) & ~remove) + ")"
        if op is sre.ATOMIC_GROUP:
            return "(?:" + self.seq(av, flags) + ")"
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            lo, hi, body = av
            if lo > _MAX_RE2_REPEAT:
                raise _Unsupported("repeat count")
            inner = "(?:" + self.seq(body, flags) + ")"
            if hi is sre.MAXREPEAT or hi > _MAX_RE2_REPEAT:
                return f"{inner}{{{lo},}}"
            return f"{inner}{{{lo},{hi}}}"
        if op is sre.AT:
            if av in (sre.AT_BEGINNING, sre.AT_END):
                if not flags & re.MULTILINE:
                    self.boundary_sensitive = True
            elif av not in (sre.AT_BOUNDARY,):
                self.boundary_sensitive = True  # \A, \Z, \B
            return ""
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            self.seq(av[1], flags)  # only for what it can match (a newline?); the assertion itself is dropped
            return ""
        if op is sre.GROUPREF:
            self.newline = True
            return _ANY + "*"
        if op is sre.GROUPREF_EXISTS:
            _, yes, no = av
            return "(?:" + self.seq(yes, flags) + "|" + (self.seq(no, flags) if no else "") + ")"
        raise _Unsupported(f"opcode {op}")


_CATEGORY_ANY_CLASS = r"\x00-\x{10FFFF}"
_PREFILTERS: dict[tuple[str, int], Prefilter | None] = {}


def translate(pattern: re.Pattern[str]) -> tuple[str, bool] | None:
    """The RE2 superset of `pattern` and whether it is line-local; None when it cannot be derived."""
    if not isinstance(pattern.pattern, str):
        return None
    try:
        tree = sre_parse.parse(pattern.pattern, pattern.flags)
        if tree.getwidth()[0] == 0:
            return None  # can match the empty string: finditer's stepping rules would need copying
        translator = _Translator()
        regex = translator.seq(tree, tree.state.flags)
    except (_Unsupported, re.error, RecursionError):
        return None
    return regex, not translator.newline and not translator.boundary_sensitive


def prefilter(pattern: re.Pattern[str]) -> Prefilter | None:
    """The cached prefilter of a Python pattern (None: search it plainly)."""
    key = (pattern.pattern, pattern.flags)
    if key not in _PREFILTERS:
        found = translate(pattern)
        compiled = None
        if found is not None:
            options = re2.Options()
            options.max_mem = 64 << 20
            try:
                compiled = Prefilter(re2.compile(found[0], options), found[1])
            except re2.error:
                compiled = None
        _PREFILTERS[key] = compiled
    return _PREFILTERS[key]


class TextIndex:
    """Indexes each distinct line text once (its first occurrence): a warning repeated 200k times is one line."""

    def __init__(self, lines: list[Line]) -> None:
        seen: set[str] = set()
        self.lines = []
        for line in lines:
            if line.text not in seen:
                seen.add(line.text)
                self.lines.append(line)
        self.starts: list[int] = []
        position = 0
        for line in self.lines:
            self.starts.append(position)
            position += len(line.text) + 1
        self.text = "\n".join(line.text for line in self.lines)
        self._encoded: bytes | None = None
        self._byte_starts: list[int] | None = None

    def line_at(self, position: int) -> Line:
        return self.lines[bisect_right(self.starts, position) - 1]

    def _utf8(self) -> tuple[bytes, list[int]] | None:
        """The text in UTF-8 and each line's byte offset (None when it does not encode: lone surrogates)."""
        if self._byte_starts is None:
            try:
                self._encoded = self.text.encode("utf-8")
            except UnicodeEncodeError:
                self._byte_starts = []
                return None
            if len(self._encoded) == len(self.text):
                self._byte_starts = self.starts
            else:
                starts, position = [], 0
                for line in self.lines:
                    starts.append(position)
                    position += len(line.text.encode("utf-8")) + 1
                self._byte_starts = starts
        if self._encoded is None:
            return None
        return self._encoded, self._byte_starts

    def _matches(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        """Exactly `pattern.finditer(self.text)`, with the Python regex run only where the prefilter matches."""
        plan = prefilter(pattern) if isinstance(pattern, re.Pattern) else None
        utf8 = self._utf8() if plan is not None else None
        if plan is None or utf8 is None:
            yield from pattern.finditer(self.text)
            return
        encoded, byte_starts = utf8
        regex, text, starts, count = plan.regex, self.text, self.starts, len(self.lines)
        if plan.line_local:
            row = 0  # no match starts before this line
            while row < count:
                candidate = regex.search(encoded, byte_starts[row])
                if candidate is None:
                    return
                row = bisect_right(byte_starts, candidate.start()) - 1
                begin, end = starts[row], starts[row] + len(self.lines[row].text)
                while (match := pattern.search(text, begin, end)) is not None:
                    yield match
                    begin = match.end()
                row += 1
            return
        # A match may span lines: try the Python regex at each place the prefilter can start a match, in order (the
        # prefilter matches at every such place, and RE2 finds the leftmost one from a given offset).
        offset = 0  # in bytes; no match starts before it
        while (candidate := regex.search(encoded, offset)) is not None:
            found = candidate.start()
            row = bisect_right(byte_starts, found) - 1
            position = starts[row] + (found - byte_starts[row] if byte_starts is starts else
                                      len(encoded[byte_starts[row]:found].decode("utf-8")))
            match = pattern.match(text, position)
            if match is None:
                offset = found + (1 if byte_starts is starts else len(text[position].encode("utf-8")))
                continue
            yield match
            end = match.end()
            row = bisect_right(starts, end) - 1
            offset = byte_starts[row] + (end - starts[row] if byte_starts is starts else
                                         len(text[starts[row]:end].encode("utf-8")))

    def first(self, pattern: re.Pattern[str]) -> tuple[re.Match[str], Line] | None:  # also takes an re2 pattern
        match = next(self._matches(pattern), None) if isinstance(pattern, re.Pattern) else pattern.search(self.text)
        return (match, self.line_at(match.start())) if match else None

    def finditer(self, pattern: re.Pattern[str]) -> Iterator[tuple[re.Match[str], Line]]:
        matches = self._matches(pattern) if isinstance(pattern, re.Pattern) else pattern.finditer(self.text)
        for match in matches:
            yield match, self.line_at(match.start())

    def lines_matching(self, pattern: re.Pattern[str], limit: int) -> list[Line]:
        """The first `limit` distinct lines with a match."""
        found: list[Line] = []
        for _, line in self.finditer(pattern):
            if not found or found[-1] is not line:
                found.append(line)
                if len(found) >= limit:
                    break
        return found
