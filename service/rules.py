"""Evaluate the knowledge base's rules against the lines and signals of one input.

All regexes of all articles and groups are compiled once, into RE2 sets for long inputs and a literal index
(service/prefilter.py) for short ones, so a short paste's line costs the same whatever the size of the KB, in linear
time (no catastrophic backtracking on hostile input). A matcher evaluates to holds, fails or unknown;
docs/kb-format.md states how those become a score and a status. Pure and deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Literal

import re2
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from service.kb import Article, Catalogue, Group, Matcher
from service.models import Line, Signal
from service.negation import mask_negated_symptoms
from service.prefilter import LiteralIndex

Status = Literal["holds", "fails", "unknown"]
MAX_EVIDENCE_LINES = 5
SET_SIZE = 1000
# A paste of a few dozen lines explores few states of a big set's DFA but pays to build each new one, which grows
# with the set. For those, a literal prefilter (service/prefilter.py): the literals a line holds pick the few
# patterns worth running, at a cost that does not grow with the KB. A long log repeats its states, where the big
# set wins. Both give the same matches (tests/unit/test_rules_shards.py).
SMALL_INPUT_LINES = 200
DIAGNOSIS_THRESHOLD = 1.0


@dataclass(frozen=True)
class MatcherResult:
    matcher: Matcher
    status: Status
    lines: tuple[Line, ...] = ()


Status4 = Literal["diagnosed", "candidate", "ruled_out", "inactive"]


@dataclass
class ArticleResult:
    article: Article
    status: Literal["diagnosed", "candidate", "ruled_out", "inactive"]
    score: float
    symptoms: list[MatcherResult]
    conditions: list[MatcherResult]
    excluded_by: list[MatcherResult]
    failed_required: list[MatcherResult]
    unknown_required: list[MatcherResult]
    defaulted: bool = False  # diagnosed as its group's default cause, not on deciding evidence

    @property
    def symptom_score(self) -> float:
        return sum(r.matcher.weight for r in self.symptoms if r.status == "holds")

    @property
    def has_symptom(self) -> bool:
        return any(r.status == "holds" for r in self.symptoms)


@dataclass
class RuleOutcome:
    articles: dict[str, ArticleResult]
    active_groups: list[Group]
    group_hits: dict[str, list[MatcherResult]] = field(default_factory=dict)


def _version(raw: object) -> Version | None:
    try:
        return Version(str(raw).split("+", 1)[0])
    except InvalidVersion:
        return None


def _norm(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


@lru_cache(maxsize=1024)
def _specifier(spec: str) -> SpecifierSet:
    return SpecifierSet(spec)  # parsing one costs more than testing a version against it


def evaluate_signal(matcher: Matcher, signals: dict[str, Signal]) -> MatcherResult:
    signal = signals.get(matcher.signal or "")
    if matcher.present is not None:
        found = signal is not None
        status: Status = "holds" if found == matcher.present else "fails"
        return MatcherResult(matcher, status, signal.lines if signal else ())
    if signal is None:
        return MatcherResult(matcher, "unknown")
    value = signal.value
    holds: bool | None
    if matcher.equals is not None:
        holds = _norm(value) == _norm(matcher.equals)
    elif matcher.in_ is not None:
        holds = _norm(value) in {_norm(v) for v in matcher.in_}
    elif matcher.version is not None:
        parsed = _version(value)
        holds = None if parsed is None else _specifier(matcher.version).contains(parsed, prereleases=True)
    elif matcher.matches is not None:
        holds = re2.search(matcher.matches, str(value)) is not None
    elif any(getattr(matcher, op) is not None for op in ("gte", "gt", "lte", "lt")):
        try:
            number = float(value)
        except (TypeError, ValueError):
            holds = None
        else:
            holds = (
                (matcher.gte is None or number >= matcher.gte)
                and (matcher.gt is None or number > matcher.gt)
                and (matcher.lte is None or number <= matcher.lte)
                and (matcher.lt is None or number < matcher.lt)
            )
    else:
        holds = bool(value)
    if holds is None:
        return MatcherResult(matcher, "unknown")
    return MatcherResult(matcher, "holds" if holds else "fails", signal.lines)


def _inactive(article: Article) -> ArticleResult:
    """An article no symptom points at: nothing to evaluate."""
    return ArticleResult(article, "inactive", 0.0, [], [], [], [], [])


class RuleSet:
    """The compiled rules of one catalogue."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        patterns: list[str] = []
        for matcher in self._all_matchers():
            if matcher.regex is not None and matcher.regex not in patterns:
                patterns.append(matcher.regex)
        self.patterns = patterns
        self.index = {p: i for i, p in enumerate(patterns)}
        # Which articles a symptom hit can wake up: only those are evaluated for an input (plus the members of an
        # active group), so the cost follows the evidence, not the size of the KB.
        self.by_pattern: dict[int, list[Article]] = {}
        self.by_signal: dict[str, list[Article]] = {}
        for article in catalogue.articles:
            for matcher in article.symptoms:
                if matcher.regex is not None:
                    self.by_pattern.setdefault(self.index[matcher.regex], []).append(article)
                else:
                    self.by_signal.setdefault(matcher.signal or "", []).append(article)

    @cached_property
    def _unknown(self) -> dict[int, MatcherResult]:
        """One shared (frozen) `unknown` result per matcher: most matchers of an evaluated article find nothing."""
        return {id(m): MatcherResult(m, "unknown") for m in self._all_matchers()}

    @cached_property
    def _inactive_results(self) -> dict[str, ArticleResult]:
        return {a.id: _inactive(a) for a in self.catalogue.articles}

    def _all_matchers(self) -> list[Matcher]:
        matchers: list[Matcher] = []
        for group in self.catalogue.groups.values():
            matchers += group.symptoms
        for article in self.catalogue.articles:
            matchers += article.matchers
        return matchers

    @cached_property
    def _sets(self) -> list[tuple[int, re2.Set]]:
        """The patterns as RE2 sets of at most SET_SIZE each: one set for today's KB; a 100x KB needs shards (one
        set of 28k patterns exceeds RE2's memory budget). Each entry: (index of its first pattern, set)."""
        shards = []
        for offset in range(0, len(self.patterns), SET_SIZE):
            options = re2.Options()
            options.max_mem = 256 << 20
            pattern_set = re2.Set.SearchSet(options)
            for pattern in self.patterns[offset:offset + SET_SIZE]:
                pattern_set.Add(pattern)
            pattern_set.Compile()
            shards.append((offset, pattern_set))
        return shards

    @cached_property
    def _fixture_lines(self) -> list[Line]:
        """The KB's fixture lines: realistic input, to warm the scans on and to measure literals' rarity on."""
        return [Line("warm", i, text) for fixtures in self.catalogue.fixtures.values() for f in fixtures
                for i, text in enumerate(f.text.splitlines(), start=1)]

    @cached_property
    def _literals(self) -> LiteralIndex:
        """The patterns indexed by the literals each needs (service/prefilter.py), rarity taken from the fixtures."""
        return LiteralIndex(self.patterns, (line.text for line in self._fixture_lines))

    @cached_property
    def compiled(self) -> list[re2._Regexp]:
        return [re2.compile(p) for p in self.patterns]

    def scan(self, lines: list[Line]) -> dict[int, list[Line]]:
        """Pattern index -> the lines it matches (at most MAX_EVIDENCE_LINES kept each)."""
        hits: dict[int, list[Line]] = {}
        literals = self._literals if len(lines) <= SMALL_INPUT_LINES else None
        shards = self._sets
        memo: dict[str, list[int]] = {}  # repeated lines (warnings, progress bars) are matched once
        for line in lines:
            if not line.text:
                continue
            found = memo.get(line.text)
            if found is None:
                text = mask_negated_symptoms(line.text)  # "没有 nan" is no NaN symptom
                found = literals.match(text) if literals is not None else None
                if found is None:
                    found = [offset + i for offset, shard in shards for i in (shard.Match(text) or ())]
                memo[line.text] = found
            for index in found:
                kept = hits.setdefault(index, [])
                if len(kept) < MAX_EVIDENCE_LINES:
                    kept.append(line)
        return hits

    def warm(self, long_inputs: bool = True) -> None:
        """Build the RE2 DFA states on realistic lines (the KB's fixtures) before the first request: cold, the big
        set costs ~140 us per new line; warm, 3-13 us. `long_inputs=False` warms only the literal index short pastes
        use (a batch of short reports need not pay for the long-log path up front)."""
        lines = self._fixture_lines
        if long_inputs:
            self.scan(lines)  # the big sets
        for start in range(0, len(lines), SMALL_INPUT_LINES):  # the literal index, as a short paste uses it
            self.scan(lines[start:start + SMALL_INPUT_LINES])

    def span(self, pattern: str, text: str) -> tuple[int, int] | None:
        text = mask_negated_symptoms(text)  # as scan() saw it (same length: the offsets hold for the original)
        # An ASCII line searched as bytes: the same offsets, without the wrapper's byte-to-character mapping.
        match = self.compiled[self.index[pattern]].search(text.encode("ascii") if text.isascii() else text)
        return (match.start(), match.end()) if match else None

    def evaluate(self, lines: list[Line], signals: dict[str, Signal]) -> RuleOutcome:
        hits = self.scan(lines)
        pattern_index, unknown = self.index, self._unknown

        def run(matcher: Matcher) -> MatcherResult:
            if matcher.regex is not None:
                found = hits.get(pattern_index[matcher.regex])
                return MatcherResult(matcher, "holds", tuple(found)) if found else _unknown(matcher)
            if matcher.present is None and (matcher.signal or "") not in signals:
                return _unknown(matcher)  # what evaluate_signal() says of an absent signal
            return evaluate_signal(matcher, signals)

        def _unknown(matcher: Matcher) -> MatcherResult:
            return unknown.get(id(matcher)) or MatcherResult(matcher, "unknown")

        group_held = {g.id: [r for r in map(run, g.symptoms) if r.status == "holds"]
                      for g in self.catalogue.groups.values()}
        woken: dict[str, Article] = {}
        for index in hits:
            woken.update((a.id, a) for a in self.by_pattern.get(index, []))
        for name in signals:
            woken.update((a.id, a) for a in self.by_signal.get(name, []))
        for group_id, held in group_held.items():
            if held:
                woken.update((a.id, a) for a in self.catalogue.members(group_id))
        results = dict(self._inactive_results)  # shared and never changed: only woken results are (defaults)
        results.update((article_id, self._evaluate_article(a, run)) for article_id, a in woken.items())
        active: list[Group] = []
        group_hits: dict[str, list[MatcherResult]] = {}
        for group in self.catalogue.groups.values():
            members = [results[a.id] for a in self.catalogue.members(group.id)]
            if group_held[group.id] or any(m.status == "diagnosed" for m in members):
                for article in self.catalogue.members(group.id):  # a diagnosed member woke the group: its
                    if article.id not in woken:                    # siblings need a full evaluation too
                        results[article.id] = self._evaluate_article(article, run)
                members = [results[a.id] for a in self.catalogue.members(group.id)]
                active.append(group)
                group_hits[group.id] = group_held[group.id]
            self._apply_default(group, members)
        return RuleOutcome(results, active, group_hits)

    @staticmethod
    def _apply_default(group: Group, members: list[ArticleResult]) -> None:
        """When the evidence does not decide between the members of a group, name its most common cause.

        Only when the default member has a symptom of its own, nothing rules it out, and no member of the group
        is diagnosed; its score stays what the evidence gave, so its confidence stays low.
        """
        if group.default is None or any(m.status == "diagnosed" for m in members):
            return
        default = next((m for m in members if m.article.id == group.default), None)
        if default is not None and default.status == "candidate" and not default.failed_required \
                and not default.excluded_by:
            default.status = "diagnosed"
            default.defaulted = True

    @staticmethod
    def _evaluate_article(article: Article, run) -> ArticleResult:  # noqa: ANN001 - local callable
        symptoms = [run(m) for m in article.symptoms]
        conditions = [run(m) for m in article.conditions]
        excluded = [r for r in map(run, article.excludes) if r.status == "holds"]
        failed = [r for r in conditions if r.matcher.required and r.status == "fails"]
        unknown = [r for r in conditions if r.matcher.required and r.status == "unknown"]
        # Rounded before comparing, so 0.4 + 0.4 + 0.2 is 1.0 whatever the float order.
        score = round(sum(r.matcher.weight for r in symptoms + conditions if r.status == "holds"), 4)
        has_symptom = any(r.status == "holds" for r in symptoms)
        if failed or any(r.matcher.final for r in excluded):
            status: Status4
            status = "ruled_out"
        elif not has_symptom:
            status = "inactive"
        elif unknown or excluded:  # an exclude that is not final: never confirmed by rules, still a candidate
            status = "candidate"
        elif score >= DIAGNOSIS_THRESHOLD:
            status = "diagnosed"
        else:
            status = "candidate"
        return ArticleResult(article, status, score, symptoms, conditions, excluded, failed, unknown)
