"""The triage summary: counts per cause with a bar chart (an SVG file the pages embed), coverage gaps (reports with
no diagnosis grouped by salient line), duplicate clusters and the slowest reports, as Markdown and HTML."""

from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path

from service.gaps import group_lines


def bar_chart_svg(counts: list[tuple[str, int]]) -> str:
    width, bar_h, gap, label_w = 760, 18, 6, 300
    top = max((n for _, n in counts), default=1) or 1
    height = len(counts) * (bar_h + gap) + 20
    rows = []
    for i, (name, n) in enumerate(counts):
        y = 10 + i * (bar_h + gap)
        w = max(1, int((width - label_w - 60) * n / top))
        rows.append(f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end" font-size="12">{html.escape(name)}</text>'
                    f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar_h}" fill="#4c78a8"/>'
                    f'<text x="{label_w + w + 6}" y="{y + 13}" font-size="12">{n}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif">{"".join(rows)}</svg>\n')


def code_span(text: str) -> str:
    """A Markdown code span that survives backticks inside the text (CommonMark: a longer fence)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if longest else f"`{text}`"


def md_text(text: str) -> str:
    """Plain text in Markdown: no raw HTML, no table breaks."""
    return html.escape(text, quote=False).replace("|", "\\|")


def _clusters(rows: dict[str, dict]) -> list[list[str]]:
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for report_id, row in rows.items():
        if row.get("duplicate_of") is not None:
            parent[root(report_id)] = root(str(row["duplicate_of"]))
    groups: dict[str, list[str]] = {}
    for report_id in rows:
        if report_id in parent or any(v == report_id for v in parent.values()):
            groups.setdefault(root(report_id), []).append(report_id)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g))


def write_report(rows: dict[str, dict], out_dir: Path, throughput: str) -> dict[str, Path]:
    """rows: report id -> summary (category, duplicate_of, seconds, gap_line). Returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = Counter(row.get("category") or "no diagnosis" for row in rows.values())
    ordered = sorted(counts.items(), key=lambda x: (-x[1], x[0]))
    (out_dir / "causes.svg").write_text(bar_chart_svg(ordered), encoding="utf-8")
    gaps = group_lines([(rid, row.get("gap_line") or "(empty)") for rid, row in rows.items() if not row.get("category")])
    clusters = _clusters(rows)
    slowest = sorted(rows.items(), key=lambda x: -x[1].get("seconds", 0))[:10]

    md = [f"# Triage report\n\n{len(rows)} reports. {throughput}\n", "## Causes\n", "![causes](causes.svg)\n",
          "| cause | reports |", "|---|---|"]
    md += [f"| {name} | {n} |" for name, n in ordered]
    md += ["", "## Coverage gaps (no diagnosis, by salient line)", ""]
    md += [f"- {len(ids)} × {code_span(line)}: {md_text(', '.join(ids[:8]))}" for line, ids in gaps] or ["None."]
    md += ["", "## Likely duplicate clusters", ""]
    md += [f"- {md_text(' ← '.join(c))}" for c in clusters] or ["None."]
    md += ["", "## Slowest reports", "", "| report | seconds |", "|---|---|"]
    md += [f"| {md_text(str(rid))} | {row.get('seconds', 0):.3f} |" for rid, row in slowest]
    (out_dir / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")

    esc = html.escape
    page = ["<!doctype html><html><head><meta charset='utf-8'><title>tunedoc triage report</title>",
            "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}td,th{padding:2px 8px;"
            "text-align:left}</style></head><body>",
            f"<h1>Triage report</h1><p>{len(rows)} reports. {esc(throughput)}</p><h2>Causes</h2>",
            "<img src='causes.svg' alt='reports per cause'>",
            "<table id='causes'><tr><th>cause</th><th>reports</th></tr>"]
    page += [f"<tr><td>{esc(name)}</td><td>{n}</td></tr>" for name, n in ordered]
    page += ["</table><h2>Coverage gaps</h2><ul id='gaps'>"]
    page += [f"<li>{len(ids)} × <code>{esc(line)}</code>: {esc(', '.join(ids[:8]))}</li>" for line, ids in gaps]
    page += ["</ul><h2>Likely duplicate clusters</h2><ul id='duplicates'>"]
    page += [f"<li>{esc(' ← '.join(c))}</li>" for c in clusters]
    page += ["</ul><h2>Slowest reports</h2><table id='slowest'><tr><th>report</th><th>seconds</th></tr>"]
    page += [f"<tr><td>{esc(rid)}</td><td>{row.get('seconds', 0):.3f}</td></tr>" for rid, row in slowest]
    page += ["</table></body></html>"]
    (out_dir / "report.html").write_text("\n".join(page) + "\n", encoding="utf-8")
    return {"markdown": out_dir / "report.md", "html": out_dir / "report.html", "chart": out_dir / "causes.svg"}
