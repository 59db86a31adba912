"""Settings stated in a sentence rather than a config: "cutoff_len设置为1024", "save_only_model为true",
"overlap_comm开着", "开启了gradient_checkpointing", "with save_only_model set to true".

Chinese users describe their run this way far more often than they paste the YAML. Only snake_case keys
(`a_b`) are read: they are config names, not words, so a sentence's ordinary words never become settings (bf16,
the learning rate and the model have readings of their own). A statement is skipped where its clause negates it
("没有设置…", "not set"), makes it conditional ("如果…", "if …") or reports it as the change or the advice ("改成…后
正常", "try …"): that is not how the failing run was set. Facts read here have the source `prose` and come before
every config fact, so a pasted config always wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from service.models import Fact, Line
from service.text import NEGATED_OR_CONDITIONAL, clause

# Lower case, as config names are (not `Wed_Nov_22`); not the right side of a comparison (`pad_token == eos_token:
# True`); not a file name (`adapter_model.safetensors`).
_KEY = r"(?<![A-Za-z0-9_.\-/=])(?<!=\s)([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![A-Za-z0-9_\-/]|\.[A-Za-z0-9])"
_VALUE = r"(true|false|True|False|TRUE|FALSE|[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[A-Za-z][A-Za-z0-9_.\-/]*)"
# key, a connector, a value that ends at the first non-ASCII-word character (Chinese, space, punctuation).
_STATED = re.compile(
    _KEY + r"\s*(?:(?:设置为|设置成|设为|设成|配置为|配置成)了?|设置的是|设置了|设置|设的是|设的|配置的是|为|是|"
    r"用的是|用的|写的是|写的|写成了?|写了|填的是|填的|填了|"
    r"[:：]|(?:is |was )?set to|(is|was))\s*`?" + _VALUE + r"`?(?![A-Za-z0-9_.\-/])"
)
# "I set save_only_model to true", "把 cutoff_len 设成 4096" (the verb before the key).
_SET_TO = re.compile(r"(?i)(?:\bset|设置?|把)\s*" + _KEY + r"\s*(?:to|(?:为|成|设为|设成|设置为|设置成)了?)\s*`?"
                     + _VALUE + r"`?(?![A-Za-z0-9_.\-/])")
# "with overlap_comm true and contiguous_gradients true": a boolean right after the key, no connector.
_BARE_BOOL = re.compile(_KEY + r"[ \t]+`?(true|false|True|False|TRUE|FALSE)`?(?![A-Za-z0-9_])")
_ON = re.compile(_KEY + r"\s*(?:是)?(开着|开启了?|打开了?|启用了?|开了|enabled|turned on)(?![A-Za-z])|"
                 r"(?:开启了?|打开了?|启用了?|开了|开着|enabled|turned on)\s*" + _KEY)
_OFF = re.compile(_KEY + r"\s*(?:是)?(关着|关闭了?|关掉了?|关了|禁用了?|没开|disabled|turned off)(?![A-Za-z])|"
                  r"(?:关闭了?|关掉了?|关了|关着|禁用了?|disabled|turned off)\s*" + _KEY)
# Before the key in its clause: a negation or a condition (NEGATED_OR_CONDITIONAL). Anywhere in the clause:
# advice, the change that made it work ("改成 … 后正常", "try …"), or a change and what followed it ("关掉 … 以后就
# …", "after disabling …"), whichever way it went. None of these is how the failing run was set.
# "X instead of Y" says X was used; "use X instead" advises it.
CHANGE_OR_ADVICE = re.compile(
    r"(?i)建议|推荐|试试|尝试|应该|需要|改成|改为|换成|调成|调到|调小|调大|去掉|正常|解决|好了|(?:以后|之后|后)(?:就|便|才)|"
    r"(?<![a-z])(should|try|tried|recommend\w*|suggest\w*|instead(?!\s+of\b)|chang\w*|switch\w*|fix\w*|solv\w*|"
    r"works?|worked|after\s+(?:i\s+|we\s+)?(?:disabl|enabl|turn|sett|remov|add)\w*)(?![a-z])"
)
# A sentence states a few settings; a line of hundreds is machine output, and each costs a clause search.
MAX_PER_LINE = 16
# Words a value slot can catch that are not values ("cutoff_len: too small", "grad_norm为nan" is a metric).
_NOT_VALUES = {"nan", "inf", "too", "a", "an", "the", "not", "very", "set", "also", "still", "only", "just", "same",
               "different"}


def _scalar(raw: str) -> object:
    """A value as a sentence states it. Not parse.scalar: in prose "no" and "on" are words ("save_only_model is no
    longer used"), not YAML booleans."""
    low = raw.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if low in ("none", "null"):
        return None
    try:
        return int(raw) if re.fullmatch(r"[-+]?\d+", raw) else float(raw)
    except ValueError:
        return raw


def prose_facts(line: Line) -> Iterable[Fact]:
    """The settings one prose line states for the run, as facts (source `prose`)."""
    text = line.text
    if "_" not in text or text.lstrip().startswith("#"):  # every key has one; `# key: value` is commented out
        return
    found: list[tuple[int, str, object]] = []
    for match in _STATED.finditer(text):
        key, verb, raw = match.group(1), match.group(2), match.group(3)
        value = _scalar(raw)
        # "X is Y" in English prose says a setting only with a number or a boolean ("eos_token is getting masked").
        if raw.lower() not in _NOT_VALUES and not (verb and isinstance(value, str)):
            found.append((match.start(), key, value))
    for match in _SET_TO.finditer(text):
        if match.group(2).lower() not in _NOT_VALUES:
            found.append((match.start(), match.group(1), _scalar(match.group(2))))
    for match in _BARE_BOOL.finditer(text):
        found.append((match.start(), match.group(1), match.group(2).lower() == "true"))
    for pattern, value in ((_ON, True), (_OFF, False)):
        for match in pattern.finditer(text):
            key = match.group(1) or match.group(3)
            found.append((match.start(), key, value))
    seen: set[str] = set()
    for start, key, value in sorted(found, key=lambda f: f[0])[:MAX_PER_LINE]:
        low = key.lower()
        whole = clause(text, start, start + len(key))
        before = whole[:whole.find(key)]
        if low in seen or NEGATED_OR_CONDITIONAL.search(before) or CHANGE_OR_ADVICE.search(whole):
            continue
        seen.add(low)
        yield Fact(low, low, value, line, "prose")
