"""Rules that lint the rules: schema, ids, categories, regexes, signals, headings, fixtures, coverage."""

from pathlib import Path

import pytest

from service.errors import KnowledgeBaseError
from service.kb import Article, Catalogue, lint, load_categories, load_article


def test_catalogue_lint_is_clean():
    problems = lint(Catalogue.load())
    assert problems == []


def test_every_taxonomy_category_has_an_article_with_references_and_both_fixture_kinds():
    catalogue = Catalogue.load()
    for category in load_categories():
        if category == "out-of-scope":
            continue
        articles = [a for a in catalogue.articles if a.category == category]
        assert articles, category
        for article in articles:
            kinds = {f.kind for f in catalogue.fixtures[article.id]}
            assert {"trigger", "ok"} <= kinds, article.id
            assert article.references, article.id


def _article(**changes):
    base = dict(
        id="x-y", category="fp16-overflow", title={"en": "t", "zh": "t"}, summary={"en": "s", "zh": "s"},
        symptoms=[{"id": "a", "regex": "OVERFLOW"}], confirm={"en": "c", "zh": "c"},
        fix={"steps": [{"en": "f", "zh": "f"}]}, references=["https://github.com/o/r/issues/1"],
    )
    base.update(changes)
    return Article(**base)


@pytest.mark.parametrize("bad_symptom, message", [
    ({"id": "a", "signal": "no.such.signal"}, "unknown signal"),
    ({"id": "a", "regex": "(?<=x)y"}, "RE2 cannot compile"),
    ({"id": "a", "regex": "x", "signal": "precision"}, "exactly one"),
    ({"id": "a", "signal": "precision", "equals": "bf16", "in": ["fp16"]}, "at most one comparator"),
    ({"id": "a", "signal": "version.torch", "version": "~~2"}, "bad version spec"),
])
def test_schema_rejects_broken_matchers(bad_symptom, message):
    with pytest.raises(ValueError, match=message):
        _article(symptoms=[bad_symptom])


def test_schema_rejects_unknown_keys_and_repeated_matcher_ids():
    with pytest.raises(ValueError):
        _article(severity="high")
    with pytest.raises(ValueError, match="repeat"):
        _article(symptoms=[{"id": "a", "regex": "x"}, {"id": "a", "regex": "y"}])


def test_lint_catches_catalogue_level_problems(tmp_path: Path):
    root = Path(__file__).resolve().parent.parent / "kb"
    (tmp_path / "categories.yaml").write_text((root / "categories.yaml").read_text())
    (tmp_path / "groups.yaml").write_text("[]")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "wrong-name.md").write_text(
        "---\nid: x-y\ncategory: not-a-label\ntitle: {en: t, zh: t}\nsummary: {en: s, zh: s}\n"
        "groups: [nope]\nsymptoms: [{id: a, regex: x}]\nconfirm: {en: c, zh: c}\n"
        "fix: {steps: [{en: f, zh: f}]}\nreferences: [http://example.org]\n---\n## What it means\n"
    )
    problems = "\n".join(lint(Catalogue.load(tmp_path)))
    for needle in ("file name must be", "not a taxonomy label", "unknown group", "not an https URL",
                   "body lacks headings", "no `trigger` fixture", "no `ok` fixture", "has no article",
                   "give either fix.patch"):
        assert needle in problems


def test_broken_front_matter_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "x.md"
    path.write_text("no front matter")
    with pytest.raises(KnowledgeBaseError, match="front matter"):
        load_article(path)
