"""Secret redaction: applied to every line tunedoc echoes (evidence, signals) or stores.

Tokens people paste by accident: Hugging Face, OpenAI-style, GitHub, AWS, W&B, bearer tokens, and the values of
`token:` / `password:` / `api_key:`-like settings. Each is replaced by a marker that keeps its kind, never its value.
"""

from __future__ import annotations

import re

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("hf-token", re.compile(r"\bhf_[A-Za-z0-9]{20,}\b")),
    ("openai-key", re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,}\b")),
    ("github-token", re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}\b")),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    ("aws-secret", re.compile(r"(?i)(aws_secret_access_key\s*[=:]\s*['\"]?)[A-Za-z0-9/+=]{40}")),
    ("wandb-key", re.compile(r"(?i)(wandb[_\-]?api[_\-]?key\s*[=:]\s*['\"]?|wandb login\s+)[a-f0-9]{40}\b")),
    ("bearer", re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._\-~+/]{16,}=*")),
    ("secret-setting", re.compile(
        r"(?i)(\b(?:(?:hf|hub|auth|access|api|github|gh|wandb|secret|bearer|refresh|id)[_\-]?)?(?:token|password|passwd|"
        r"api[_\-]?key|secret(?:[_\-]key)?|access[_\-]key)\b['\"]?\s*[:=]\s*['\"]?)"
        r"(?!\s|$|none\b|null\b|true\b|false\b|\$\{)[^\s'\",}]{6,}"
    )),
]


def redact(text: str) -> str:
    if not text:
        return text
    for kind, pattern in _PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m, k=kind: f"{m.group(1)}[REDACTED:{k}]", text)
        else:
            text = pattern.sub(f"[REDACTED:{kind}]", text)
    return text
