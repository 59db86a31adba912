"""Generated knowledge bases for scaling measurements: each article copied with its regexes made distinct.

Two kinds of copy. `distinct=False` (the worst case): a copy keeps its original's regex as an alternative, so every
copy fires on the same evidence and wakes up with it. `distinct=True` (a KB that grew by new causes): a copy's
regexes keep their whole shape but only match after a token no report contains (a signal symptom becomes that
token), so the set still carries 100x the patterns while the evidence of a report wakes up only the articles it is
about.
"""

from __future__ import annotations

import re

from service.kb import Catalogue, Matcher

_LEADING_FLAGS = re.compile(r"^\(\?[a-zA-Z]+\)")


def _require_token(regex: str, token: str) -> str:
    flags = _LEADING_FLAGS.match(regex)
    prefix = flags.group(0) if flags else ""
    return f"{prefix}{token}(?:{regex[len(prefix):]})"


def scaled_catalogue(base: Catalogue, factor: int, *, distinct: bool = False) -> Catalogue:
    if factor == 1:
        return base
    articles = list(base.articles)
    for copy in range(1, factor):
        for article in base.articles:
            token = f"zz{copy}q{article.id[:6]}"

            def remake(m: Matcher, token: str = token) -> Matcher:
                if not m.regex:
                    # a signal symptom would wake every copy at once: a new cause's copy is about other evidence
                    return m.model_copy(update={"regex": token, "signal": None}) if distinct else m
                regex = _require_token(m.regex, token) if distinct else f"{m.regex}|{token}"
                return m.model_copy(update={"regex": regex})

            update: dict[str, object] = {"id": f"{article.id}-x{copy}",
                                         "symptoms": [remake(m) for m in article.symptoms]}
            if distinct:  # a new cause: its own evidence, outside today's shared-symptom groups
                update["groups"] = []
                update["conditions"] = [remake(m) for m in article.conditions]
                update["excludes"] = [remake(m) for m in article.excludes]
            articles.append(article.model_copy(update=update))
    # the fixtures stay: the rule engine measures how rare a literal is on them (service/prefilter.py)
    return Catalogue(articles, list(base.groups.values()), dict(base.fixtures), base.root)
