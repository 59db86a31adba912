"""Render a DiagnoseResult as Markdown for people (the CLI and the chat share it)."""

from __future__ import annotations

import json

import yaml

from service.models import DiagnoseResult

_LABELS = {
    "en": {"none": "No diagnosis: nothing in the input supports a known cause.", "evidence": "Evidence",
           "fix": "Fix", "patch": "Config patch", "diff": "Could also be", "missing": "To tell them apart, paste",
           "related": "Related articles", "refs": "References", "confidence": "confidence",
           "ruled_out": "ruled out", "candidate": "possible", "no_evidence": "no evidence yet"},
    "zh": {"none": "未能诊断：输入中没有证据支持任何已知原因。", "evidence": "证据", "fix": "解决方法",
           "patch": "配置补丁", "diff": "也可能是", "missing": "为了区分，请贴出", "related": "相关文章",
           "refs": "参考", "confidence": "置信度", "ruled_out": "已排除", "candidate": "可能",
           "no_evidence": "暂无证据"},
}


def patch_snippet(target: str, patch: dict) -> str:
    if target == "deepspeed-config":
        return "```json\n" + json.dumps(patch, indent=2, sort_keys=True) + "\n```"
    if target == "env":
        return "```bash\n" + "\n".join(f"export {k}={v}" for k, v in sorted(patch.items())) + "\n```"
    return "```yaml\n" + yaml.safe_dump(patch, sort_keys=True, allow_unicode=True).strip() + "\n```"


def render_markdown(result: DiagnoseResult) -> str:
    t = _LABELS[result.lang]
    out: list[str] = []
    if not result.diagnoses:
        out.append(f"**{t['none']}**")
    for rank, d in enumerate(result.diagnoses, start=1):
        out.append(f"## {rank}. {d.title}  \n`{d.id}` · {t['confidence']} {d.confidence:.2f}")
        out.append(d.cause)
        out.append(f"**{t['evidence']}**")
        out += [f"- {e.part}:{e.line} `{e.text.strip()[:200]}` ({e.signal})" for e in d.evidence[:8]]
        out.append(f"**{t['fix']}**")
        out += [f"{i}. {step}" for i, step in enumerate(d.fix.steps, start=1)]
        if d.fix.patch:
            out.append(f"**{t['patch']}**")
            out += [f"{target}:\n{patch_snippet(target, patch)}" for target, patch in sorted(d.fix.patch.items())]
        out.append(f"**{t['refs']}**: " + ", ".join(d.references))
    if result.differential:
        out.append(f"### {t['diff']}")
        for item in result.differential:
            line = f"- **{item.title}** (`{item.id}`, {t[item.status]}): {item.confirm}"
            if item.reason:
                line += f" — {item.reason}"
            out.append(line)
    if result.missing:
        out.append(f"### {t['missing']}")
        out += [f"- {m.ask}" for m in result.missing]
    if result.related:
        out.append(f"### {t['related']}")
        out += [f"- {r.title} (`{r.id}`)" for r in result.related]
    for note in result.notes:
        out.append(f"> {note}")
    return "\n\n".join(out) + "\n"
