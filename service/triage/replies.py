"""Draft replies for maintainers: cause, the lines that show it, the fix and patch, what to paste if evidence is
missing, and sources as links; in Chinese when the report is Chinese. Built from the diagnose result only."""

from __future__ import annotations

from service.models import DiagnoseResult
from service.patches import SNIPPET_LANGUAGE

TEXT = {
    "en": {"cause": "This looks like **{title}** (`{id}`, confidence {conf:.2f}).", "lines": "The lines that show it:",
           "fix": "How to fix it:", "patch": "Config change:", "ask": "To confirm, please paste:",
           "none": "I could not match this report to a known cause. Could you paste the full error (traceback), "
                   "the training config (YAML or command line) and the environment (`llamafactory-cli env` or "
                   "`pip list`)?", "related": "These articles may be related:", "sources": "Sources:",
           "also": "If that is not it, it could also be:",
           "likely": "I am not sure enough to name one cause. The most likely ones:",
           "next": "The one thing that would tell them apart:"},
    "zh": {"cause": "看起来是 **{title}**（`{id}`，置信度 {conf:.2f}）。", "lines": "相关日志行：", "fix": "解决方法：",
           "patch": "配置修改：", "ask": "为了确认，请贴出：",
           "none": "暂时无法把这个问题对应到已知原因。请贴出完整报错（traceback）、训练配置（YAML 或命令行）和环境信息"
                   "（`llamafactory-cli env` 或 `pip list`）。", "related": "可能相关的文章：", "sources": "参考：",
           "also": "如果不是这个原因，也可能是：",
           "likely": "目前还不能确定是哪一个原因，最可能的是：",
           "next": "最能区分它们的一项信息："},
}


def draft_reply(result: DiagnoseResult) -> str:
    t = TEXT[result.lang]
    if not result.diagnoses:
        likely = result.likely()
        if likely:
            out = [t["likely"] + "\n" + "\n".join(f"- {d.title} (`{d.id}`): {d.confirm}" for d in likely)]
            if (question := result.next_question()) is not None:
                out += [t["next"] + "\n\n- " + question.ask]
        else:
            out = [t["none"]]  # it asks for the error, the config and the environment
        if result.related:
            out += [t["related"]] + [f"- {r.title} (`{r.id}`)" for r in result.related]
        return "\n\n".join(out) + "\n"
    top = result.diagnoses[0]
    out = [t["cause"].format(title=top.title, id=top.id, conf=top.confidence), top.cause]
    lines = sorted({(e.part, e.line, e.text.strip()) for e in top.evidence})[:5]
    if lines:
        out.append(t["lines"] + "\n\n```text\n" + "\n".join(text[:200] for _, _, text in lines) + "\n```")
    out.append(t["fix"] + "\n\n" + "\n".join(f"{i}. {step}" for i, step in enumerate(top.fix.steps, start=1)))
    if top.fix.snippets:
        out.append(t["patch"] + "\n\n" + "\n\n".join(
            f"```{SNIPPET_LANGUAGE.get(target, 'text')}\n{text}\n```" for target, text in top.fix.snippets.items()))
    candidates = [d for d in result.differential if d.status == "candidate"][:3]
    if candidates:
        out.append(t["also"] + "\n" + "\n".join(f"- {d.title} (`{d.id}`): {d.confirm}" for d in candidates))
    if asked := [m for m in result.missing if result.asks(m)][:2]:  # those that still separate the causes
        out.append(t["ask"] + "\n" + "\n".join(f"- {m.ask}" for m in asked))
    out.append(t["sources"] + " " + ", ".join(top.references))
    return "\n\n".join(out) + "\n"
