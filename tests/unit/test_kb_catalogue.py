"""Rules that lint the rules: schema, ids, categories, regexes, signals, headings, fixtures, coverage."""

from pathlib import Path

import pytest

from service.errors import KnowledgeBaseError
from service.kb import (
    Article,
    Catalogue,
    NamedPattern,
    lint,
    lint_patterns,
    load_article,
    load_categories,
    reference_label,
    scaffold_article,
)


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
    ({"id": "a", "regex": "x", "final": False}, "`final` is for excludes"),
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
    root = Path(__file__).resolve().parents[2] / "kb"
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


def test_named_patterns_pass_their_examples_and_no_regex_is_written_twice():
    catalogue = Catalogue.load()
    assert catalogue.patterns, "kb/patterns.yaml is loaded"
    for pattern in catalogue.patterns.values():
        assert pattern.problems() == [], pattern.name
    assert lint_patterns(catalogue) == []


def test_pattern_matchers_resolve_to_the_named_regex():
    catalogue = Catalogue.load()
    matcher = next(m for m in catalogue.by_id["bf16-numerical-instability"].symptoms if m.pattern)
    assert matcher.regex == catalogue.patterns[matcher.pattern].regex
    assert "pattern `" in matcher.describe()


def test_named_pattern_examples_are_checked():
    bad = NamedPattern(name="p", doc="d", regex="OVERFLOW", match=["overflow"], no_match=["OVERFLOW!"])
    assert len(bad.problems()) == 2
    assert "RE2 cannot compile" in NamedPattern(name="p", doc="d", regex="(?<=x)", match=["x"],
                                                no_match=["y"]).problems()[0]


def _mini_kb(tmp_path: Path, patterns: str, article_symptoms: str, group_symptoms: str = "[]") -> Path:
    root = Path(__file__).resolve().parents[2] / "kb"
    (tmp_path / "categories.yaml").write_text((root / "categories.yaml").read_text())
    (tmp_path / "areas.yaml").write_text("numerics: x\n")
    (tmp_path / "patterns.yaml").write_text(patterns)
    (tmp_path / "groups.yaml").write_text(
        f"- {{id: g, title: {{en: t, zh: t}}, symptoms: {group_symptoms}}}\n" if group_symptoms != "[]" else "[]")
    (tmp_path / "numerics").mkdir()
    (tmp_path / "numerics" / "fp16-overflow.md").write_text(
        "---\nid: fp16-overflow\ncategory: fp16-overflow\ntitle: {en: t, zh: t}\nsummary: {en: s, zh: s}\n"
        f"symptoms: {article_symptoms}\nconfirm: {{en: c, zh: c}}\n"
        "fix: {steps: [{en: f, zh: f}], no_patch: n}\nreferences: [https://github.com/o/r/issues/1]\n---\n"
        "## What it means\n\n## Why it happens\n\n## How to confirm\n\n## Fix\n\n## References\n\n- o/r#1: x\n"
    )
    return tmp_path


def test_lint_counts_a_regex_written_twice_and_a_named_regex_written_out(tmp_path: Path):
    root = _mini_kb(tmp_path, "- {name: over, doc: d, regex: 'OVERFLOW', match: [OVERFLOW!], no_match: [ok]}\n",
                    "[{id: a, regex: 'x+y'}, {id: b, regex: 'OVERFLOW'}]", "[{id: c, regex: 'x+y'}]")
    problems = "\n".join(lint(Catalogue.load(root)))
    assert "written 2 times" in problems
    assert "is the named pattern 'over'" in problems
    assert "pattern 'over' (kb/patterns.yaml) is used by no matcher" in problems


def test_unknown_pattern_name_is_a_load_error(tmp_path: Path):
    root = _mini_kb(tmp_path, "[]", "[{id: a, pattern: nope}]")
    with pytest.raises(KnowledgeBaseError, match="unknown pattern 'nope'"):
        Catalogue.load(root)


def test_lint_checks_references_section_and_area(tmp_path: Path):
    root = _mini_kb(tmp_path, "[]", "[{id: a, regex: 'x+y'}]")
    article = root / "numerics" / "fp16-overflow.md"
    article.write_text(article.read_text().replace("- o/r#1: x", "- o/r#2: another thread"))
    (root / "elsewhere").mkdir()
    article.rename(root / "elsewhere" / article.name)
    problems = "\n".join(lint(Catalogue.load(root)))
    assert "not cited under ## References: ['o/r#1']" in problems
    assert "missing from `references`: ['o/r#2']" in problems
    assert "kb/<area>/<id>.md" in problems


def test_lint_checks_confirm_code_spans_appear_under_how_to_confirm(tmp_path: Path):
    root = _mini_kb(tmp_path, "[]", "[{id: a, regex: 'x+y'}]")
    article = root / "numerics" / "fp16-overflow.md"
    text = article.read_text().replace("confirm: {en: c, zh: c}", "confirm: {en: 'Set `bf16: false`; no `OVERFLOW`.', zh: c}")
    article.write_text(text.replace("## How to confirm\n", "## How to confirm\n\nWith `bf16: false` it trains.\n"))
    problems = "\n".join(lint(Catalogue.load(root)))
    assert "`confirm.en` code spans missing from ## How to confirm: ['OVERFLOW']" in problems
    assert "bf16: false'" not in problems
    article.write_text(article.read_text().replace("it trains.", "it trains, and there is no `OVERFLOW` line."))
    assert not [p for p in lint(Catalogue.load(root)) if "`confirm.en`" in p]


def test_reference_label():
    assert reference_label("https://github.com/hiyouga/LlamaFactory/pull/9501") == "hiyouga/LlamaFactory#9501"
    assert reference_label("https://example.org/a") == "https://example.org/a"


def test_scaffold_passes_lint_and_its_fixtures(tmp_path: Path, rules):
    from service.checks import run_fixture
    from service.rules import RuleSet

    root = Path(__file__).resolve().parents[2] / "kb"
    for name in ("categories.yaml", "areas.yaml", "patterns.yaml", "groups.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    scaffold_article("numerics", "fp16-overflow", root=tmp_path)
    catalogue = Catalogue.load(tmp_path)
    problems = [p for p in lint(catalogue) if not p.startswith(("category ", "pattern ", "group "))]
    assert problems == []
    scaffolded = RuleSet(catalogue)
    assert all(run_fixture(scaffolded, f).passed for f in catalogue.fixtures["fp16-overflow"])
    with pytest.raises(KnowledgeBaseError, match="already exists"):
        scaffold_article("numerics", "fp16-overflow", root=tmp_path)
    with pytest.raises(KnowledgeBaseError, match="unknown area"):
        scaffold_article("nowhere", "x-y", category="fp16-overflow", root=tmp_path)
