"""The Access page's "API keys" section (views/access_api_keys.py), driven headlessly as an admin uses it."""
from __future__ import annotations

import hashlib

import pytest
from helpers import ADMIN, signed_in_state, synced_text

from vision_widgets.services import api_keys
from vision_widgets.views.access import AccessView


@pytest.fixture
def page(ctx, login):
    view = AccessView(ctx, signed_in_state(login(ADMIN)))
    yield view
    view.close()


def rows(section) -> list[str]:
    return section.table.value.split("<tr>")[2:]  # after the header row


def test_the_section_lists_keys_never_the_key_or_its_hash(ctx, login, page):
    section = page.api_keys
    assert "No API keys yet." in section.table.value
    assert section.active_row.layout.display == "none"
    assert "run vision api-keys issue NAME on the server" in section.children[0].text  # where keys come from
    key, _ = api_keys.issue(ctx, login(ADMIN), "nightly export", expires_in_days=30)
    api_keys.issue(ctx, login(ADMIN), "backfill")
    page.refresh()
    assert len(rows(section)) == 2
    assert "<td>nightly export</td>" in section.table.value and "<td>active</td>" in section.table.value
    assert [label for label, _ in section.key.options] == ["backfill (id 2)", "nightly export (id 1)"]
    state = synced_text()
    assert key not in state and hashlib.sha256(key.encode()).hexdigest() not in state


def test_revoke_asks_then_revokes_the_key_it_asked_about(ctx, login, page):
    api_keys.issue(ctx, login(ADMIN), "nightly export")
    api_keys.issue(ctx, login(ADMIN), "backfill")
    page.refresh()
    section = page.api_keys
    section.key.value = "1"
    section.revoke.click()
    assert section.confirm.layout.display == "flex"
    assert section.confirm.question.value == ("Revoke nightly export (id 1)? Pipelines using it are refused "
                                              "from now on.")
    section.confirm.confirm.click()
    assert section.status.value == "API key nightly export (id 1) is revoked."
    assert "<td>revoked</td>" in section.table.value
    assert [label for label, _ in section.key.options] == ["backfill (id 2)"]
    assert "revoke API key" in page.audit.value  # the page's audit log was refreshed too
    assert [k.state(ctx.now()) for k in api_keys.list_keys(ctx, login(ADMIN))] == ["active", "revoked"]


def test_a_confirm_click_without_a_question_or_after_the_selection_moved_does_nothing(ctx, login, page):
    api_keys.issue(ctx, login(ADMIN), "nightly export")
    api_keys.issue(ctx, login(ADMIN), "backfill")
    page.refresh()
    section = page.api_keys
    section.confirm.confirm.click()  # the browser can click a hidden button
    section.key.value = "1"
    section.revoke.click()
    section.key.value = "2"  # the question about key 1 is withdrawn
    section.confirm.confirm.click()
    assert {k.state(ctx.now()) for k in api_keys.list_keys(ctx, login(ADMIN))} == {"active"}
