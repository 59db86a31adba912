"""Generated knowledge bases for scaling measurements: each article copied with its regexes made distinct."""

from __future__ import annotations

from service.kb import Catalogue


def scaled_catalogue(base: Catalogue, factor: int) -> Catalogue:
    if factor == 1:
        return base
    articles = list(base.articles)
    for copy in range(1, factor):
        for article in base.articles:
            symptoms = [m.model_copy(update={"regex": f"{m.regex}|zz{copy}q{article.id[:6]}"}) if m.regex else m
                        for m in article.symptoms]
            articles.append(article.model_copy(update={"id": f"{article.id}-x{copy}", "symptoms": symptoms}))
    return Catalogue(articles, list(base.groups.values()), {}, base.root)
