"""GET /ui/article/{id}: one diagnosis page as readable HTML, for the chat's links (the same page as
`tunedoc explain ID` and docs/diagnoses/ID.md).

It lives under /ui so it follows the chat's read policy (with `TUNEDOC_READ_REQUIRES_KEY=1` the sign-in cookie or
the bearer key); it is a page for people, so it is not in the OpenAPI schema. The Markdown comes from kb/ and is
rendered with raw HTML disabled.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from markdown_it import MarkdownIt

from service.api.deps import EngineDep
from service.api.errors import ApiError
from service.docs import article_page

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · tunedoc</title>
<style>body{{font-family:system-ui,-apple-system,"Noto Sans CJK SC",sans-serif;max-width:52rem;margin:2rem auto;
padding:0 1rem;line-height:1.55;color:#1f2328}}code,pre{{font-family:ui-monospace,monospace;font-size:.9em}}
pre{{background:#f6f8fa;padding:.8rem;overflow-x:auto;border-radius:6px}}code{{background:#f6f8fa;padding:.1em .3em;
border-radius:4px}}pre code{{padding:0}}blockquote{{color:#59636e;border-left:.25em solid #d1d9e0;margin:0;
padding:0 1em}}table{{border-collapse:collapse}}td,th{{border:1px solid #d1d9e0;padding:.3em .6em}}
nav{{margin-bottom:1rem}}</style></head><body><nav><a href="/ui/">← tunedoc chat</a></nav>
<article id="article">{body}</article></body></html>"""


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_page(markdown: str, title: str) -> str:
    # Sibling links are written for docs/diagnoses/ (`other-id.md`); here they are pages beside this one.
    markdown = re.sub(r"\]\(([a-z0-9][a-z0-9\-]*)\.md\)", r"](\1)", markdown)
    return PAGE.format(title=escape(title), body=_markdown().render(markdown))


@router.get("/ui/article/{diagnosis_id}", response_class=HTMLResponse)
def article_html(diagnosis_id: str, engine: EngineDep) -> HTMLResponse:
    """One diagnosis page as HTML (linked from the chat's answers)."""
    catalogue = engine.rules.catalogue
    article = catalogue.by_id.get(diagnosis_id)
    if article is None:
        raise ApiError(404, f"no diagnosis with id {diagnosis_id!r}; GET /v1/diagnoses lists them")
    return HTMLResponse(render_page(article_page(article, catalogue), article.title.en))
