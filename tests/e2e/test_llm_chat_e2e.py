"""End to end in Chromium: a user asks about their demo model with a real OpenAI-compatible server on
loopback and sees the answer stream in, the look-up it made and the numbers it was given; with no
endpoint configured the labelled fallback summary appears at once; an admin reads the chat log on the
Monitoring page.

One demo database (``vision init --demo``) serves two servers in turn: one pointed at the loopback
LLM (``OPENAI_BASE_URL``), one with no endpoint.
"""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.support.openai_server import answer, running_openai_server, tool_call
from tests.support.server_process import REPO_ROOT, running_server, server_env
from tests.support.shell_pages import ADMIN, USER, log_in, open_page

pytestmark = pytest.mark.e2e

API_KEY = "sk-e2e-never-shown-0123456789"
ANSWER = ("**amount** drifted most: its Wasserstein statistic is well past the threshold of 0.1. "
          "Look at the amount pipeline first, then distance_from_home_km.")


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory):
    """A VISION_HOME with the demo models (small files), initialised once for this module."""
    from vision_widgets.demo import datasets

    root = tmp_path_factory.mktemp("vision-e2e-chat")
    home = root / "home"
    datasets.write_files(home / "demo-data", train_rows=3000, weekly_rows=500)
    done = subprocess.run([sys.executable, "-m", "vision_widgets", "init", "--demo"], cwd=REPO_ROOT,
                          env=server_env(home), capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError("`vision init --demo` failed:\n" + done.stdout + done.stderr)
    return root


@pytest.fixture
def llm():
    with running_openai_server() as server:
        yield server


def open_chat(page, server, account=USER):
    page.goto(server.base_url, wait_until="commit")
    log_in(page, *account)
    open_page(page, "LLM Chat")
    return page.locator(".vision-page-chat")


def test_a_user_sees_the_answer_stream_in_with_its_look_up_and_numbers(page, demo_root, llm):
    llm.script(tool_call("feature_history", {"model": "Fraud detection", "feature": "amount"}),
               answer(ANSWER, pieces=10, delay=0.4))
    env = {"OPENAI_BASE_URL": llm.url, "OPENAI_API_KEY": API_KEY, "VISION_LLM_MODEL": "test-model"}
    with running_server(demo_root, init=False, env_extra=env) as server:
        chat = open_chat(page, server)
        chat.get_by_text(re.compile(r"^Answers are written by test-model at http://127\.0\.0\.1:\d+/v1")).wait_for()
        picked = chat.get_by_label("Model", exact=True).evaluate("el => el.options[el.selectedIndex].text")
        assert picked.replace("\xa0", " ") == "Fraud detection"  # ipywidgets keeps spaces with nbsp
        chat.get_by_label("Question about the model").fill("Why did drift fire last week?")
        chat.get_by_role("button", name="Ask").click()
        chat.locator(".vision-chat-question", has_text="Why did drift fire last week?").wait_for()
        chat.get_by_text("Looked up: history of amount in Fraud detection").wait_for()
        # the first pieces are on screen while the rest is still coming
        body = chat.locator(".vision-chat-answer .vision-markdown")
        expect(body).to_contain_text("amount")
        written = chat.get_by_text("Written by the LLM (test-model).")
        assert not written.is_visible()
        assert "distance_from_home_km" not in body.inner_text()
        written.wait_for()
        expect(body).to_contain_text("Look at the amount pipeline first, then distance_from_home_km.")
        expect(body.locator("strong", has_text="amount")).to_be_visible()
        # the numbers it was given, folded under the answer
        fold = chat.get_by_text(re.compile(r"^Numbers used \(\d+\)$"))
        fold.click()
        facts = chat.locator(".vision-chat-facts .vision-table")
        expect(facts.locator("tr", has_text="Model").first).to_contain_text("Fraud detection")
        expect(facts).to_contain_text("amount (numeric, window")
        # the LLM got the question and the model's numbers; the key never reached the page
        sent = llm.chat_requests[0].raw
        assert "Why did drift fire last week?" in sent and "amount" in sent
        assert llm.chat_requests[0].headers.get("authorization") == f"Bearer {API_KEY}"
        assert API_KEY not in page.content()


def test_with_no_endpoint_the_page_says_so_and_the_fallback_summary_appears(page, demo_root):
    with running_server(demo_root, init=False) as server:
        chat = open_chat(page, server)
        chat.get_by_text(re.compile(r"^No LLM endpoint is configured \(OPENAI_BASE_URL is not set\)")).wait_for()
        chat.get_by_role("button", name="Why did drift fire in the latest window?").click()
        chat.get_by_text(re.compile(r"^No LLM endpoint is configured \(OPENAI_BASE_URL\), so this answer")).wait_for()
        body = chat.locator(".vision-chat-answer .vision-markdown")
        expect(body).to_contain_text("Summary written without the LLM from the stored numbers.")
        expect(body).to_contain_text("Fraud detection")
        chat.get_by_text(re.compile(r"^Written from the numbers below without an LLM")).wait_for()
        # the FAQ answers too, naming the entry
        chat.get_by_role("tab", name="Vision AI FAQ").click()
        chat.get_by_role("button", name="What does PSI mean?").click()
        chat.get_by_text("Answered from the FAQ: What does PSI mean?").wait_for()

        # an admin reads both in the chat log on the Monitoring page
        page.get_by_role("button", name="Log out").click()
        log_in(page, *ADMIN)
        open_page(page, "Monitoring")
        monitoring = page.locator(".vision-page-monitoring")
        monitoring.get_by_text(re.compile(r"^LLM chat log")).click()
        monitoring.get_by_label("Record prompts, look-ups and answers of LLM Chat").wait_for()
        expect(monitoring.get_by_label("Record prompts, look-ups and answers of LLM Chat")).to_be_checked()
        monitoring.locator(".vision-grid-llm-chat-log").wait_for()
        counted = monitoring.get_by_text(re.compile(r"^\d+ entries$"))
        counted.wait_for()
        assert int(counted.inner_text().split()[0]) >= 4  # two questions and their answers (and earlier tests')
        monitoring.get_by_label("Account", exact=True).fill("nobody")
        monitoring.get_by_role("button", name="Show").click()
        monitoring.get_by_text("Nothing recorded for nobody.").wait_for()
