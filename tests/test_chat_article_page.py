"""The readable article page the chat links to (GET /ui/article/{id}): HTML from the diagnosis page, under the chat's
read policy, not part of the API schema."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.security.conftest import chat_app

KEY = "test-key-" + "0123456789abcdef"


@pytest.fixture(scope="module")
def client(rules):
    with TestClient(chat_app(rules)) as c:
        yield c


def test_an_article_page_is_readable_html(client, rules):
    page = client.get("/ui/article/bf16-numerical-instability")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    article = rules.catalogue.by_id["bf16-numerical-instability"]
    assert f"<h1>{article.title.en}</h1>" in html and article.title.zh in html
    assert "<h2>Fix steps</h2>" in html and "<pre><code" in html  # the patch as a code block
    assert 'href="/ui/"' in html  # back to the chat
    assert '.md"' not in html  # sibling links point at pages beside this one, not at docs files
    assert 'href="deepspeed-zero2-overlap-comm-nan"' in html


def test_every_article_has_a_page_and_an_unknown_id_is_a_404(client, rules):
    for article in rules.catalogue.articles:
        assert client.get(f"/ui/article/{article.id}").status_code == 200, article.id
    missing = client.get("/ui/article/no-such-cause")
    assert missing.status_code == 404 and "no diagnosis with id" in missing.json()["error"]["message"]


def test_the_page_follows_the_chats_read_policy_and_is_not_in_the_api_schema(rules):
    with TestClient(chat_app(rules, api_key=KEY, read_requires_key=True)) as locked:
        assert locked.get("/ui/article/fp16-overflow").status_code == 401
        assert locked.get("/ui/article/fp16-overflow", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        signed_in = locked.post("/login", data={"key": KEY}, follow_redirects=False)
        assert signed_in.status_code == 303
        assert locked.get("/ui/article/fp16-overflow").status_code == 200  # the sign-in cookie
        assert not any("article" in path for path in locked.get("/openapi.json", headers={
            "Authorization": f"Bearer {KEY}"}).json()["paths"])
