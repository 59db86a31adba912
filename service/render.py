"""Render a DiagnoseResult as Markdown for people (the CLI and the chat share it)."""

from __future__ import annotations

from service.models import DiagnoseResult
from service.patches import SNIPPET_LANGUAGE, snippet

# What to paste when nothing in the input points at a cause (the CLI answer and the chat say the same).
PASTE_MORE = {
    "en": "Paste the full error with its traceback, the training config (YAML or command line) and the environment "
          "block (`llamafactory-cli env` or `pip list`).",
    "zh": "请贴出完整的报错及 traceback、训练配置（YAML 或命令行）和环境信息（`llamafactory-cli env` 或 `pip list`）。",
}
# A probable cause with no rule evidence was ranked from retrieval alone: an empty "Evidence" heading would read as
# a rendering fault, and the reader should know what the ranking stands on.
NO_RULE_EVIDENCE = {
    "en": "No line of the input is rule evidence for this cause: it is ranked by what retrieval found (similar real "
          "reports, the article's symptoms). Check the article's condition before applying the fix.",
    "zh": "输入中没有哪一行是这个原因的规则证据：它是根据检索结果（相似的真实报告、文章里的症状）排出来的。"
          "应用修复前请先对照文章确认条件是否成立。",
}
_LABELS = {
    "en": {"none": "No diagnosis: nothing in the input supports a known cause.", "evidence": "Evidence",
           "fix": "Fix", "patch": "Config patch", "diff": "Could also be", "missing": "To tell them apart, paste",
           "related": "Related articles", "refs": "References", "confidence": "confidence",
           "ruled_out": "ruled out", "candidate": "possible", "no_evidence": "no evidence yet",
           "likely": "Not sure enough to name one cause. Most likely:", "next": "Next: paste this to decide",
           "paste_more": PASTE_MORE["en"],
           "confirmed": "confirmed by the rules", "probable": "probable", "similar": "Similar real reports"},
    "zh": {"none": "未能诊断：输入中没有证据支持任何已知原因。", "evidence": "证据", "fix": "解决方法",
           "patch": "配置补丁", "diff": "也可能是", "missing": "为了区分，请贴出", "related": "相关文章",
           "refs": "参考", "confidence": "置信度", "ruled_out": "已排除", "candidate": "可能",
           "no_evidence": "暂无证据", "likely": "还不能确定是哪一个原因，最可能的是：",
           "next": "下一步：请贴出这项信息来区分",
           "paste_more": PASTE_MORE["zh"],
           "confirmed": "规则确认", "probable": "很可能", "similar": "相似的真实报告"},
}


def patch_snippet(target: str, patch: dict) -> str:
    return f"```{SNIPPET_LANGUAGE.get(target, 'text')}\n{snippet(target, patch)}\n```"


def _evidence_lines(evidence) -> list[str]:  # noqa: ANN001 - list[Evidence]
    """One bullet per input line, naming every signal that matched it."""
    grouped: dict[tuple[str, int], tuple[str, list[str]]] = {}
    for e in evidence:
        grouped.setdefault((e.part, e.line), (e.text, []))[1].append(e.signal)
    return [f"- {part}:{line} `{text.strip()[:200]}` ({', '.join(signals)})"
            for (part, line), (text, signals) in sorted(grouped.items())]


def render_markdown(result: DiagnoseResult) -> str:
    t = _LABELS[result.lang]
    blocks: list[str] = []
    likely = result.likely()
    if not result.diagnoses:
        if likely:
            blocks.append(f"**{t['likely']}** " + "; ".join(
                f"{item.title} (`{item.id}`{f', {item.probability:.2f}' if item.probability is not None else ''})"
                for item in likely))
        else:
            blocks.append(f"**{t['none']}** {t['paste_more']}")
    question = result.next_question()
    if question and not result.diagnoses:  # an abstention with likely causes leads with its question
        blocks.append(f"**{t['next']}:** {question.ask}")
    for rank, d in enumerate(result.diagnoses, start=1):
        blocks.append(f"## {rank}. {d.title}\n`{d.id}` · {t[d.status]} · {t['confidence']} {d.confidence:.2f}")
        blocks.append(d.cause)
        blocks.append(f"**{t['evidence']}**\n" + ("\n".join(_evidence_lines(d.evidence)[:10]) or
                                                   NO_RULE_EVIDENCE[result.lang]))
        blocks.append(f"**{t['fix']}**\n" + "\n".join(f"{i}. {step}" for i, step in enumerate(d.fix.steps, start=1)))
        if d.fix.patch:
            blocks.append(f"**{t['patch']}**\n\n" + "\n\n".join(
                f"{target}:\n{patch_snippet(target, patch)}" for target, patch in sorted(d.fix.patch.items())))
        blocks.append(f"**{t['refs']}**\n" + "\n".join(f"- {ref}" for ref in d.references))
        if d.similar_reports:
            blocks.append(f"**{t['similar']}**\n" + "\n".join(
                f"- {s.url} ({s.similarity:.2f})" for s in d.similar_reports))
    if question and result.diagnoses:
        blocks.append(f"**{t['next']}:** {question.ask}")
    if shown := result.shown_differential():
        lines = []
        for item in shown:
            line = f"- **{item.title}** (`{item.id}`, {t[item.status]}): {item.confirm}"
            if item.reason:
                line += f" — {item.reason}"
            lines.append(line)
        blocks.append(f"### {t['diff']}\n" + "\n".join(lines))
    others = [m for m in result.missing if m is not question and result.asks(m)]
    if others:
        blocks.append(f"### {t['missing']}\n" + "\n".join(f"- {m.ask}" for m in others))
    if result.related:
        blocks.append(f"### {t['related']}\n" + "\n".join(f"- {r.title} (`{r.id}`)" for r in result.related))
    blocks += [f"> {note}" for note in result.notes]
    return "\n\n".join(blocks) + "\n"
