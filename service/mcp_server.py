"""`tunedoc mcp`: a Model Context Protocol server over stdio exposing diagnose, search and explain as tools, so IDE
agents can call tunedoc like any other tool. Each tool calls the same library function as the CLI and the API.
"""

from __future__ import annotations

import json
from functools import lru_cache

from service.config import apply_offline_env


@lru_cache(maxsize=1)
def _engine():  # noqa: ANN202 - (rules, retriever or None)
    from service.pipeline import load_rules

    rules = load_rules()
    try:
        from service.retrieval import open_retriever

        retriever = open_retriever(build_if_stale=True)
    except Exception:  # noqa: BLE001 - tools still diagnose without retrieval
        retriever = None
    return rules, retriever


def tool_diagnose(text: str | None = None, log: str | None = None, config: str | None = None,
                  env: str | None = None, format: str = "markdown") -> str:  # noqa: A002 - the tool's argument name
    """Like REST: one `text` paste, or any of `log`, `config`, `env`. Markdown by default (what a person reads, a
    few KB); `format: json` for the full model."""
    from mcp.server.mcpserver.exceptions import ToolError

    from service.pipeline import diagnose
    from service.render import render_markdown

    parts = {k: v for k, v in (("input", text), ("log", log), ("config", config), ("env", env)) if v is not None}
    if not parts:
        raise ToolError("give `text`, or any of `log`, `config`, `env`")
    if format not in ("markdown", "json"):
        raise ToolError("format must be `markdown` or `json`")
    rules, retriever = _engine()
    result = diagnose(parts, rules=rules, retriever=retriever)
    return result.model_dump_json() if format == "json" else render_markdown(result)


def tool_search(query: str, k: int = 5) -> str:
    from service.search import search_kb

    _, retriever = _engine()
    if retriever is None:
        return json.dumps({"error": "the search index is not available"})
    return json.dumps({"query": query, "results": search_kb(retriever, query, max(1, min(k, 20)))},
                      ensure_ascii=False, indent=2)


def tool_explain(diagnosis_id: str) -> str:
    from service.docs import article_page

    rules, _ = _engine()
    article = rules.catalogue.by_id.get(diagnosis_id)
    if article is None:
        import difflib

        close = difflib.get_close_matches(diagnosis_id, sorted(rules.catalogue.by_id), n=5, cutoff=0.3)
        from mcp.server.mcpserver.exceptions import ToolError

        raise ToolError(f"no diagnosis with id {diagnosis_id!r}" + (f"; did you mean {', '.join(close)}?"
                                                                    if close else ""))
    return article_page(article, rules.catalogue)


def build_server():  # noqa: ANN201 - mcp.server.mcpserver.MCPServer
    from mcp.server.mcpserver import MCPServer

    server = MCPServer(name="tunedoc", instructions=(
        "Diagnose LLM fine-tuning failures. Call `diagnose` with a pasted training log, config and environment; "
        "`search` to ask the knowledge base; `explain` for a diagnosis page by id."))
    server.tool(name="diagnose", description=(
        "Diagnose a pasted fine-tuning log/config/env (`text`, or `log`/`config`/`env`). Returns Markdown (or JSON "
        "with format=json): ranked causes with evidence lines, fix steps and a config patch, the differential, and "
        "the next thing to paste."))(tool_diagnose)
    server.tool(name="search", description="Hybrid search over the knowledge base; returns articles with scores.")(
        tool_search)
    server.tool(name="explain", description="The full page of one diagnosis, by id (Markdown).")(tool_explain)
    return server


def run_stdio() -> None:
    apply_offline_env()
    build_server().run("stdio")
