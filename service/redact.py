"""Secret redaction: applied to every line tunedoc echoes (evidence, signals) and every paste it stores (chat history,
triage rows, draft replies, reports).

`redact(text)` takes one line or a whole paste and returns it with each secret value replaced by
`[REDACTED:<kind>]` (the kind is kept, never the value; everything around the value is left as it was):

- tokens with a vendor shape, wherever they are: Hugging Face, OpenAI/Anthropic, GitHub, GitLab, AWS key ids, Slack
  (`xoxb-`, `xoxp-`, `xapp-`, webhooks), Google API keys, npm/PyPI tokens, JWTs and base64-encoded JSON tokens
  (Neptune);
- credentials in URLs (`scheme://user:password@host`, a long token as the user name) and secret query parameters
  (`?token=`, `&access_token=`, `api_key=`, `X-Amz-Signature=`...);
- `Authorization:` headers (Basic, Bearer, token), `Bearer <token>`, `curl -u user:password`, netrc lines;
- the value of any setting whose name says it is a secret, in every syntax a paste uses: env (`export X=v`, `X=v`),
  CLI flags (`--hub_token v`, `--token=v`), YAML (`x: v`, quoted, or an unquoted value with spaces at the start of a
  line), JSON (`"x": "v"`, camelCase names too), Python keywords (`token="v"`) and dict reprs. A name is a secret
  when it ends in `password`/`passwd`/`passphrase`/`secret`/`credential(s)`, in `<api|access|secret|private|...>_key`,
  in a vendor prefix + `_KEY`/`_TOKEN` (COMET_, SWANLAB_, NEPTUNE_, SLACK_, MODELSCOPE_, WANDB_...), in `token`
  after a prefix that makes it a credential (`hub_token`, `HUGGING_FACE_HUB_TOKEN`, `use_auth_token`...), or is an
  upper-case env variable ending in `_TOKEN`; never for tokenizer settings (`pad_token`, `eos_token_id`,
  `max_new_tokens`). Placeholders are left alone: `null`, booleans, `${VAR}`, `$VAR`, `<HUB_TOKEN>`,
  `os.environ[...]`, `args.token`;
- prose: `my token is <v>`, `the password is "<v>"`, `我的密码是 <v>` (an unquoted value must look like a
  real one: 8+ characters with a letter and a digit);
- wandb keys (40 hex) on lines that talk about wandb, API keys or netrc files;
- private keys: a `-----BEGIN ... PRIVATE KEY-----` block's body, on one line or many (every line up to the END line,
  or to the end of the text when it was cut). Callers that redact one line at a time (evidence, signals) never see
  the BEGIN line, so a line that is nothing but high-entropy base64 is redacted too: 60+ characters (a PEM body
  line), or 16+ ending in `=` padding (a body's last line). A last line without padding and shorter than 60 is
  caught only when the whole text is redacted. One function serves both uses: whole pastes (chat history, triage
  rows) go through the same redact(), which sees their BEGIN/END lines.

Why hand-written rules and not detect-secrets (Yelp, 1.5.0): measured by tests/security/measure_redaction.py on the
corpus in tests/security/secrets_corpus.py. Recall: share of the 211 secret entries (every family above, in env,
CLI-flag, YAML, JSON, URL and prose forms) with every value gone and no 8-character piece of it left. False
positives: benign lines changed, out of 3,297 (the corpus's ordinary log/config lines, every KB fixture line, every
line of the shared dev cases). Speed: one call per line over those lines plus the secret entries, two runs on a
busy 2-core machine (on the benign lines alone, best of 5: 5 µs for this module, 9 µs for the previous one).

| redactor                                         | recall      | false positives | µs/line |
| ------------------------------------------------ | ----------- | --------------- | ------- |
| previous hand-written regexes (Python re)        | 48 % (101)  | 5               | 10-16   |
| detect-secrets 1.5.0, default plugins + filters  | 42 % (89)   | 2               | 255     |
| previous + detect-secrets                        | 68 % (144)  | 7               | 275-310 |
| this module (RE2)                                | 100 % (211) | 0               | 8       |

detect-secrets is run as `detect-secrets scan` runs it on a file, and credited with the whole word around each value
it reports. It is built to flag secrets in source files for review, not to find the value in a log line: no
ModelScope tokens (0/12), no PEM bodies (it reports the BEGIN line; 0/6), no `Authorization: Basic` (0/4), few HF
tokens outside a `key = "value"` shape (10/27), few Comet/SwanLab/Neptune/W&B keys or passwords; it flags a
documentation placeholder (`postgresql://user:password@host`) and a quoted sha1 in a dev case; its ad-hoc
`scan_line` mode reports nearly every line (entropy unchecked). At ~0.25 ms a line it would also dominate diagnose
time on a large log. So it is not a dependency.

Speed and safety: every pattern is RE2 (linear time whatever the input, no backtracking); one RE2 search over the
lower-cased text decides whether any rule can apply (most log lines stop there), and each rule runs only when one of
its literal needles is present. tests/security/test_redaction_corpus.py bounds the time on adversarial 100 KB inputs
and checks that doubling an input at most about doubles it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import re2

MARKER = "[REDACTED:{}]"

# ---------------------------------------------------------------- which setting names hold secrets

_SECRET_LAST = {"password", "passwd", "passphrase", "secret", "credential", "credentials", "apikey", "secretkey",
                "accesskey", "privatekey", "jwt", "auth"}
_PASSWORD_LAST = {"password", "passwd", "passphrase"}
_KEY_PREFIX = {"api", "access", "secret", "private", "auth", "signing", "license", "encryption", "master", "account",
               "admin", "service", "client", "write", "read", "deploy", "session", "subscription", "app", "rest",
               "ingest", "ingestion", "upload"}
_TOKEN_PREFIX = {"hf", "hub", "huggingface", "auth", "access", "api", "github", "gh", "git", "gitlab", "wandb",
                 "secret", "bearer", "refresh", "id", "session", "modelscope", "ms", "neptune", "comet", "swanlab",
                 "slack", "bot", "app", "user", "oauth", "personal", "private", "npm", "pypi", "openai", "write",
                 "read", "upload", "deploy", "ci", "job", "service", "client", "jwt", "security", "sas", "csrf",
                 "xsrf", "login", "webhook", "cloud", "registry", "docker", "kaggle", "dashscope", "mlflow",
                 "clearml", "replicate", "together", "groq", "anthropic", "cohere", "mistral", "deepseek", "zhipu"}
_VENDORS = {"comet", "swanlab", "neptune", "wandb", "openai", "anthropic", "hf", "huggingface", "modelscope",
            "dashscope", "slack", "mlflow", "clearml", "cohere", "mistral", "groq", "together", "replicate",
            "deepseek", "zhipu", "moonshot", "qianfan", "kaggle", "gemini", "google", "azure", "aws"}
# query parameters: these whole names, or names ending in these words, or key_kind() names
_QUERY_NAMES = {"token", "key", "apikey", "sig", "signature", "secret", "password", "passwd", "pwd", "auth", "jwt",
                "code", "session", "sessionid", "sid", "credential"}
_QUERY_LAST = {"token", "signature", "secret", "password", "passwd", "credential", "apikey", "sig"}
_SEPARATORS = str.maketrans({c: " " for c in "_-.'\"`"})


def _parts(name: str) -> list[str]:
    """`HUGGING_FACE_HUB_TOKEN`, `--hub-token`, `"accessToken"` -> lower-case words."""
    if not name.isupper() and not name.islower():  # camelCase: a space before each upper after a lower or digit
        chars, prev = [], ""
        for ch in name:
            if ch.isupper() and (prev.islower() or prev.isdigit()):
                chars.append(" ")
            chars.append(ch)
            prev = ch
        name = "".join(chars)
    return name.lower().translate(_SEPARATORS).split()


def key_kind(name: str) -> str | None:
    """The marker kind for a setting named `name` (env variable, flag, YAML/JSON key), or None if it is no secret."""
    parts = _parts(name)
    if not parts:
        return None
    last, prev = parts[-1], (parts[-2] if len(parts) > 1 else "")
    if "aws" in parts and last == "key" and prev in ("secret", "access"):
        return "aws-secret"
    if "wandb" in parts and last in ("key", "apikey", "token"):
        return "wandb-key"
    if last in _PASSWORD_LAST:
        return "password"
    if last in _SECRET_LAST:
        return "secret-setting"
    if last == "key" and (prev in _KEY_PREFIX or parts[0] in _VENDORS and len(parts) > 1):
        return "secret-setting"
    if last == "token":
        bare = name.strip("-'\" ")
        if len(parts) == 1 or prev in _TOKEN_PREFIX or parts[0] in _VENDORS or bare.isupper():
            return "secret-setting"
    return None


def _query_kind(name: str) -> str | None:
    parts = _parts(name)
    if name.lower() in _QUERY_NAMES or parts and parts[-1] in _QUERY_LAST or key_kind(name):
        return "url-token"
    return None


# ---------------------------------------------------------------- which values are real (not placeholders)

_SKIP_WORDS = {"none", "null", "nil", "true", "false", "yes", "no", "on", "off", "auto", "required", "optional",
               "empty", "unset", "hidden", "masked", "redacted", "secret", "password", "token", "string", "str",
               "xxx", "your_token", "your-token", "your_api_key", "changeme"}
_MARKER_ONLY = re2.compile(r"^(?:\s|\[REDACTED:[a-z0-9-]+\]|[^A-Za-z0-9])*$")
_IDENTIFIER = re2.compile(r"^[a-z][a-z0-9]*(?:[._][a-z][a-z0-9]*)+$")  # hf_token, args.hub_token


def _unquote(value: str) -> tuple[str, bool]:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1], True
    return value, False


def _is_placeholder(inner: str, quoted: bool, kind: str) -> bool:
    s = inner.strip()
    low = s.lower()
    if not s or low in _SKIP_WORDS or _MARKER_ONLY.match(s):
        return True
    if s[0] in "${" or low.startswith(("%(", "os.environ", "os.getenv", "getpass", "env(", "env.")):
        return True  # $VAR, ${VAR}, {token}, {{ secrets.X }}, code
    if s[0] in "<[" and s[-1] in ">]" or s[0] == "<":
        return True  # <HUB_TOKEN>, <your token>, [PAD], <image>
    if set(s) <= set("*xX•.-_#"):
        return True  # masked
    if quoted:
        return len(s) < (1 if kind == "password" else 3)
    if "(" in s or _IDENTIFIER.match(s) and (len(s) <= 16 or not any(c.isdigit() for c in s)):
        return True  # code: login(token=hf_token), token=args.hub_token (not a long key like ak_live_f8e...)
    if kind == "password":
        return len(s) < 3
    return len(s) < 6 or s.isdigit()


def _credential_like(value: str) -> bool:
    """For values with no setting name to vouch for them (prose): 8+ characters with a letter and a digit."""
    return len(value) >= 8 and any(c.isdigit() for c in value) and any(c.isascii() and c.isalpha() for c in value)


# ---------------------------------------------------------------- rules

Match = Any  # an re2 match (re2 exports no public type for it)


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re2._Regexp
    needles: tuple[str, ...]  # the pattern can only match if one of these is in text.lower()
    replace: Callable[[Match], str] | None = None  # None: the group `v` (or the whole match) becomes the marker
    also: Callable[[str], bool] | None = None  # a further cheap precondition on the text


def _swap(m: Match, marker: str, group: str = "v") -> str:
    """The match with group `group` replaced by `marker`."""
    index = m.re.groupindex[group]
    start, end = m.span(index)
    origin = m.start()
    whole = m.group()
    return whole[:start - origin] + marker + whole[end - origin:]


def _value_rule(kind_of: Callable[[Match], str | None], *, prose: bool = False) -> Callable[[Match], str]:
    """Replace group `v` (quotes kept) when kind_of(match) names a kind and the value is not a placeholder."""
    def replace(m: Match) -> str:
        kind = kind_of(m)
        if kind is None:
            return m.group()
        inner, quoted = _unquote(m.group("v"))
        if prose and not quoted:
            inner = inner.rstrip(".,!?:")
            if not _credential_like(inner):
                return m.group()
        if _is_placeholder(inner, quoted, kind):
            return m.group()
        marker = MARKER.format(kind)
        index = m.re.groupindex["v"]
        start, end = m.span(index)
        value = m.group("v")
        lead = value.index(inner) if inner else 0
        origin = m.start()
        whole = m.group()
        return whole[:start - origin + lead] + marker + whole[start - origin + lead + len(inner):]
    return replace


def _prose_kind(m: Match) -> str:
    word = m.group("k") or m.group("zh")
    return "password" if word.lower().startswith("passw") or word in ("密码", "口令") else "secret"


def _keyed(group: str = "k") -> Callable[[Match], str | None]:
    return lambda m: key_kind(m.group(group))


_NAME = r"[A-Za-z0-9_.\-]*(?i:token|passw|passphrase|secret|key|credential|auth|jwt)[A-Za-z0-9_.\-]*"
_FLAG_NAME = r"[A-Za-z0-9_\-]*(?i:token|passw|passphrase|secret|key|credential|auth|jwt)[A-Za-z0-9_\-]*"
_VALUE = r"(?P<v>\"[^\"\n]*\"|'[^'\n]*'|[^\s'\"`,;)}\]>\[，。；！？、（）“”]+)"  # quoted, or up to a delimiter
_KEY_WORDS = ("token", "passw", "passphrase", "secret", "key", "credential", "auth", "jwt")
_PEM_HEAD = r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
_PEM_TAIL = r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"


def _pem_inline(m: Match) -> str:
    return m.group() if not m.group("v").strip() else _swap(m, MARKER.format("private-key"))


def _placeholder_or(kind: str) -> Callable[[Match], str]:
    """Replace group `v` unless it is a placeholder (`$TOKEN`, `password`, `<key>`)."""
    def replace(m: Match) -> str:
        value = m.group("v")
        return m.group() if _is_placeholder(value, False, "password") else _swap(m, MARKER.format(kind))
    return replace


def _netrc(m: Match) -> str:
    return _swap(m, MARKER.format("password")) if _credential_like(m.group("v")) else m.group()


_AUTH_SCHEMES = {"basic", "bearer", "token", "digest", "apikey", "api-key", "sso-key", "header", "headers"}


def _authorization(m: Match) -> str:
    value = m.group("v")
    if len(value) < 6 or value.lower() in _AUTH_SCHEMES or _is_placeholder(value, False, "password"):
        return m.group()
    scheme = (m.group("scheme") or "").lower()
    return _swap(m, MARKER.format("basic-auth" if scheme.startswith("basic") else "authorization"))


_HEX40 = re2.compile(r"\b(?:local-)?[0-9a-f]{40}\b")


def _wandb_line(m: Match) -> str:
    """A line about wandb, API keys or netrc files: its 40-hex words are keys (elsewhere they are commit hashes)."""
    return _HEX40.sub(MARKER.format("wandb-key"), m.group())


_RULES: list[_Rule] = [
    # private key on one line (JSON with \n escapes, or pasted without newlines): everything after the header
    _Rule("private-key", re2.compile(rf"(?m){_PEM_HEAD}(?P<v>.*?)(?:{_PEM_TAIL}|$)"),
          ("private key",), _pem_inline),
    # vendor-shaped tokens, anywhere
    _Rule("hf-token", re2.compile(r"\b(?:hf_[A-Za-z0-9]{20,}|api_org_[A-Za-z0-9]{20,})"), ("hf_", "api_org_")),
    _Rule("openai-key", re2.compile(r"\bsk-(?:proj-|ant-(?:api|admin)\d\d-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"),
          ("sk-",)),
    _Rule("github-token", re2.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})"),
          ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    _Rule("gitlab-token", re2.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}"), ("glpat-",)),
    _Rule("aws-access-key", re2.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA)[A-Z0-9]{16}\b"),
          ("akia", "asia", "abia", "acca", "agpa", "aida", "aipa", "anpa", "anva", "apka", "aroa")),
    _Rule("slack-token", re2.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}|\bxapp-\d-[A-Za-z0-9\-]{10,}"),
          ("xox", "xapp-")),
    _Rule("slack-webhook", re2.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<v>[A-Za-z0-9_/\-]+)"),
          ("hooks.slack.com",)),
    _Rule("google-api-key", re2.compile(r"\bAIza[0-9A-Za-z_\-]{35}"), ("aiza",)),
    _Rule("npm-token", re2.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), ("npm_",)),
    _Rule("pypi-token", re2.compile(r"\bpypi-AgE[A-Za-z0-9_\-]{50,}"), ("pypi-",)),
    _Rule("jwt", re2.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"), ("eyj",)),
    _Rule("encoded-token", re2.compile(r"\beyJ[A-Za-z0-9+/_\-]{36,}={0,2}"), ("eyj",)),
    # URLs: user:password@, a token as the user, secret query parameters
    _Rule("url-password", re2.compile(
        r"\b[A-Za-z][A-Za-z0-9+.\-]{0,20}://[^\s:/?#@\[\]'\"<>]*:(?P<v>[^\s/?#'\"<>]+)@"),
        ("://",), _placeholder_or("url-password"), lambda t: "@" in t),
    _Rule("url-credential", re2.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]{0,20}://(?P<v>[A-Za-z0-9_\-.~%]{20,})@"),
          ("://",), None, lambda t: "@" in t),
    _Rule("url-token", re2.compile(r"[?&](?P<k>[A-Za-z0-9_.\-]{1,64})=(?P<v>[^&#\s'\"<>`]+)"),
          ("?", "&"), _value_rule(lambda m: _query_kind(m.group("k"))), lambda t: "=" in t),
    # HTTP auth
    _Rule("authorization", re2.compile(
        r"(?i)\bauthorization[\"']?[ \t]*[:=][ \t]*[\"']?[ \t]*"
        r"(?P<scheme>(?:basic|bearer|token|digest|apikey|api-key|sso-key)[ \t]+)?(?P<v>[^\s'\"`,;]+)"),
        ("authorization",), _authorization),
    _Rule("bearer", re2.compile(r"(?i)\bbearer[ \t]+(?P<v>[A-Za-z0-9._\-~+/]{16,}=*)"), ("bearer",)),
    _Rule("basic-auth", re2.compile(r"(?:^|[ \t])(?:-u[ \t]*|--user[ \t=]+)[\"']?[^\s:'\"]+:(?P<v>[^\s'\"`,;]+)"),
          ("-u", "--user"), _placeholder_or("basic-auth"), lambda t: ":" in t),
    _Rule("password", re2.compile(r"(?im)(?:^[ \t]*|\blogin[ \t]+\S+[ \t]+)password[ \t]+(?P<v>\S+)"),
          ("password",), _netrc),
    # settings named like secrets: CLI flag with a space, YAML value with spaces, then every `name[:=]value`
    _Rule("secret-setting", re2.compile(rf"(?:^|[ \t])--?(?P<k>{_FLAG_NAME})[ \t]+{_VALUE}"),
          _KEY_WORDS, _value_rule(_keyed()), lambda t: "-" in t),
    _Rule("secret-setting", re2.compile(
        rf"(?m)^[ \t]*(?:-[ \t]+)?[\"']?(?P<k>{_NAME})[\"']?[ \t]*:[ \t]+"
        r"(?P<v>[^\s\"'#\[{][^#\n]*?)[ \t]*(?:[ \t]#.*)?$"),
        _KEY_WORDS, _value_rule(_keyed()), lambda t: ":" in t),
    _Rule("secret-setting", re2.compile(rf"(?P<k>{_NAME})[\"']?[ \t]*[:=][ \t]*{_VALUE}"),
          _KEY_WORDS, _value_rule(_keyed())),
    # prose: "my token is ...", "the password is '...'", "我的密码是 ..."
    _Rule("secret", re2.compile(
        r"(?i)(?:\b(?P<k>token|key|password|passwd|passphrase|secret)(?:[ \t]+(?:is|was)[ \t]*:?|[ \t]*(?:是|为|：))"
        rf"|(?P<zh>密码|口令|令牌|密钥|秘钥)[ \t]*(?:是|为|:|：))[ \t]*{_VALUE}"),
        ("token", "key", "passw", "secret", "密码", "口令", "令牌", "密钥", "秘钥"),
        _value_rule(_prose_kind, prose=True)),
    # wandb keys: 40 hex on a line about wandb / API keys / netrc
    _Rule("wandb-key", re2.compile(r"(?im)^[^\n]*(?:wandb|netrc|api[ _]?key)[^\n]*$"),
          ("wandb", "netrc", "api key", "api_key", "apikey"), _wandb_line, lambda t: len(t) >= 40),
]

_PEM_BEGIN = re2.compile(rf"{_PEM_HEAD}[ \t]*$")  # the header ends its line: the body follows on the next ones
_PEM_END = re2.compile(_PEM_TAIL)
_GATE = re2.compile("|".join(re2.escape(n) for n in sorted({n for rule in _RULES for n in rule.needles})))
_BASE64_LINE = re2.compile(
    r"(?m)^(?P<lead>[ \t]*)(?P<v>[A-Za-z0-9+/]{60,}={0,2}|[A-Za-z0-9+/]{16,59}={1,2})[ \t]*$")


def _entropy(s: str) -> float:
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def _base64_body(m: Match) -> str:
    """A line that is nothing but base64 (60+ characters, or 16+ ending in `=` padding: a body's last line) with
    upper, lower, digits and high entropy: a key body line. Hex digests (at most 4 bits a character), runs of one
    letter and long identifiers do not qualify."""
    v = m.group("v").rstrip("=")
    if (any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() for c in v)
            and _entropy(v) > min(4.5, 0.8 * math.log2(len(v)))):
        return m.group("lead") + MARKER.format("private-key")
    return m.group()


def _redact_pem_blocks(text: str) -> str:
    """Multi-line private keys: every line between a BEGIN ... PRIVATE KEY line and its END line (or the end of the
    text, for a paste cut short) becomes a marker; line count and indentation are kept."""
    lines = text.split("\n")
    inside = False
    for i, line in enumerate(lines):
        if inside:
            if _PEM_END.search(line):
                inside = False
            elif line.strip():
                lines[i] = line[:len(line) - len(line.lstrip())] + MARKER.format("private-key")
        elif _PEM_BEGIN.search(line):
            inside = True
    return "\n".join(lines)


def redact(text: str) -> str:
    """`text` (one line or a whole paste) with every secret value replaced by `[REDACTED:<kind>]`."""
    if not text:
        return text
    low = text.lower()
    if _GATE.search(low):
        if "private key" in low and "\n" in text:
            text = _redact_pem_blocks(text)
        for rule in _RULES:
            if any(n in low for n in rule.needles) and (rule.also is None or rule.also(text)):
                if rule.replace is not None:
                    new = rule.pattern.sub(rule.replace, text)
                elif rule.pattern.groupindex.get("v"):
                    marker = MARKER.format(rule.kind)
                    new = rule.pattern.sub(lambda m, marker=marker: _swap(m, marker), text)
                else:
                    new = rule.pattern.sub(MARKER.format(rule.kind), text)
                if new != text:
                    text, low = new, new.lower()
    if len(text) >= 17 and ("\n" in text or " " not in text.strip()):
        text = _BASE64_LINE.sub(_base64_body, text)
    return text

