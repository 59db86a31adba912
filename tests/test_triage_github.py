"""`tunedoc triage --apply-github`: against a local HTTP server that speaks the few GitHub REST endpoints it uses
(GET/POST /repos/{o}/{r}/issues/{n}/labels and /comments, with Link-header pagination) and records every call.
Dry run sends nothing; --yes adds the missing labels and one comment per issue; a re-run posts no second comment;
the token never appears in the output."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from service.cli import main
from service.triage.github import MARKER, GitHub, apply_github
from tests.unit.test_engine_acceptance import SEED

TOKEN = "ghp_testTOKEN0123456789abcdefghijklmnopqrstu"
PAGE = 2  # the fake server pages comments by 2 whatever per_page says, so pagination is exercised
OOM = "Traceback (most recent call last):\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"


class FakeGitHub(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.calls: list[tuple[str, str, str | None, object]] = []  # method, path, authorization, json body
        self.issues: dict[int, dict] = {}
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def writes(self) -> list[tuple[str, str, object]]:
        return [(m, p, b) for m, p, _, b in self.calls if m != "GET"]


class Handler(BaseHTTPRequestHandler):
    server: FakeGitHub

    def log_message(self, *args) -> None:  # noqa: ANN002 - keep the test output clean
        pass

    def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        with self.server.lock:
            self.server.calls.append((method, self.path, self.headers.get("Authorization"), body))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._send(401, {"message": "Bad credentials"})
            match = re.fullmatch(r"/repos/acme/trainer/issues/(\d+)/(labels|comments)", url.path)
            if not match or int(match.group(1)) not in self.server.issues:
                return self._send(404, {"message": "Not Found"})
            issue = self.server.issues[int(match.group(1))]
            what = match.group(2)
            if method == "GET" and what == "labels":
                return self._send(200, [{"name": name} for name in issue["labels"]])
            if method == "GET":
                page = int(parse_qs(url.query).get("page", ["1"])[0])
                items = issue["comments"][(page - 1) * PAGE:page * PAGE]
                more = len(issue["comments"]) > page * PAGE
                following = f'<{self.server.base}{url.path}?per_page=100&page={page + 1}>; rel="next"'
                return self._send(200, [{"id": i, "body": b} for i, b in enumerate(items)],
                                  {"Link": following} if more else {})
            if what == "labels":
                issue["labels"] += [name for name in body["labels"] if name not in issue["labels"]]
                return self._send(200, [{"name": name} for name in issue["labels"]])
            issue["comments"].append(body["body"])
            return self._send(201, {"id": len(issue["comments"]), "body": body["body"]})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")


@pytest.fixture()
def github(monkeypatch: pytest.MonkeyPatch):
    server = FakeGitHub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("TUNEDOC_GITHUB_API", server.base)
    monkeypatch.setenv("TUNEDOC_GITHUB_WRITE_INTERVAL", "0")
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def triaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small GitHub export triaged once (rules only); each test applies it."""
    folder = tmp_path_factory.mktemp("gh")
    export = folder / "issues.json"
    export.write_text(json.dumps([
        {"number": 3, "title": "loss 0 with bf16", "body": SEED, "html_url": "https://github.com/acme/trainer/issues/3"},
        {"number": 4, "title": "训练时显存不足", "body": OOM + "\n训练到第10步就报错",
         "html_url": "https://github.com/acme/trainer/issues/4"},
        {"number": 5, "title": "loss 0 with bf16", "body": SEED, "html_url": "https://github.com/acme/trainer/issues/5"},
        {"number": 6, "title": "a PR", "body": "", "pull_request": {}},
    ], ensure_ascii=False))
    out = folder / "out.jsonl"
    assert main(["triage", str(export), "-o", str(out), "--no-retrieval", "--workers", "1", "--no-progress"]) == 0
    return export, out


def _apply(triaged, capsys, *extra: str) -> tuple[int, str]:
    export, out = triaged
    code = main(["triage", str(export), "-o", str(out), "--no-retrieval", "--no-progress",
                 "--apply-github", "acme/trainer", *extra])
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err
    return code, captured.out


def test_dry_run_then_apply_then_rerun_is_idempotent(github: FakeGitHub, triaged, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    github.issues = {3: {"labels": [], "comments": []},
                     4: {"labels": ["CUDA-OOM-Training"], "comments": ["thanks!", "any news?", "same here"]},
                     5: {"labels": ["question"], "comments": []}}

    code, out = _apply(triaged, capsys)
    assert code == 0 and github.writes() == [] and github.calls  # it read, it did not write
    assert "#3: would add label bf16-numerical-instability; would post the draft reply" in out
    assert "#4: label cuda-oom-training already there" in out  # labels compare case-insensitively
    assert "dry run: would add 2 label(s) and would post 3 comment(s)" in out and "Nothing was sent" in out

    github.calls.clear()
    code, out = _apply(triaged, capsys, "--yes")
    assert code == 0
    writes = github.writes()
    assert ("POST", "/repos/acme/trainer/issues/3/labels", {"labels": ["bf16-numerical-instability"]}) in writes
    assert ("POST", "/repos/acme/trainer/issues/5/labels", {"labels": ["bf16-numerical-instability"]}) in writes
    assert not any(p.endswith("/4/labels") for _, p, _ in writes)
    assert [p for _, p, _ in writes if p.endswith("/comments")] == [f"/repos/acme/trainer/issues/{n}/comments"
                                                                     for n in (3, 4, 5)]
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth, _ in github.calls)
    posted = {n: github.issues[n]["comments"][-1] for n in (3, 4, 5)}
    assert all(MARKER in body for body in posted.values())
    assert "fp16: true" in posted[3] and "解决方法" in posted[4]
    assert "This may be a duplicate of #3." in posted[5] and "duplicate" not in posted[3]
    assert "added 2 label(s) and posted 3 comment(s) on acme/trainer" in out

    github.calls.clear()
    code, out = _apply(triaged, capsys, "--yes")
    assert code == 0 and github.writes() == []  # no second comment, no label re-added
    assert [len(github.issues[n]["comments"]) for n in (3, 4, 5)] == [1, 4, 1]
    # Issue 4's tunedoc comment is on the second page of its comments: the Link header was followed.
    assert ("GET", "/repos/acme/trainer/issues/4/comments?per_page=100&page=2") in [c[:2] for c in github.calls]
    assert "#4: label cuda-oom-training already there; a tunedoc comment is already there (not posted again)" in out
    assert "added 0 label(s) and posted 0 comment(s) on acme/trainer; 3 label(s) and 3 tunedoc comment(s)" in out


def test_without_a_token_dry_run_reads_nothing_and_yes_refuses(github: FakeGitHub, triaged, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    github.issues = {3: {"labels": [], "comments": []}}
    code, out = _apply(triaged, capsys)
    assert code == 0 and github.calls == []
    assert "GITHUB_TOKEN is not set" in out and "would post 3 comment(s)" in out
    assert main(["triage", str(triaged[0]), "-o", str(triaged[1]), "--no-retrieval", "--apply-github",
                 "acme/trainer", "--yes"]) == 2
    assert "needs a token in GITHUB_TOKEN" in capsys.readouterr().err and github.calls == []


def test_errors_name_the_issue_never_the_token(github: FakeGitHub, monkeypatch, capsys):
    github.issues = {}  # every issue is a 404
    rows = {"9": {"label": "x", "reply": "hello", "url": "https://github.com/acme/trainer/issues/9"},
            "abc": {"label": "x", "reply": "hello"}}
    lines: list[str] = []
    summary = apply_github(rows, "acme/trainer", send=True, token=TOKEN, echo=lines.append)
    assert summary.failed == ["#9 GET labels: HTTP 404 Not Found"] and len(summary.skipped) == 1
    assert TOKEN not in "\n".join(lines) and any("skipped abc: no issue number" in ln for ln in lines)
    from service.triage.github import GitHubError

    with pytest.raises(GitHubError, match="HTTP 401 Bad credentials") as info:
        apply_github({"3": {"label": "x", "reply": "r"}}, "acme/trainer", send=True, token="wrong-token",
                     echo=lines.append)
    assert "wrong-token" not in str(info.value)
    with pytest.raises(GitHubError, match="outside"):  # a pagination link to another host is not followed
        GitHub("acme/trainer", TOKEN, api=github.base)._request("GET", "https://evil.example/repos")
    with pytest.raises(Exception, match="owner/repo"):
        apply_github({}, "not a repo", send=False)
