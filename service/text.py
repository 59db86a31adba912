"""Turn raw pasted bytes or text into numbered lines the rest of the pipeline can trust.

Line numbers follow what an editor shows: `\\r\\n`, lone `\\r` (tqdm frames) and `\\n` each end a line. ANSI
escape sequences are stripped before matching; they never shift a line number because they never hold a newline.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# CSI sequences (colours, cursor moves), OSC sequences (window titles, hyperlinks) and lone escapes.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_NEWLINE = re.compile(r"\r\n|\r|\n")
# Control characters other than tab are noise in a log and can confuse downstream parsers.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Matching looks at this many characters of a line at most: a 50 MB single line must not cost 50 MB per regex.
MAX_LINE_CHARS = 4096


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    note: str | None = None  # said to the user when something could not be decoded cleanly


def decode_bytes(data: bytes) -> Decoded:
    """Decode what can be decoded: UTF-8 (with or without BOM), UTF-16 with BOM, GB18030; say what could not."""
    if data.startswith(codecs.BOM_UTF8):
        return Decoded(data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace"), "utf-8-sig")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Decoded(data.decode("utf-16", errors="replace"), "utf-16")
    try:
        return Decoded(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return Decoded(data.decode("gb18030"), "gb18030")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
        return Decoded(text, "utf-8", note=f"{bad} byte sequence(s) were not valid UTF-8 or GB18030 and were replaced")


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def valid_unicode(text: str) -> str:
    """Lone surrogates (JSON allows `"\\ud800"`) cannot be encoded as UTF-8 anywhere downstream: replace them."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


_LINE_END = re.compile(r"\r?\n")


def numbered_frames(text: str) -> list[tuple[int, str]]:
    """(line number, text) like `grep -n` counts lines: `\n` and `\r\n` end a line, a bare `\r` does not. A line
    with bare `\r` (a progress bar redrawn in place) yields each of its frames under the line's one number, so the
    rules still see every frame and the evidence points at the line an editor shows."""
    if not text:
        return []
    if "\r" not in text and not _CONTROL.search(text):
        # The common paste: nothing for clean_line to remove (ANSI escapes start with a control character), so
        # each line is only cut to MAX_LINE_CHARS; one C pass over the text instead of a regex call per line.
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        return [(number, line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS])
                for number, line in enumerate(lines, start=1)]
    lines = _LINE_END.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    out: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if "\r" in line:
            frames = [f for f in line.split("\r") if f.strip()] or [""]
            out.extend((number, clean_line(f)) for f in frames)
        else:
            out.append((number, clean_line(line)))
    return out


def split_lines(text: str) -> list[str]:
    """Split like an editor does and clean each line for matching (ANSI and control characters removed)."""
    if not text:
        return []
    lines = _NEWLINE.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return [clean_line(line) for line in lines]


def clean_line(line: str) -> str:
    if "\x1b" in line:
        line = _ANSI.sub("", line)
    line = _CONTROL.sub("", line)
    if len(line) > MAX_LINE_CHARS:
        line = line[:MAX_LINE_CHARS]
    return line


_CJK = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")


def cjk_count(text: str) -> int:
    return len(_CJK.findall(text))


def detect_lang(lines: list[str]) -> str:
    """`zh` when Chinese prose is present: a Chinese title or a handful of CJK characters; else `en`."""
    head = lines[0] if lines else ""
    if cjk_count(head) >= 2:
        return "zh"
    total = sum(cjk_count(line) for line in lines[:400])
    return "zh" if total >= 8 else "en"


# The case base's reports are digests written in the third person ("the reporter asks whether ...", "用户询问 ...");
# a paste is written in the first person. Words that narrate who said what would teach retrieval and the classifiers
# the digests' style (they were the lexical classifier's strongest out-of-scope terms) and never occur in a paste.
_NARRATION = re.compile(
    r"(?i)\b(?:the|a|an|another|other|one|some|several|many)\s+(?:reporters?|users?|posters?|authors?|commenters?)\b|"
    r"\breporters?\b|\b(?:asks?|asked|asking|wonders?|wondering|wants\s+to\s+know)\b|"
    r"报告者|报告人|提问者|楼主|用户|询问")


def strip_narration(text: str) -> str:
    """The text without the words that narrate who reported or asked."""
    return _NARRATION.sub(" ", text)


# Issue forms put a checklist at the top of every report ("- [x] I have read the README and searched the existing
# issues", "- [ ] My own modified scripts") and the same section headings in every report ("### System Info",
# "### Reproduction", "### Expected behavior", "### Others"): a quarter of the dev reports carry them, whatever
# their cause, and no case of the case base does. The lexical classifier had learned weights for those words from
# the digests ("existing" leaned to out of scope, "system" to the template causes, "expected" to benign warnings).
# Retrieval and the lexical classifier read the paste without those lines. Only the forms' fixed headings go: a
# heading of the reporter's own (or `### Feature request`, which says what the report is) stays.
TEMPLATE_CHECKBOX = re.compile(r"^[ \t]*[-*+][ \t]+\[[ xX]\](?:[ \t].*)?$", re.MULTILINE)
_FORM_HEADING = re.compile(
    r"^[ \t]*#{1,6}[ \t]*(?:Reminder|System Info(?:rmation)?|Reproduction|Steps to reproduce|Expected behaviou?r|"
    r"Others|Who can help\??|Information|Tasks|Environment|Additional context|Checklist)[ \t]*:?[ \t]*$",
    re.MULTILINE | re.IGNORECASE)


def is_template_checkbox(line: str) -> bool:
    return TEMPLATE_CHECKBOX.match(line) is not None


# A code fence's language tag ("```python", "```bash") says how the reporter formatted the paste, not what failed;
# "python" is also a word the lexical classifier reads as evidence (a `python train.py` launch on several GPUs).
_FENCE_TAG = re.compile(r"^([ \t]*(?:```|~~~))[ \t]*[\w+.-]+[ \t]*$", re.MULTILINE)


# An environment listing (`llamafactory-cli env`, `transformers-cli env`: "- DeepSpeed version: 0.15.1", one line per
# installed package) names a dozen packages whatever failed; a case names only the versions that matter to its cause,
# so to the lexical classifier "deepspeed", "bitsandbytes" or "vllm" are evidence. The versions still reach the rules
# through the signals (service/signals/environment.py).
_VERSION_LISTING = re.compile(r"^[ \t]*[-*][ \t]*`?[A-Za-z][\w .-]{0,30}?`?[ \t]+version[ \t]*:.*$",
                              re.MULTILINE | re.IGNORECASE)


# A pasted screenshot (GitHub writes `![image](https://github.com/user-attachments/...)` or an `<img>` tag) shows
# something no text classifier can read; its alt text "image" is, to a classifier fitted on the case base, strong
# evidence for the multimodal causes.
_PASTED_IMAGE = re.compile(r"!\[[^\]\n]{0,200}\]\([^)\s]{1,500}\)|<img\b[^>\n]{0,1000}>", re.IGNORECASE)


def strip_pasted_images(text: str) -> str:
    return _PASTED_IMAGE.sub(" ", text)


def strip_issue_form(text: str) -> str:
    """The text without issue-form checklist lines, fixed section headings, code fences' language tags and
    environment listings' version lines, and pasted screenshots."""
    text = strip_pasted_images(text)
    for noise_line in (_VERSION_LISTING, TEMPLATE_CHECKBOX, _FORM_HEADING):
        text = noise_line.sub("", text)
    return _FENCE_TAG.sub(r"\1", text)


# A clause: a Chinese paragraph is often one line, and "换了几次数据" (changed the data) three clauses after "开了
# bf16" says nothing about the precision. Whether a setting is advice or the run's own is read in its clause.
_CLAUSE_END = re.compile(r"[，。；！？;!?]|[,.](?=\s|$)")


def clause(text: str, start: int, end: int) -> str:
    """The clause of `text` that holds text[start:end]."""
    left = max((m.end() for m in _CLAUSE_END.finditer(text, 0, start)), default=0)
    right = _CLAUSE_END.search(text, end)
    return text[left:right.start() if right else len(text)]


# Words that, before a term in its clause, negate it or make it a condition: "没有设置 …", "如果 …", "no torchrun".
NEGATED_OR_CONDITIONAL = re.compile(
    r"(?i)没有|没|未|不|别|无需|无论|是否|如果|假如|若|"
    r"(?<![a-z])(not|no|never|without|if|when|whether|don't|didn't|doesn't)(?![a-z])"
)


def negated_before(text: str, start: int, end: int) -> bool:
    """Whether the clause holding text[start:end] negates or conditions it before it starts."""
    left = max((m.end() for m in _CLAUSE_END.finditer(text, 0, start)), default=0)
    return NEGATED_OR_CONDITIONAL.search(text, left, start) is not None
