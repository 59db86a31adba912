"""The triage report a maintainer works from: report.html (an offline page: its filters in plain JavaScript in the
sibling report.js, its chart in causes.svg; nothing is fetched from elsewhere), report.md and causes.svg.

- a per-issue table: link, title, proposed label, cause (the diagnosis id), confidence, status (confirmed, probable,
  no diagnosis), duplicate of; in HTML filtered by cause, status and duplicates;
- the draft reply per issue (a collapsible block in HTML, a section per issue in Markdown, as the text to paste);
- duplicate clusters, diagnosed or not (exact and near-duplicate text, or the same cause with similar lines);
- reports per cause (table and bar chart) and coverage gaps (reports with no diagnosis grouped by salient line).

Titles, bodies, replies and ids are untrusted: HTML is escaped everywhere, Markdown text is escaped (md_text) or put
in code spans and fences longer than any backtick run inside, and only http(s) URLs become links. The files depend
on the rows only (sorted; no timings, no dates), so the same input gives byte-identical files.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path

from service.gaps import group_lines

NO_DIAGNOSIS = "no diagnosis"
STATUSES = ("confirmed", "probable", NO_DIAGNOSIS, "error")
KIND_TEXT = {"exact": "same text", "near": "near-identical text", "same-cause": "same cause, similar lines"}
_SAFE_URL = re.compile(r"https?://[A-Za-z0-9.\-]+(?::\d+)?(?:/[A-Za-z0-9\-._~%!$&'*+,;=:@/]*)?(?:\?[A-Za-z0-9\-._~%!$&'*+,;=:@/?]*)?")
_ISSUE_NUMBER = re.compile(r"/(?:issues|pull)/([0-9]{1,18})/?$")
_BACKTICKS = re.compile(r"`+")
is_number = re.compile(r"[0-9]{1,18}").fullmatch  # an issue number (str.isdigit also takes "²", which int() refuses)


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


def _longest_backticks(text: str) -> int:
    return max(map(len, _BACKTICKS.findall(text)), default=0) if "`" in text else 0


def code_span(text: str, cell: bool = False) -> str:
    """A Markdown code span that survives backticks inside the text (CommonMark: a longer fence); in a table cell
    `|` is escaped too (GFM splits cells at a bare `|` even inside a code span)."""
    text = " ".join(text.splitlines())
    if cell:
        text = text.replace("|", "\\|")
    longest = _longest_backticks(text)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if longest or not text.strip() else f"`{text}`"


# &, <, > as entities and Markdown's specials backslash-escaped in one pass (~14 calls per issue in a report)
_MD_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", **{c: "\\" + c for c in "\\`*_[]()!|~#"}})


def md_text(text: str) -> str:
    """Plain text in Markdown: no raw HTML, no links or emphasis, no table breaks, one line."""
    return " ".join(str(text).splitlines()).translate(_MD_TEXT)


def md_fence(text: str, info: str = "") -> str:
    """A fenced block that nothing inside can close: longer than any backtick run in the text."""
    fence = "`" * max(3, _longest_backticks(text) + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


def safe_url(url: object) -> str | None:
    return url if isinstance(url, str) and _SAFE_URL.fullmatch(url) else None


def issue_number(report_id: str, url: object = None) -> int | None:
    """The tracker's issue number: from the URL (…/issues/N), else the id when it is a number."""
    match = _ISSUE_NUMBER.search(url) if isinstance(url, str) else None
    if match:
        return int(match.group(1))
    return int(report_id) if is_number(report_id) else None


def _natural(report_id: str) -> tuple:
    return (0, int(report_id), report_id) if is_number(report_id) else (1, 0, report_id)


def _name(report_id: str, row: dict) -> str:
    number = issue_number(report_id, row.get("url"))
    return f"#{number}" if number is not None and str(number) == report_id else report_id


def _status(row: dict) -> str:
    if row.get("error"):
        return "error"
    return row.get("status") or (NO_DIAGNOSIS if not row.get("diagnosis") else "confirmed")


def _cause(row: dict) -> str:
    return row.get("diagnosis") or ("error" if row.get("error") else NO_DIAGNOSIS)


def clusters(rows: dict[str, dict]) -> list[list[str]]:
    """Groups of two or more reports joined by duplicate links, largest first; members in id order."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for report_id in sorted(rows, key=_natural):
        earlier = rows[report_id].get("duplicate_of")
        if earlier is not None and str(earlier) in rows:
            a, b = root(report_id), root(str(earlier))
            if a != b:
                parent[max(a, b, key=_natural)] = min(a, b, key=_natural)
    groups: dict[str, list[str]] = {}
    for report_id in rows:
        groups.setdefault(root(report_id), []).append(report_id)
    found = [sorted(g, key=_natural) for g in groups.values() if len(g) > 1]
    return sorted(found, key=lambda g: (-len(g), _natural(g[0])))


class _Report:
    """Everything both pages show, computed once from the rows."""

    def __init__(self, rows: dict[str, dict]) -> None:
        self.rows = {str(k): v for k, v in rows.items()}
        self.order = sorted(self.rows, key=_natural)
        self.anchors = self._anchors()
        counts = Counter(_cause(row) for row in self.rows.values())
        self.causes = sorted(counts.items(), key=lambda x: (-x[1], x[0]))
        self.cause_titles: dict[str, str] = {}  # the English title where an English report has the cause
        for rid in sorted(self.order, key=lambda x: self.rows[x].get("lang") != "en"):
            row = self.rows[rid]
            if row.get("diagnosis") and row.get("cause_title"):
                self.cause_titles.setdefault(row["diagnosis"], row["cause_title"])
        self.statuses = Counter(_status(row) for row in self.rows.values())
        self.gaps = [(line, sorted(ids, key=_natural)) for line, ids in group_lines(
            [(rid, self.rows[rid].get("gap_line") or "(empty)") for rid in self.order
             if not self.rows[rid].get("diagnosis") and not self.rows[rid].get("error")])]
        self.clusters = clusters(self.rows)
        # A report in a cluster is a duplicate of the cluster's earliest report (the one to keep open); the note
        # says how it is linked: its own link, or the link another report made to it.
        self.duplicate_of = {rid: c[0] for c in self.clusters for rid in c[1:]}
        self.links: dict[str, tuple[str, dict]] = {}
        for rid in self.order:
            earlier = self.rows[rid].get("duplicate_of")
            if earlier is not None and str(earlier) in self.rows:
                self.links[rid] = (str(earlier), self.rows[rid])
        for rid in self.order:
            earlier = self.rows[rid].get("duplicate_of")
            if earlier is not None and str(earlier) in self.rows:
                self.links.setdefault(str(earlier), (rid, self.rows[rid]))

    def _anchors(self) -> dict[str, str]:
        anchors: dict[str, str] = {}
        used: set[str] = set()
        for rid in self.order:
            base = "issue-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", rid).strip("-") or "x")
            anchor, n = base, 1
            while anchor in used:
                n += 1
                anchor = f"{base}-{n}"
            used.add(anchor)
            anchors[rid] = anchor
        return anchors

    def summary(self) -> str:
        parts = [f"{self.statuses[s]} {s}" for s in STATUSES if self.statuses[s]]
        in_clusters = sum(len(c) for c in self.clusters)
        undiagnosed = sum(1 for c in self.clusters if any(not self.rows[r].get("diagnosis") for r in c))
        return (f"{len(self.rows)} report(s): {', '.join(parts) or 'none'}. {len(self.clusters)} duplicate "
                f"cluster(s) with {in_clusters} report(s), {undiagnosed} of them with reports that have no diagnosis.")

    def confidence(self, row: dict) -> str:
        value = row.get("confidence")
        return f"{value:.2f}" if isinstance(value, (int, float)) else "—"

    def duplicate_note(self, rid: str) -> str:
        """How a report in a cluster is linked: "near-identical text, similarity 0.76" (+ "with X" when the link is
        to another report than the cluster's earliest)."""
        if rid not in self.links:
            return ""
        other, link = self.links[rid]
        kind = KIND_TEXT.get(link.get("duplicate_kind") or "", "similar")
        similarity = link.get("duplicate_similarity")
        if link.get("duplicate_kind") != "exact" and isinstance(similarity, (int, float)):
            kind += f", similarity {similarity:.2f}"
        if other != self.duplicate_of.get(rid):
            kind += f", with {_name(other, self.rows[other])}"
        return kind


def _markdown(r: _Report) -> str:
    def issue(rid: str) -> str:
        row = r.rows.get(rid, {})
        url = safe_url(row.get("url"))
        return f"[{md_text(_name(rid, row))}](<{url}>)" if url else md_text(_name(rid, row))

    md = ["# Triage report", "", r.summary(), "",
          "Sections: [Issues](#issues) · [Reports per cause](#reports-per-cause) · "
          "[Duplicate clusters](#duplicate-clusters) · [Coverage gaps](#coverage-gaps) · "
          "[Draft replies](#draft-replies)",
          "", "## Issues", "",
          "| issue | title | proposed label | cause | confidence | status | duplicate of |",
          "|---|---|---|---|---|---|---|"]
    for rid in r.order:
        row = r.rows[rid]
        dup = r.duplicate_of.get(rid)
        label = code_span(row["label"], cell=True) if row.get("label") else ""
        md.append(f"| {issue(rid)} | {md_text(row.get('title') or '')} | {label} "
                  f"| {code_span(_cause(row), cell=True)} | {r.confidence(row)} | {md_text(_status(row))} "
                  f"| {issue(dup) + ' (' + md_text(r.duplicate_note(rid)) + ')' if dup is not None else ''} |")
    md += ["", "## Reports per cause", "", "![reports per cause](causes.svg)", "", "| cause | title | reports |",
           "|---|---|---|"]
    md += [f"| {code_span(name, cell=True)} | {md_text(r.cause_titles.get(name, ''))} | {n} |" for name, n in r.causes]
    md += ["", "## Duplicate clusters", ""]
    if not r.clusters:
        md.append("None.")
    for cluster in r.clusters:
        undiagnosed = sum(1 for rid in cluster if not r.rows[rid].get("diagnosis"))
        md.append(f"- {len(cluster)} reports, {undiagnosed} without a diagnosis:")
        for rid in cluster:
            row = r.rows[rid]
            link = (f" — duplicate of {issue(r.duplicate_of[rid])} ({md_text(r.duplicate_note(rid))})"
                    if rid in r.duplicate_of else " — earliest")
            md.append(f"  - {issue(rid)} {md_text(row.get('title') or '')} ({code_span(_cause(row))}){link}")
    md += ["", "## Coverage gaps", "", "Reports with no diagnosis, grouped by their most telling line (paths and "
           "numbers normalised):", ""]
    md += [f"- {len(ids)} × {code_span(line)}: {', '.join(issue(rid) for rid in ids)}"
           for line, ids in r.gaps] or ["None."]
    md += ["", "## Draft replies", ""]
    for rid in r.order:
        row = r.rows[rid]
        md += [f"### {md_text(_name(rid, row))} · {md_text(row.get('title') or '')}", ""]
        facts = [f"cause {code_span(_cause(row))}", f"status {md_text(_status(row))}",
                 f"confidence {r.confidence(row)}"]
        if row.get("label"):
            facts.append(f"label {code_span(row['label'])}")
        if rid in r.duplicate_of:
            facts.append(f"duplicate of {issue(r.duplicate_of[rid])} ({md_text(r.duplicate_note(rid))})")
        md += [" · ".join(facts), ""]
        if row.get("error"):
            md += [f"Not triaged: {md_text(row['error'])}", ""]
        elif row.get("reply"):
            md += [md_fence(row["reply"], "markdown"), ""]
        else:
            md += ["No draft reply.", ""]
    return "\n".join(md).rstrip("\n") + "\n"


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",sans-serif;margin:1.5em auto;
max-width:1200px;padding:0 1em;color:#1f2328;line-height:1.4}
h1{margin-bottom:.2em}nav a{margin-right:1em}
table{border-collapse:collapse;width:100%}#issues{table-layout:fixed}
th,td{padding:4px 8px;text-align:left;vertical-align:top}
#issues thead th{position:sticky;top:0;background:#f6f8fa;border-bottom:2px solid #d0d7de}
#issues tbody{border-bottom:1px solid #d8dee4}#issues tr.reply td{padding-top:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:90%;background:#f6f8fa;padding:0 3px;overflow-wrap:anywhere}
td{overflow-wrap:anywhere}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:8px;border-radius:4px;max-width:100%}
details summary{cursor:pointer;color:#0969da}
.status{border-radius:10px;padding:1px 8px;font-size:85%;white-space:nowrap}
.st-confirmed{background:#dafbe1}.st-probable{background:#fff8c5}.st-no-diagnosis{background:#eaeef2}
.st-error{background:#ffebe9}
#filters{display:flex;gap:1.5em;align-items:center;flex-wrap:wrap;margin:.5em 0 1em}
#shown{color:#57606a}.cluster li{margin:2px 0}
"""

_SCRIPT = """// The filters of report.html (tunedoc triage): plain JavaScript, no network.
(function () {
  var cause = document.getElementById('filter-cause');
  var status = document.getElementById('filter-status');
  var dups = document.getElementById('filter-duplicates');
  var shown = document.getElementById('shown');
  var rows = document.querySelectorAll('#issues tbody.issue');
  function apply() {
    var n = 0;
    for (var i = 0; i < rows.length; i++) {
      var b = rows[i];
      var ok = (!cause.value || b.getAttribute('data-cause') === cause.value) &&
               (!status.value || b.getAttribute('data-status') === status.value) &&
               (!dups.checked || b.getAttribute('data-cluster') !== '');
      b.style.display = ok ? '' : 'none';
      if (ok) n++;
    }
    shown.textContent = n + ' of ' + rows.length + ' shown';
  }
  cause.addEventListener('change', apply);
  status.addEventListener('change', apply);
  dups.addEventListener('change', apply);
  var links = document.querySelectorAll('[data-filter-cause]');
  for (var i = 0; i < links.length; i++) {
    links[i].addEventListener('click', function (e) {
      cause.value = this.getAttribute('data-filter-cause');
      status.value = '';
      apply();
    });
  }
  apply();
})();
"""


def _html(r: _Report) -> str:
    esc = html.escape
    cluster_of = {rid: str(i) for i, c in enumerate(r.clusters, start=1) for rid in c}

    def issue(rid: str, anchor: bool = False) -> str:
        row = r.rows.get(rid, {})
        name = esc(_name(rid, row))
        if anchor and rid in r.anchors:
            return f'<a href="#{r.anchors[rid]}">{name}</a>'
        url = safe_url(row.get("url"))
        return f'<a href="{esc(url)}">{name}</a>' if url else name

    def status(row: dict) -> str:
        s = _status(row)
        return f'<span class="status st-{esc(s.replace(" ", "-"))}">{esc(s)}</span>'

    page = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>tunedoc triage report</title>", f"<style>{_STYLE}</style></head><body>",
            "<h1>Triage report</h1>", f'<p id="summary">{esc(r.summary())}</p>',
            '<nav><a href="#issues-section">Issues</a><a href="#causes-section">Reports per cause</a>'
            '<a href="#duplicates-section">Duplicate clusters</a><a href="#gaps-section">Coverage gaps</a></nav>',
            '<h2 id="issues-section">Issues</h2>', '<div id="filters">',
            '<label>Cause <select id="filter-cause"><option value="">all causes</option>']
    page += [f'<option value="{esc(name)}">{esc(name)} ({n})</option>' for name, n in r.causes]
    page += ['</select></label>', '<label>Status <select id="filter-status"><option value="">all statuses</option>']
    page += [f'<option value="{esc(s)}">{esc(s)} ({r.statuses[s]})</option>' for s in STATUSES if r.statuses[s]]
    page += ['</select></label>',
             '<label><input type="checkbox" id="filter-duplicates"> in a duplicate cluster</label>',
             f'<span id="shown">{len(r.order)} of {len(r.order)} shown</span></div>',
             '<table id="issues"><colgroup><col style="width:6%"><col style="width:29%"><col style="width:15%">'
             '<col style="width:19%"><col style="width:10%"><col style="width:9%"><col style="width:12%"></colgroup>'
             '<thead><tr><th>issue</th><th>title</th><th>proposed label</th><th>cause</th>'
             '<th class="num">confidence</th><th>status</th><th>duplicate of</th></tr></thead>']
    for rid in r.order:
        row = r.rows[rid]
        cause = _cause(row)
        dup = r.duplicate_of.get(rid)
        dup_cell = f'{issue(dup, anchor=True)} <small>{esc(r.duplicate_note(rid))}</small>' if dup is not None else ""
        cause_cell = (f'<code title="{esc(r.cause_titles.get(cause, ""))}">{esc(cause)}</code>'
                      if row.get("diagnosis") else "—")
        if row.get("error"):
            reply = f"<p>Not triaged: {esc(row['error'])}</p>"
        elif row.get("reply"):
            reply = (f'<details><summary>Draft reply</summary><pre class="reply-text">{esc(row["reply"])}</pre>'
                     "</details>")
        else:
            reply = "<p>No draft reply.</p>"
        page += [f'<tbody class="issue" id="{r.anchors[rid]}" data-id="{esc(rid)}" data-cause="{esc(cause)}" '
                 f'data-status="{esc(_status(row))}" data-cluster="{cluster_of.get(rid, "")}">',
                 f'<tr class="main"><td>{issue(rid)}</td><td class="title">{esc(row.get("title") or "")}</td>'
                 f'<td>{esc(row.get("label") or "")}</td><td>{cause_cell}</td>'
                 f'<td class="num">{r.confidence(row)}</td><td>{status(row)}</td><td>{dup_cell}</td></tr>',
                 f'<tr class="reply"><td></td><td colspan="6">{reply}</td></tr>', "</tbody>"]
    page += ["</table>", '<h2 id="causes-section">Reports per cause</h2>',
             '<img src="causes.svg" alt="bar chart: reports per cause">',
             '<table id="causes"><tr><th>cause</th><th>title</th><th>reports</th></tr>']
    page += [f'<tr><td><a href="#issues-section" data-filter-cause="{esc(name)}">{esc(name)}</a></td>'
             f'<td>{esc(r.cause_titles.get(name, ""))}</td><td class="num">{n}</td></tr>' for name, n in r.causes]
    page += ["</table>", '<h2 id="duplicates-section">Duplicate clusters</h2>', '<ol id="duplicates" class="cluster">']
    for number, cluster in enumerate(r.clusters, start=1):
        undiagnosed = sum(1 for rid in cluster if not r.rows[rid].get("diagnosis"))
        items = []
        for rid in cluster:
            row = r.rows[rid]
            link = (f" — duplicate of {issue(r.duplicate_of[rid], anchor=True)} ({esc(r.duplicate_note(rid))})"
                    if rid in r.duplicate_of else " — earliest")
            items.append(f"<li>{issue(rid, anchor=True)} {esc(row.get('title') or '')} "
                         f"(<code>{esc(_cause(row))}</code>){link}</li>")
        page.append(f'<li data-cluster="{number}" data-undiagnosed="{undiagnosed}">{len(cluster)} reports, '
                    f"{undiagnosed} without a diagnosis<ul>{''.join(items)}</ul></li>")
    page += ["</ol>" if r.clusters else "</ol><p>None.</p>", '<h2 id="gaps-section">Coverage gaps</h2>',
             "<p>Reports with no diagnosis, grouped by their most telling line (paths and numbers normalised):</p>",
             '<ul id="gaps">']
    page += [f"<li>{len(ids)} × <code>{esc(line)}</code>: {', '.join(issue(rid, anchor=True) for rid in ids)}</li>"
             for line, ids in r.gaps]
    page += ["</ul>" if r.gaps else "</ul><p>None.</p>", '<script src="report.js"></script>', "</body></html>"]
    return "\n".join(page) + "\n"


def write_report(rows: dict[str, dict], out_dir: Path) -> dict[str, Path]:
    """rows: report id -> its summary (service.triage.run.summarize). Returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = _Report(rows)
    files = {"markdown": out_dir / "report.md", "html": out_dir / "report.html", "chart": out_dir / "causes.svg",
             "script": out_dir / "report.js"}
    files["chart"].write_text(bar_chart_svg(report.causes), encoding="utf-8", newline="\n")
    files["script"].write_text(_SCRIPT.lstrip(), encoding="utf-8", newline="\n")
    files["markdown"].write_text(_markdown(report), encoding="utf-8", newline="\n")
    files["html"].write_text(_html(report), encoding="utf-8", newline="\n")
    return files
