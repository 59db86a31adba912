"""`tunedoc triage ... --apply-github owner/repo`: put the triage on the tracker through the GitHub REST API.

For each triaged issue: add the proposed label unless the issue already has it (GET/POST
/repos/{owner}/{repo}/issues/{n}/labels), and post the draft reply as a comment unless tunedoc already commented
(GET/POST /repos/{owner}/{repo}/issues/{n}/comments; a tunedoc comment carries the hidden marker MARKER).

- Dry run by default: it reads the issue's labels and comments when a token is set, and prints what it would do;
  nothing is written without `--yes`.
- Idempotent: a re-run adds no label twice and never posts a second comment.
- The token comes from GITHUB_TOKEN and goes into the Authorization header only: it is never printed, logged or sent
  to another host (pagination links are followed only under the API base).
- The API base is TUNEDOC_GITHUB_API (default https://api.github.com), so tests point it at a local server.
- Writes are spaced by TUNEDOC_GITHUB_WRITE_INTERVAL seconds (default 1, GitHub's advice for content-creating
  requests); a rate-limit answer (429, or 403 with Retry-After or no remaining quota) is waited out up to 60 s.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from service.config import get_settings
from service.errors import InputError, TunedocError
from service.triage.report import clusters, is_number, issue_number

MARKER = "<!-- tunedoc:triage -->"
DEFAULT_API = "https://api.github.com"
REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
MAX_WAIT = 60.0
DUPLICATE_NOTE = {"en": "This may be a duplicate of #{n}.", "zh": "这个问题可能与 #{n} 重复。"}
FOOTER = {"en": "<sub>Drafted by tunedoc from the text of this issue.</sub>",
          "zh": "<sub>由 tunedoc 根据本 issue 的内容自动起草。</sub>"}


class GitHubError(TunedocError):
    """A GitHub answer that stops the run (bad token, no access); the message never holds the token."""


@dataclass
class Planned:
    number: int
    labels: list[str]
    comment: str | None


@dataclass
class ApplySummary:
    send: bool
    labels_added: int = 0
    comments_posted: int = 0
    labels_present: int = 0
    comments_present: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def line(self, repo: str) -> str:
        verb = ("added", "posted") if self.send else ("would add", "would post")
        text = (f"{verb[0]} {self.labels_added} label(s) and {verb[1]} {self.comments_posted} comment(s) on {repo}; "
                f"{self.labels_present} label(s) and {self.comments_present} tunedoc comment(s) already there")
        if self.skipped:
            text += f"; {len(self.skipped)} report(s) skipped"
        if self.failed:
            text += f"; {len(self.failed)} failed"
        return text if self.send else f"dry run: {text}. Nothing was sent: add --yes to apply."


def comment_body(row: dict, rows: dict[str, dict], earliest: str | None = None) -> str:
    """The draft reply, a duplicate note (earliest: the first report of its duplicate cluster) and the marker."""
    lang = "zh" if row.get("lang") == "zh" else "en"
    parts = [(row.get("reply") or "").rstrip()]
    if earliest is not None:
        number = issue_number(earliest, rows.get(earliest, {}).get("url"))
        if number is not None:
            parts.append(DUPLICATE_NOTE[lang].format(n=number))
    parts.append(FOOTER[lang] + "\n" + MARKER)
    return "\n\n".join(p for p in parts if p) + "\n"


def plan(rows: dict[str, dict]) -> tuple[list[Planned], list[str]]:
    """What to put on each issue, in issue-number order; and the reports that cannot be applied."""
    planned, skipped = [], []
    earliest = {rid: c[0] for c in clusters(rows) for rid in c[1:]}
    for rid, row in rows.items():
        number = issue_number(str(rid), row.get("url"))
        if row.get("error"):
            skipped.append(f"{rid}: not triaged ({row['error'][:80]})")
        elif number is None:
            skipped.append(f"{rid}: no issue number (the id is not a number and the URL is not …/issues/N)")
        else:
            label = (row.get("label") or "").strip()
            planned.append(Planned(number, [label] if label else [], comment_body(row, rows, earliest.get(rid))
                                   if row.get("reply") else None))
    planned.sort(key=lambda p: p.number)
    return planned, skipped


class GitHub:
    def __init__(self, repo: str, token: str | None, api: str | None = None, write_interval: float | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        settings = get_settings()
        self.base = (api or settings.github_api or DEFAULT_API).rstrip("/")
        self.repo = repo
        self.write_interval = settings.github_write_interval if write_interval is None else write_interval
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                   "User-Agent": "tunedoc-triage"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.token_set = bool(token)
        self.client = httpx.Client(headers=headers, timeout=30.0, transport=transport, follow_redirects=False)
        self._last_write = 0.0

    def close(self) -> None:
        self.client.close()

    def _url(self, number: int, what: str) -> str:
        return f"{self.base}/repos/{self.repo}/issues/{number}/{what}"

    def _request(self, method: str, url: str, **kwargs) -> httpx.Response:  # noqa: ANN003 - httpx keywords
        if not url.startswith(self.base + "/"):
            raise GitHubError(f"refusing to follow a link outside {self.base}")
        if method != "GET":
            wait = self._last_write + self.write_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        for _ in range(3):
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                raise GitHubError(f"{method} {url.removeprefix(self.base)}: {type(exc).__name__}") from None
            if method != "GET":
                self._last_write = time.monotonic()
            pause = self._rate_limit_wait(response)
            if pause is None:
                return response
            time.sleep(pause)
        return response

    @staticmethod
    def _rate_limit_wait(response: httpx.Response) -> float | None:
        limited = response.status_code == 429 or (response.status_code == 403 and (
            "retry-after" in response.headers or response.headers.get("x-ratelimit-remaining") == "0"))
        if not limited:
            return None
        if "retry-after" in response.headers:
            retry_after = response.headers["retry-after"]
            wait = float(retry_after) if is_number(retry_after) else MAX_WAIT
        else:
            reset = response.headers.get("x-ratelimit-reset", "")
            wait = float(reset) - time.time() if is_number(reset) else MAX_WAIT
        if wait > MAX_WAIT:
            raise GitHubError(f"rate-limited by {response.request.url.host} for {wait:.0f} s; run again later "
                              "(the run is idempotent)")
        return max(0.0, wait)

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.is_success:
            return
        try:
            message = str(response.json().get("message", ""))[:200]
        except ValueError:
            message = response.text[:200]
        text = f"{what}: HTTP {response.status_code} {message}".rstrip()
        if response.status_code in (401, 403):
            raise GitHubError(text + (" (check GITHUB_TOKEN and its access to the repository)"))
        raise _IssueError(text)

    def _all(self, number: int, what: str) -> list[dict]:
        url: str | None = self._url(number, what) + "?per_page=100"
        items: list[dict] = []
        while url:
            response = self._request("GET", url)
            self._check(response, f"#{number} GET {what}")
            items += response.json()
            url = response.links.get("next", {}).get("url")
        return items

    def labels(self, number: int) -> list[str]:
        return [str(item.get("name", "")) for item in self._all(number, "labels")]

    def has_comment(self, number: int) -> bool:
        return any(MARKER in (item.get("body") or "") for item in self._all(number, "comments"))

    def add_labels(self, number: int, labels: list[str]) -> None:
        self._check(self._request("POST", self._url(number, "labels"), json={"labels": labels}),
                    f"#{number} POST labels")

    def comment(self, number: int, body: str) -> None:
        self._check(self._request("POST", self._url(number, "comments"), json={"body": body}),
                    f"#{number} POST comment")


class _IssueError(Exception):
    """A failure on one issue (404, 410, 422): reported, and the run goes on with the next issue."""


def apply_github(rows: dict[str, dict], repo: str, *, send: bool, token: str | None = None,
                 api: str | None = None, write_interval: float | None = None,
                 echo: Callable[[str], None] = print) -> ApplySummary:
    """Apply (or with send=False, show) labels and draft replies. rows: report id -> summary (run.summarize)."""
    if not REPO.fullmatch(repo):
        raise InputError(f"--apply-github: expected owner/repo, got {repo!r}")
    if send and not token:
        raise InputError("--apply-github --yes needs a token in GITHUB_TOKEN (a fine-grained token with "
                         "Issues: read and write on the repository)")
    planned, skipped = plan(rows)
    summary = ApplySummary(send=send, skipped=skipped)
    github = GitHub(repo, token, api, write_interval)
    read = bool(token)
    if not send:
        echo(f"dry run on {repo}: nothing is sent (add --yes to apply)"
             + ("" if read else "; GITHUB_TOKEN is not set, so the issues' current labels and comments are not read"))
    try:
        for item in planned:
            try:
                echo(_apply_one(github, item, send, read, summary))
            except _IssueError as exc:
                summary.failed.append(str(exc))
                echo(f"#{item.number} failed: {exc}")
    finally:
        github.close()
    for line in skipped:
        echo(f"skipped {line}")
    echo(summary.line(repo))
    return summary


def _apply_one(github: GitHub, item: Planned, send: bool, read: bool, summary: ApplySummary) -> str:
    present = {label.casefold() for label in github.labels(item.number)} if read else set()
    new = [label for label in item.labels if label.casefold() not in present]
    summary.labels_present += len(item.labels) - len(new)
    commented = item.comment is not None and read and github.has_comment(item.number)
    actions = []
    if new:
        if send:
            github.add_labels(item.number, new)
        summary.labels_added += len(new)
        actions.append(("add" if send else "would add") + " label " + ", ".join(new))
    elif item.labels:
        actions.append("label " + ", ".join(item.labels) + " already there")
    if commented:
        summary.comments_present += 1
        actions.append("a tunedoc comment is already there (not posted again)")
    elif item.comment is not None:
        if send:
            github.comment(item.number, item.comment)
        summary.comments_posted += 1
        size = len(item.comment.encode("utf-8"))
        actions.append(f"{'post' if send else 'would post'} the draft reply ({size} bytes)")
    return f"#{item.number}: " + ("; ".join(actions) or "nothing to do")
