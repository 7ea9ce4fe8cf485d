"""core/llm/faq.py and faq.json: every entry found by a reworded question, unrelated questions left to the LLM,
and the file ships in the package."""
from __future__ import annotations

import json

import pytest

from vision_widgets.core.llm import faq

#: Each FAQ question as someone would type it, in other words (one per entry, in the file's order).
REWORDED = {
    "How do I register a restricted model?": "how to register a model on confidential data",
    "What does PSI mean?": "what's the population stability index?",
    "Who can see the Connectors page?": "which roles may open the Connectors page",
    "How do I change my password?": "I'd like to set a new password for my account",
    "What leaves my machine when I run the client notebook?": "which data is sent out of my computer by the client notebook",
    "What is the difference between a user and an admin?": "difference between admin and user roles",
    "How do I reset another user's password?": "admin: reset the password of someone else",
    "My account is locked. What do I do?": "I got locked out after too many failed logins",
    "How long does a session last?": "when does my session expire if I'm inactive",
    "Which drift methods does Vision AI use?": "what statistical tests detect drift (KS, Wasserstein, chi-square)?",
    "When is a dataset considered drifted?": "what share of drifted features makes the whole dataset drift",
    "How do I change a model's drift thresholds?": "where can owners edit the thresholds used for drift",
    "What is estimated performance (CBPE)?": "how is performance estimated without labels",
    "How do I add production data to a model?": "upload a new batch of production data for my model",
    "What is a scheduled pull?": "can a background job pull new data on a schedule?",
    "What does the Monitoring page show?": "what health tiles are on the monitoring page",
    "What does Model 360 show?": "what is shown on Model 360",
    "What is the surrogate model on Model 360?": "what are the surrogate coefficients",
    "How do I export a drift report?": "download the drift report as an HTML file",
    "Which data sources can a connector read?": "which sources are supported by connectors: S3, Azure, SQL?",
    "Are connector passwords and keys stored safely?": "are connector secrets encrypted at rest",
    "How do I test a connector?": "is there a way to test my connector",
    "How do I configure the LLM for LLM Chat?": "set up Ollama as the LLM endpoint with OPENAI_BASE_URL",
    "What is sent to the LLM when I ask about a model?": "what is sent to the LLM about my model when I ask",
    "Are my LLM Chat questions recorded?": "does the LLM chat keep a record of my prompts",
    "Can I ask the LLM about another user's model?": "may I ask the LLM about a model owned by another user",
    "How do I install Vision AI?": "installation with pip and vision serve",
    "Where is the data stored?": "which database stores everything, SQLite or PostgreSQL",
    "How do I add a new account?": "create an account for a new colleague",
    "Can an admin remove their own account?": "is an admin allowed to delete their own account",
    "What is the upload token for?": "what is the one-time upload token used for",
    "What if the client notebook cannot reach the server?": "the client notebook can't connect to the server, what now",
    "What is the privacy threshold k?": "what is k in the privacy guard?",
    "How do I use Vision AI from JupyterLab?": "explore my models in a JupyterLab notebook with connect()",
    "How do I check drift from the command line?": "compute drift between two profiles from the CLI",
    "What do label shift and prediction shift mean?": "explain label shift versus prediction shift",
    "Why is my model awaiting metrics?": "my model has been awaiting metrics for a while",
    "What is a cadence and when is a model late?": "when is a model's data considered late or stale",
    "Can I delete a model?": "how do I remove a model I registered",
    "How do I log out?": "how do I sign out of vision ai",
    "Can I delete my own account?": "delete my account please",
    "How do I register a model from a CSV file or a connector?": "register a model from a csv",
    "What does the Business Metrics page show?": "what does the business metrics page display",
    "What does the Notifications page show?": "what is on the notifications page",
}

#: Product questions the FAQ has no entry for: they once got a wrong entry through a word or two shared
#: with its answer (or with an entry about something else); they must go to the LLM (or show the closest entries).
NO_ENTRY = [
    "Why did my model drift?",
    "Who can see Alert delivery?",
    "What does KS mean?",
    "How do I rename a model?",
    "Can I share a model with a colleague?",
    "Why is drift high for income?",
    "How do I delete a connector?",
    "How do I export my models to MLflow?",
    "How do I register a model from Snowflake?",
]

#: Questions that once matched the wrong entry and now have their own.
ONCE_WRONG = {
    "How do I log out?": "How do I log out?",
    "How do I delete my own account?": "Can I delete my own account?",
    "How do I register an open model from a CSV file?": "How do I register a model from a CSV file or a connector?",
}

UNRELATED = [
    "Does Vision AI support dark mode on phones?",
    "What's the capital of Australia?",
    "Which LLM vendors are cheapest?",
    "Can I change the colours of the charts?",
    "Write me a poem about the sea",
]


def test_the_faq_has_at_least_thirty_entries_each_reworded_here():
    book = faq.load()
    assert len(book.entries) >= 30
    assert [e.question for e in book.entries] == list(REWORDED)
    assert all(e.answer.strip() for e in book.entries)


@pytest.mark.parametrize("question", list(REWORDED))
def test_every_entry_is_found_by_its_question_reworded_and_never_answered_by_another(question):
    book = faq.load()
    reworded = REWORDED[question]
    # the right entry comes first among those given to the LLM (or shown as the closest without one)…
    assert book.search(reworded, 1)[0].entry.question == question, (reworded, book.search(reworded))
    # …and when the FAQ answers by itself, it is with that entry
    hit = book.match(reworded)
    assert hit is None or hit.entry.question == question, (reworded, hit)


@pytest.mark.parametrize("question", list(REWORDED))
def test_every_entry_answers_its_own_question_from_the_file(question):
    hit = faq.load().match(question)
    assert hit is not None and hit.entry.question == question


def test_close_rewordings_are_answered_from_the_file():
    book = faq.load()
    direct = [q for q, reworded in REWORDED.items() if book.match(reworded)]
    assert len(direct) >= 15, direct


@pytest.mark.parametrize("question", NO_ENTRY)
def test_a_product_question_without_an_entry_is_not_answered_with_another_entry(question):
    assert faq.load().match(question) is None, faq.load().search(question)


@pytest.mark.parametrize("question", list(ONCE_WRONG))
def test_questions_once_answered_with_the_wrong_entry_get_their_own(question):
    hit = faq.load().match(question)
    assert hit is not None and hit.entry.question == ONCE_WRONG[question]


@pytest.mark.parametrize("question", UNRELATED)
def test_an_unrelated_question_matches_no_entry(question):
    assert faq.load().match(question) is None, faq.load().search(question)


def test_the_faq_file_ships_inside_the_package_and_is_plain_json():
    assert faq.FAQ_FILE.name == "faq.json" and "vision_widgets" in faq.FAQ_FILE.parts
    data = json.loads(faq.FAQ_FILE.read_text(encoding="utf-8"))
    assert {tuple(sorted(e)) for e in data["entries"]} == {("answer", "question")}


def _answer(question: str) -> str:
    return next(e.answer for e in faq.load().entries if e.question == question)


def test_the_faq_lists_each_roles_pages_as_the_app_does():
    """The pages named for a user and for an admin are app.PAGES' (so the entry cannot go stale)."""
    from vision_widgets.app import PAGES
    from vision_widgets.core.identity.rbac import ROLE_PERMISSIONS

    user_part, admin_part = _answer("What is the difference between a user and an admin?").split("An `admin`")
    user_pages = [p.title for p in PAGES if p.permission in ROLE_PERMISSIONS["user"]]
    admin_pages = [p.title for p in PAGES if p.permission in ROLE_PERMISSIONS["admin"] and p.title not in user_pages]
    assert user_pages and admin_pages
    assert all(title in user_part for title in user_pages), (user_pages, user_part)
    assert not any(title in user_part for title in admin_pages), user_part
    assert all(title in admin_part for title in admin_pages), (admin_pages, admin_part)


def test_the_faq_says_what_the_client_notebook_sends_and_where_it_writes_its_file():
    import re

    from vision_widgets import client

    sends = _answer("What leaves my machine when I run the client notebook?")
    for part in ("surrogate", "coefficient", "variance", "time window", "privacy_report"):
        assert part in sends, part
    notebook = (faq.FAQ_FILE.parents[3] / "notebooks" / "client_restricted.ipynb")
    output = re.search(r'OUTPUT_FILE = \\"([^"\\]+)\\"', notebook.read_text()) if notebook.exists() else None
    written = _answer("What if the client notebook cannot reach the server?")
    assert "always writes" in written and "OUTPUT_FILE" in written and "next to your data" not in written
    if output:
        assert f"`{output.group(1)}`" in written
    assert hasattr(client, "privacy_report")


def test_the_faq_says_tool_results_are_sent_to_the_llm_and_where_they_are_shown():
    sent = _answer("What is sent to the LLM when I ask about a model?")
    assert "tool" in sent and "Looked up" in sent and "category" in sent
