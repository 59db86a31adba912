"""The chat in a real browser: headless Debian Chromium driven by Playwright against a real `tunedoc serve`.

1. The seed bf16 case, then a DeepSpeed config: the answer changes, one patch is applied first, the pasted config
   comes back merged for download, the user's paste is shown as code, the article link opens a readable page.
2. A three-turn conversation: a log that abstains with a question, the user clicks a reply button, the diagnosis
   appears; a typed answer then rules out a cause. Each answer opens at its headline.
3. A log over the API body limit, uploaded in the chat: the API answers 413, the chat streams it and says what it
   kept.

Screenshots go to artifacts/ (artifacts/chat-conversation.png is the README's mid-conversation picture).
"""

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.test_chat_conversation import DEEPSPEED_Z2
from tests.unit.test_engine_acceptance import SEED

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
LOG_ONLY = ("{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': 0.1}\n"
            "{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 2e-05, 'epoch': 0.2}")
API_BODY_LIMIT = 5 * 1024 * 1024  # TUNEDOC_MAX_BODY_BYTES default; the `server` fixture does not change it


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run must install Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser.new_page(viewport={"width": 1280, "height": 1400})
        browser.close()


def _open(page, server: str) -> None:
    page.goto(f"{server}/ui/")
    page.wait_for_selector("#tunedoc-input textarea", timeout=60_000)


def _wait_answer(page, answers_before: int):  # noqa: ANN202 - a Playwright locator
    page.wait_for_function("n => document.querySelectorAll('#tunedoc-chat .bot').length > n", arg=answers_before,
                           timeout=60_000)
    page.wait_for_timeout(1_000)  # the Markdown renders, then the chat scrolls to the answer's headline
    return page.locator("#tunedoc-chat .bot").nth(answers_before)


def _send(page, text: str, answers_before: int):  # noqa: ANN202 - a Playwright locator
    page.fill("#tunedoc-input textarea", text)
    page.click("#tunedoc-input button.submit-button")
    return _wait_answer(page, answers_before)


def _headline(answer) -> tuple[str, str | None]:  # noqa: ANN001 - a Playwright locator
    """The answer's first heading: its text and the article it links to."""
    heading = answer.locator("h2").first
    link = heading.locator("a")
    return heading.inner_text(), (link.first.get_attribute("href") if link.count() else None)


def _headline_in_view(page, answer) -> bool:  # noqa: ANN001 - a Playwright locator
    """The answer's headline is inside the visible part of the chat box (not scrolled past, not below)."""
    box = page.locator("#tunedoc-chat").bounding_box()
    heading = answer.locator("h2").first.bounding_box()
    return box["y"] <= heading["y"] and heading["y"] + heading["height"] <= box["y"] + box["height"]


def _download(page, server: str, name: str) -> str:
    """The content of a file offered in the download box (fetched by its link, as the browser would)."""
    links = page.locator("#tunedoc-download a")
    hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
    href = next(h for h in hrefs if h.split("?")[0].endswith(name))
    return httpx.get(href if href.startswith("http") else f"{server}{href}", timeout=30).text


def _reply_buttons(page) -> list[str]:
    buttons = page.locator(".tunedoc-reply")
    return [buttons.nth(i).inner_text() for i in range(buttons.count()) if buttons.nth(i).is_visible()]


def test_chat_diagnoses_the_seed_then_sharpens_with_a_config(server, browser_page):
    page = browser_page
    _open(page, server)
    first = _send(page, SEED, 0)
    title, href = _headline(first)
    assert href == "/ui/article/bf16-numerical-instability" and "bf16" in title
    text = first.inner_text()
    assert "fp16: true" in text and "bf16: false" in text  # the patch is rendered as a code block
    assert "Config patch" in text and "Could also be" in text
    assert "bf16-numerical-instability:" not in text and "precision setting" in text  # plain-language evidence
    user = page.locator("#tunedoc-chat .user").first
    assert user.locator("h3").count() == 0 and "### model" in user.locator("code").first.inner_text()
    assert _headline_in_view(page, first)
    download = page.locator("#tunedoc-download")
    assert download.is_visible() and "train_config.patched.yaml" in download.inner_text().replace("\n", "")
    merged = _download(page, server, "train_config.patched.yaml")
    assert "### model\n" in merged and "\nbf16: false\n" in merged and "\nfp16: true\n" in merged
    page.screenshot(path=str(ARTIFACTS / "chat-seed.png"), full_page=False)

    second = _send(page, DEEPSPEED_Z2, 1)
    assert _headline(second)[1] == "/ui/article/deepspeed-zero2-overlap-comm-nan"
    text = second.inner_text()
    assert text.count("Apply this first") == 1 and '"overlap_comm": false' in text
    assert _headline_in_view(page, second)
    assert '"overlap_comm": false' in _download(page, server, "ds_config.patched.json")
    page.screenshot(path=str(ARTIFACTS / "chat-second-turn.png"), full_page=False)

    article = second.locator("a", has_text="read the article").first.get_attribute("href")
    page.goto(f"{server}{article}")
    assert "overlap_comm" in page.locator("h1").inner_text()


def test_chat_asks_back_and_the_answer_changes_the_diagnosis(server, browser_page):
    page = browser_page
    _open(page, server)
    first = _send(page, LOG_ONLY, 0)
    assert _headline(first)[0].startswith("Not sure enough")
    assert "To decide between them:" in first.inner_text() and "precision" in first.inner_text()
    assert _reply_buttons(page) == ["bf16", "fp16", "fp32", "fp16 works", "I don't know"]
    assert _headline_in_view(page, first)
    page.screenshot(path=str(ARTIFACTS / "chat-question.png"), full_page=False)

    page.locator(".tunedoc-reply", has_text="bf16").first.click()  # the user answers with a button
    second = _wait_answer(page, 1)
    assert page.locator("#tunedoc-chat .user").nth(1).inner_text() == "bf16"
    assert _headline(second)[1] == "/ui/article/bf16-numerical-instability"  # the diagnosis appears
    assert "your answer “bf16”" in second.inner_text()
    assert _headline_in_view(page, second)
    page.screenshot(path=str(ARTIFACTS / "chat-conversation.png"), full_page=False)

    third = _send(page, "No DeepSpeed", 2)  # ... and types the next one
    zero2 = third.locator("li", has=page.locator('a[href="/ui/article/deepspeed-zero2-overlap-comm-nan"]'))
    assert "(ruled out)" in zero2.first.inner_text()
    second_zero2 = second.locator("li", has=page.locator('a[href="/ui/article/deepspeed-zero2-overlap-comm-nan"]'))
    assert "(possible" in second_zero2.first.inner_text()  # it was a candidate before the answer
    assert _headline(third)[1] == "/ui/article/bf16-numerical-instability" and _headline_in_view(page, third)


def test_chat_streams_an_upload_over_the_api_body_limit(server, browser_page, tmp_path):
    page = browser_page
    lines = ["model_name_or_path: Qwen/Qwen2.5-7B-Instruct", "finetuning_type: lora", "bf16: true", ""]
    size, step = 0, 0
    while size <= API_BODY_LIMIT + 512 * 1024:
        step += 1
        if step % 10 == 0:
            line = f"{{'loss': 0.0, 'grad_norm': nan, 'learning_rate': 1e-05, 'epoch': {step / 1e5:.5f}}}"
        else:
            line = f"[INFO|trainer.py:2345] 2024-06-01 12:00:{step % 60:02d} >> step {step} tokens/s 5120 mem 23.4GB"
        lines.append(line)
        size += len(line) + 1
    log = tmp_path / "train.log"
    log.write_text("\n".join(lines) + "\n")
    assert log.stat().st_size > API_BODY_LIMIT
    with log.open("rb") as handle:
        refused = httpx.post(f"{server}/v1/diagnose", files={"files": ("train.log", handle, "text/plain")},
                             timeout=60)
    assert refused.status_code == 413  # the raw API keeps its limit

    _open(page, server)
    with page.expect_response(lambda r: "/gradio_api/upload" in r.url, timeout=60_000) as uploaded:
        page.set_input_files("#tunedoc-input input[type=file]", str(log))
    assert uploaded.value.status == 200
    page.click("#tunedoc-input button.submit-button")
    answer = _wait_answer(page, 0)
    text = answer.inner_text()
    assert f"train.log: {log.stat().st_size / 1024 / 1024:.1f} MB, {len(lines)} lines" in text
    assert "lines kept" in text  # the note of what was kept
    assert _headline(answer)[1] == "/ui/article/bf16-numerical-instability"
    assert "train.log:3 bf16: true" in text  # evidence numbered as in the file
    assert "Uploaded: train.log" in page.locator("#tunedoc-chat .user").first.inner_text()
    assert "\nbf16: false\n" in _download(page, server, "train_config.patched.yaml")  # the config at the log's top
    page.screenshot(path=str(ARTIFACTS / "chat-large-upload.png"), full_page=False)
