"""Docs generated from kb/: one page per diagnosis, an index table, and the signal vocabulary.

`tunedoc explain ID` prints the same page; a test runs `write_docs(check=True)` so the committed pages never
drift from the articles.
"""

from __future__ import annotations

from pathlib import Path

from service.config import REPO_ROOT
from service.kb import Article, Catalogue, Matcher
from service.render import patch_snippet
from service.vocabulary import render_signals_page

DOCS_DIR = REPO_ROOT / "docs"


def _matcher_line(matcher: Matcher) -> str:
    extra = f", weight {matcher.weight:g}" if matcher.weight != 1.0 else ""
    if matcher.required:
        extra += ", required"
    return f"- `{matcher.id}`: {matcher.describe()}{extra}"


def _rules_section(article: Article) -> list[str]:
    lines = ["## Rules", "", "Symptoms (each adds its weight once):", ""]
    lines += [_matcher_line(m) for m in article.symptoms]
    if article.conditions:
        lines += ["", "Conditions:", ""] + [_matcher_line(m) for m in article.conditions]
    if article.excludes:
        lines += ["", "Ruled out by:", ""]
        lines += [f"{_matcher_line(m)} — {m.because.en if m.because else ''}" for m in article.excludes]
    return lines


def article_page(article: Article, catalogue: Catalogue) -> str:
    siblings = sorted({a.id for g in article.groups for a in catalogue.members(g)} - {article.id})
    lines = [
        f"# {article.title.en}",
        "",
        f"`{article.id}` · category `{article.category}`",
        "",
        f"> {article.title.zh}",
        "",
        article.summary.en,
        "",
        f"> {article.summary.zh}",
        "",
    ]
    if siblings:
        lines += ["Shares a symptom with: " + ", ".join(f"[`{s}`]({s}.md)" for s in siblings), ""]
    lines += [article.body.strip(), "", "## Fix steps", ""]
    lines += [f"{i}. {step.en}  \n   {step.zh}" for i, step in enumerate(article.fix.steps, start=1)]
    if article.fix.no_patch:
        lines += ["", f"No config patch: {article.fix.no_patch}"]
    if article.fix.patch:
        lines += ["", "### Config patch", ""]
        for target, patch in sorted(article.fix.patch.items()):
            lines += [f"{target}:", "", patch_snippet(target, patch), ""]
    lines += [""] + _rules_section(article)
    lines += ["", "## Sources", ""] + [f"- {ref}" for ref in article.references]
    return "\n".join(lines).rstrip() + "\n"


def index_page(catalogue: Catalogue) -> str:
    lines = [
        "# Diagnoses",
        "",
        "Generated from kb/ by `tunedoc docs`; do not edit by hand. One page per diagnosis.",
        "",
        "| id | category | title | sources |",
        "|---|---|---|---|",
    ]
    for a in catalogue.articles:
        sources = " ".join(f"[{i}]({ref})" for i, ref in enumerate(a.references, start=1))
        lines.append(f"| [`{a.id}`]({a.id}.md) | {a.category} | {a.title.en} / {a.title.zh} | {sources} |")
    return "\n".join(lines) + "\n"


def expected_pages(catalogue: Catalogue) -> dict[Path, str]:
    pages = {DOCS_DIR / "diagnoses" / f"{a.id}.md": article_page(a, catalogue) for a in catalogue.articles}
    pages[DOCS_DIR / "diagnoses" / "README.md"] = index_page(catalogue)
    pages[DOCS_DIR / "signals.md"] = render_signals_page()
    return pages


def write_docs(*, check: bool = False, catalogue: Catalogue | None = None) -> list[Path]:
    """Write the pages (or, with check, only report them); returns the paths that were stale or extra."""
    catalogue = catalogue or Catalogue.load()
    pages = expected_pages(catalogue)
    stale = [path for path, text in pages.items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    extra = [p for p in (DOCS_DIR / "diagnoses").glob("*.md") if p not in pages]
    if not check:
        (DOCS_DIR / "diagnoses").mkdir(parents=True, exist_ok=True)
        for path in stale:
            path.write_text(pages[path], encoding="utf-8")
        for path in extra:
            path.unlink()
    return sorted(stale + extra)
