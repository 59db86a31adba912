"""How the rules' hard rule-outs fare on the case base.

An `exclude` (or a failing `required` condition) is final: the cause it rules out never comes back, however strongly
retrieval and the case base point at it. That is only right where the evidence disproves the cause. This measures,
for every exclude and required condition, how often it rules its article out on a case-base report, and how often
that report's cause is the article's own with no sibling article of that cause left with evidence (a rule-out the labels
say is wrong). `tunedoc check --rule-outs` prints it; docs/kb-format.md asks for it before an exclude is made final.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from service.cases import Case
from service.parse import parse
from service.pipeline import as_parts
from service.rules import RuleSet
from service.signals import extract_signals


@dataclass
class RuleOutTally:
    article: str
    matcher: str
    kind: str  # "exclude" or "required"
    fired: int = 0  # reports where it ruled the article out
    with_symptom: int = 0  # ... and the article had a symptom there (without it, nothing was lost)
    # reports labelled with the article's own cause, which no other article of that cause kept alive (a lost cause)
    own_cause: list[str] = field(default_factory=list)

    @property
    def wrong(self) -> int:
        return len(self.own_cause)


def tally_rule_outs(rules: RuleSet, cases: Iterable[Case]) -> list[RuleOutTally]:
    """Every exclude and required condition that ruled an article out on some case, most often wrong first."""
    tallies: dict[tuple[str, str], RuleOutTally] = {}
    for case in cases:
        parsed = parse(as_parts(case.render()))
        outcome = rules.evaluate(parsed.lines, extract_signals(parsed))
        # A sibling article of the same cause with evidence of its own keeps the cause alive; one without any does
        # not (fusion drops a cause whose articles are ruled out or inactive, service/fusion.py).
        alive = {r.article.category for r in outcome.articles.values() if r.status in ("diagnosed", "candidate")}
        for result in outcome.articles.values():
            if result.status != "ruled_out":
                continue
            culprits = [(r, "exclude") for r in result.excluded_by if r.matcher.final]
            culprits += [(r, "required") for r in result.failed_required]
            for matched, kind in culprits:
                key = (result.article.id, matched.matcher.id)
                tally = tallies.setdefault(key, RuleOutTally(result.article.id, matched.matcher.id, kind))
                tally.fired += 1
                tally.with_symptom += result.has_symptom
                if result.article.category == case.cause and case.cause not in alive:
                    tally.own_cause.append(case.id)
    return sorted(tallies.values(), key=lambda t: (-t.wrong, -t.fired, t.article, t.matcher))


def describe(tallies: list[RuleOutTally], limit: int = 3) -> str:
    lines = ["article / matcher (kind): ruled out on N reports (M with a symptom of it), K of its own cause"]
    for t in tallies:
        line = f"{t.article} / {t.matcher} ({t.kind}): {t.fired} ({t.with_symptom}), {t.wrong} own"
        if t.own_cause:
            line += ": " + ", ".join(t.own_cause[:limit]) + (" ..." if t.wrong > limit else "")
        lines.append(line)
    return "\n".join(lines)
