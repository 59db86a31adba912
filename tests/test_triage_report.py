"""The triage report a maintainer acts on: per-issue table, filters, draft replies, duplicate clusters (with reports
that have no diagnosis), coverage gaps, escaping of untrusted text, byte-identical output; and the page itself in
headless Chromium (screenshot to artifacts/triage-report.png and docs/img/triage-report.png)."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from service.triage import triage
from service.triage.report import code_span, md_text, write_report
from service.triage.run import summarize
from service.triage.textdup import NEAR_DUPLICATE_JACCARD, TextDuplicates, jaccard, shingles, similarity

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "tests" / "data" / "sample-export.json"
ARTIFACTS = REPO / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
ISSUES = [item for item in json.loads(SAMPLE.read_text(encoding="utf-8")) if "pull_request" not in item]


@pytest.fixture(scope="module")
def sample_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    out = tmp_path_factory.mktemp("sample") / "triage.jsonl"
    stats = triage(SAMPLE, out, retrieval=False, workers=1, progress=False)
    rows = {str(json.loads(line)["id"]): json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()}
    return stats.report["html"].parent, rows


def _issue_rows(markdown: str) -> list[list[str]]:
    table = markdown.split("## Issues", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in table.splitlines() if ln.startswith("| ")][1:]  # skip the header
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in lines]


def test_sample_export_report_has_the_table_replies_and_clusters(sample_report):
    folder, rows = sample_report
    md = (folder / "report.md").read_text(encoding="utf-8")
    page = (folder / "report.html").read_text(encoding="utf-8")

    # One table row per issue (the pull request is skipped), in issue-number order, 7 columns each.
    table = _issue_rows(md)
    numbers = sorted(item["number"] for item in ISSUES)
    assert [row[0].split("]")[0].lstrip("[\\#") for row in table] == [str(n) for n in numbers]
    assert all(len(row) == 7 for row in table)
    assert page.count('<tbody class="issue"') == len(ISSUES)
    # Link, label, cause (the diagnosis id), confidence, status, in both pages.
    assert "[\\#104](<https://github.com/example-org/finetune-kit/issues/104>)" in md
    assert '<a href="https://github.com/example-org/finetune-kit/issues/104">#104</a>' in page
    row_104 = next(r for r in table if r[0].startswith("[\\#104]"))
    assert row_104[2:4] == ["`flash-attn-binary-mismatch`"] * 2 and row_104[5] == "confirmed"
    assert rows["104"]["diagnoses"][0]["status"] == "confirmed"
    assert re.search(r'data-cause="no diagnosis" data-status="no diagnosis"', page)
    # A draft reply per issue: a <details> in HTML, a fenced section in Markdown.
    assert page.count("<details><summary>Draft reply</summary>") == len(ISSUES)
    assert md.count("\n### \\#") == len(ISSUES) and "````markdown\nThis looks like **" in md
    assert "解决方法" in md  # the Chinese report gets a Chinese reply

    # Duplicate clusters, including reports with no diagnosis: exact (115/116) and near (107/108, 121/122).
    assert rows["116"]["triage"]["duplicate_kind"] == "exact" and rows["116"]["triage"]["duplicate_of"] == "115"
    for later, earlier in (("108", "107"), ("122", "121"), ("114", "102")):
        meta = rows[later]["triage"]
        assert meta["duplicate_kind"] == "near" and meta["duplicate_of"] == earlier
        assert meta["duplicate_similarity"] >= NEAR_DUPLICATE_JACCARD
    assert rows["106"]["triage"]["duplicate_of"] == "101"  # the export lists the newest first: links go to the older
    assert not rows["115"]["diagnoses"] and not rows["107"]["diagnoses"]  # a web UI bug, a Windows DLL: out of scope
    undiagnosed = re.findall(r'<li data-cluster="\d+" data-undiagnosed="([1-9])">', page)
    assert len(undiagnosed) >= 2
    assert "(same text)" in md and "near-identical text, similarity 0." in md
    dup_116 = next(r for r in table if r[0].startswith("[\\#116]"))
    assert dup_116[6].startswith("[\\#115]")

    # Coverage gaps read like the error, with numbers normalised; the cause chart is there.
    assert "2 × `safetensors_rust.SafetensorError: Error while serializing: IoError(Os { code: N, kind: Storage" in md
    assert (folder / "causes.svg").read_text().startswith("<svg") and '<img src="causes.svg"' in page
    assert "![reports per cause](causes.svg)" in md


def test_untrusted_titles_and_replies_are_escaped(sample_report, tmp_path: Path):
    folder, _ = sample_report
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "Answers start with &lt;think&gt;&lt;/think&gt; | after SFT" in page and "<think>" not in page
    assert page.count("<script") == 1 and '<script src="report.js"></script>' in page  # only the page's own

    hostile = {
        "7": {"title": '<img src=x onerror=alert(1)> [click](javascript:alert(2)) | `x` *bold*',
              "url": "javascript:alert(3)", "reply": "Evidence:\n```text\n```\n</pre><script>alert(4)</script>\n```\n",
              "label": "bug|x", "gap_line": "</code><b>x</b>", "lang": "en"},
        "8": {"title": "ok", "url": "https://github.com/o/r/issues/8\" onclick=\"x", "reply": "fine", "lang": "en"},
    }
    files = write_report(hostile, tmp_path)
    md, html_page = files["markdown"].read_text(), files["html"].read_text()
    outside_fences = re.sub(r"(?ms)^(`{3,})markdown\n.*?^\1$", "", md)
    assert "````markdown\nEvidence:" in md and "</pre><script>alert(4)</script>" not in outside_fences
    assert "`</code><b>x</b>`" in md  # literal inside a code span
    outside_code = re.sub(r"(`+)[^`].*?\1", "", outside_fences)
    assert not re.search(r"<(img|script|b|/code)\b", outside_code) and "](javascript:" not in md
    assert "`bug\\|x`" in md  # a pipe in a table cell is escaped even inside a code span
    assert "&lt;img src=x onerror=alert(1)&gt;" in html_page and "<img src=x" not in html_page
    assert 'href="javascript' not in html_page and 'onclick="x' not in html_page  # unsafe URLs are not links
    assert html_page.count("<script") == 1 and "&lt;/pre&gt;&lt;script&gt;" in html_page
    # The reply's own ``` fences cannot close the Markdown fence around it.
    assert "````markdown\nEvidence:\n```text\n```\n&lt;" not in md and "````markdown\nEvidence:" in md
    # Every table row still has exactly 7 cells.
    assert all(len(row) == 7 for row in _issue_rows(md))
    assert code_span("a ``b`` c") == "``` a ``b`` c ```" and md_text("<a>|[x](y)") == "&lt;a&gt;\\|\\[x\\]\\(y\\)"


def test_report_is_byte_identical_across_runs(sample_report, tmp_path: Path):
    folder, _ = sample_report
    out = tmp_path / "again.jsonl"
    triage(SAMPLE, out, retrieval=False, workers=1, progress=False)
    for name in ("report.md", "report.html", "causes.svg", "report.js"):
        assert (tmp_path / "again-report" / name).read_bytes() == (folder / name).read_bytes(), name
    # A resumed run (everything already done) writes the same report again.
    triage(SAMPLE, out, retrieval=False, workers=1, progress=False)
    assert (tmp_path / "again-report" / "report.html").read_bytes() == (folder / "report.html").read_bytes()


def test_text_duplicates_exact_near_and_distinct():
    base = ("Training crashes at step 120 with RuntimeError: CUDA error: an illegal memory access was encountered "
            "when using flash attention on an H100 with torch 2.3.0 and transformers 4.41.2")
    index = TextDuplicates()
    assert index.add("1", base) is None
    exact = index.add("2", "  " + base.upper().replace(" ", "\n  "))  # case and whitespace do not matter
    assert exact is not None and (exact.earlier, exact.kind) == ("1", "exact")
    repost = base.replace("120", "340").replace("2.3.0", "2.3.1") + "\nSame here, any update?"
    near = index.add("3", repost)
    assert near is not None and near.kind == "near" and near.similarity >= NEAR_DUPLICATE_JACCARD
    other = ("Loss goes to nan after 300 steps with learning rate 5e-4 when fine-tuning Llama-3-8B with LoRA "
             "rank 64 in fp16 on two V100 GPUs")
    assert index.add("4", other) is None and similarity(base, other) < 0.2
    assert index.add("5", "same problem here") is None  # too short to call anything a duplicate
    zh = "训练时显存不足，第十步就报错 CUDA out of memory"
    assert similarity(zh, zh + "!") == 1.0 and similarity(zh, "多卡训练卡住不动，单卡正常") == 0.0


def test_shingles_and_jaccard_match_their_set_definitions():
    rng = random.Random(5)
    for _ in range(300):
        words = [rng.choice(["a", "b", "0", "训", "x"]) for _ in range(rng.randint(0, 12))]
        grams = {"\x1f".join(words[i:i + 3]) for i in range(max(1, len(words) - 2))} if words else set()
        assert shingles(words).tolist() == sorted({zlib.crc32(g.encode()) for g in grams})
    for _ in range(300):
        a, b = (set(rng.sample(range(60), rng.randint(0, 30))) for _ in range(2))
        expected = len(a & b) / len(a | b) if a and b else 0.0
        assert jaccard(np.array(sorted(a), dtype=np.uint64), np.array(sorted(b), dtype=np.uint64)) == expected


def test_summary_survives_error_rows(tmp_path: Path):
    rows = {"1": summarize({"id": 1, "error": {"code": "bad_json", "message": "line 1: Expecting value"}}),
            "2": summarize({"id": 2, "diagnoses": [], "triage": {"title": "t", "reply": "r", "label": "pending"}})}
    files = write_report(rows, tmp_path)
    page = files["html"].read_text()
    assert 'data-status="error"' in page and "Not triaged: line 1: Expecting value" in page
    assert 'data-status="no diagnosis"' in page


def test_report_page_in_headless_chromium(sample_report):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run must install Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    folder, rows = sample_report
    undiagnosed = sum(1 for row in rows.values() if not row["diagnoses"])
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("request", lambda req: errors.append(req.url) if not req.url.startswith("file://") else None)
        page.goto((folder / "report.html").as_uri())
        issues = page.locator("#issues tbody.issue")
        assert issues.count() == len(ISSUES)
        assert page.locator("#shown").inner_text() == f"{len(ISSUES)} of {len(ISSUES)} shown"
        first = issues.first.locator("tr.main td")
        assert first.nth(0).inner_text() == "#101" and first.nth(3).inner_text() == "bf16-numerical-instability"

        page.select_option("#filter-status", "no diagnosis")
        visible = page.locator("#issues tbody.issue:visible")
        assert visible.count() == undiagnosed and 0 < undiagnosed < len(ISSUES)
        assert set(visible.evaluate_all("els => els.map(e => e.dataset.status)")) == {"no diagnosis"}
        assert page.locator("#shown").inner_text() == f"{undiagnosed} of {len(ISSUES)} shown"

        page.select_option("#filter-status", "")
        page.select_option("#filter-cause", "cuda-oom-training")
        assert visible.evaluate_all("els => els.map(e => e.dataset.id)") == ["102", "114"]

        page.select_option("#filter-cause", "")
        page.check("#filter-duplicates")
        in_clusters = visible.evaluate_all("els => els.map(e => e.dataset.id)")
        assert {"107", "108", "115", "116", "121", "122"} <= set(in_clusters) and "105" not in in_clusters

        reply = page.locator("#issue-108 details")
        assert not reply.locator("pre").is_visible()
        reply.locator("summary").click()
        assert reply.locator("pre").is_visible() and "I could not match" in reply.locator("pre").inner_text()
        assert "fp16: true" in page.locator("#issue-106 pre").text_content()  # closed, but there
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(ARTIFACTS / "triage-report.png"), full_page=False)
        assert errors == []  # no script errors, no request beyond the report's own files
        browser.close()
    docs_img = REPO / "docs" / "img"
    docs_img.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ARTIFACTS / "triage-report.png", docs_img / "triage-report.png")
