"""services/usage.py and services/api_keys.py: who may send a model's usage (the permission matrix), one
transaction per import, the audit entry, and API keys shown once and stored as a hash."""
from __future__ import annotations

import hashlib

import pytest
from helpers import ADMIN, OTHER_USER, USER
from sqlalchemy import func, select

from vision_widgets.core import audit
from vision_widgets.core.errors import (
    AuthenticationError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    SessionExpired,
)
from vision_widgets.core.storage import schema
from vision_widgets.core.usage.records import InvalidRecords
from vision_widgets.services import api_keys, usage
from vision_widgets.services.sessions import logout, operator

NAME = "Usage model"
CSV = (b"timestamp,predictions,compute_hours,cpu_share\n"
       b"2026-09-01T00:00:00Z,1200,3.5,0.4\n"
       b"2026-09-02T00:00:00Z,1350,3.75,0.45\n")
RECORDS = [{"timestamp": "2026-09-01T00:00:00Z", "predictions": 1200, "compute_hours": 3.5},
           {"timestamp": "2026-09-02T00:00:00Z", "predictions": 1350, "compute_hours": 3.75, "gpu_share": 0.2}]


@pytest.fixture
def reg(register_restricted):
    """A restricted model of USER with its upload token (a restricted model is the cheapest to register)."""
    return register_restricted(NAME)


def usage_rows(ctx) -> int:
    with ctx.store.read() as conn:
        return conn.execute(select(func.count()).select_from(schema.usage_records)).scalar_one()


def issue_key(ctx, login, **kw) -> str:
    return api_keys.issue(ctx, login(ADMIN), kw.pop("name", "nightly export"), **kw)[0]


# --- the permission matrix --------------------------------------------------------------------

def test_the_owner_stores_usage_and_a_re_send_is_unchanged(ctx, login, reg):
    owner = login(USER)
    assert usage.ingest(ctx, owner, NAME, RECORDS, "api") == usage.UsageImport(2, 0, 0, NAME)
    again = usage.ingest(ctx, owner, NAME, [dict(RECORDS[0], predictions=1)] + RECORDS[1:], "api")
    assert (again.stored, again.unchanged, again.conflicting) == (0, 2, 1)
    assert "0 usage record(s)" in again.message() and "the first record sent for a timestamp is kept" in again.message()
    assert usage_rows(ctx) == 2


def test_another_user_may_not_send_usage_for_a_model_they_do_not_own(ctx, login, reg):
    with pytest.raises(PermissionDenied, match="belongs to another user"):
        usage.ingest(ctx, login(OTHER_USER), NAME, RECORDS, "api")
    with pytest.raises(PermissionDenied):
        usage.import_csv(ctx, login(OTHER_USER), NAME, CSV)
    assert usage_rows(ctx) == 0


def test_an_admin_sends_usage_for_any_model(ctx, login, reg):
    assert usage.import_csv(ctx, login(ADMIN), NAME, CSV).stored == 2


def test_a_logged_out_principal_is_refused(ctx, login, reg):
    owner = login(USER)
    logout(ctx, owner)
    with pytest.raises(SessionExpired):
        usage.import_csv(ctx, owner, NAME, CSV)


def test_an_api_key_sends_usage_for_any_model_and_is_marked_used(ctx, login, reg, register_restricted):
    register_restricted("Other model", OTHER_USER)
    key = issue_key(ctx, login)
    assert usage.ingest(ctx, key, NAME, RECORDS, "api").stored == 2
    assert usage.ingest(ctx, key, "Other model", RECORDS, "api").stored == 2
    listed = api_keys.list_keys(ctx, login(ADMIN))[0]
    assert listed.last_used_at == ctx.now()


def test_a_revoked_or_expired_or_unknown_api_key_is_refused(ctx, login, reg, clock):
    revoked = issue_key(ctx, login, name="revoked one")
    api_keys.revoke(ctx, login(ADMIN), api_keys.list_keys(ctx, login(ADMIN))[0].id)
    with pytest.raises(AuthenticationError, match="revoked"):
        usage.ingest(ctx, revoked, NAME, RECORDS, "api")
    expiring = issue_key(ctx, login, name="short lived", expires_in_days=1)
    assert usage.ingest(ctx, expiring, NAME, RECORDS[:1], "api").stored == 1
    clock.advance(86_400)
    with pytest.raises(AuthenticationError, match="expired"):
        usage.ingest(ctx, expiring, NAME, RECORDS[1:], "api")
    with pytest.raises(AuthenticationError, match="not valid"):
        usage.ingest(ctx, "vsk_" + "x" * 43, NAME, RECORDS, "api")
    with pytest.raises(AuthenticationError):
        usage.ingest(ctx, "", NAME, RECORDS, "api")
    assert usage_rows(ctx) == 1


def test_the_models_upload_token_sends_usage_and_is_not_spent(ctx, login, reg):
    assert usage.ingest(ctx, reg.upload_token, NAME, RECORDS, "api").stored == 2
    with ctx.store.read() as conn:
        used = conn.execute(select(schema.upload_tokens.c.used_at)).scalar_one()
    assert used is None  # still good for the profile submission it was issued for


def test_an_upload_token_spent_by_a_profile_submission_still_sends_usage_until_it_expires(ctx, login, reg, clock):
    from helpers import submission_body

    from vision_widgets.services import submissions

    submissions.submit_with_token(ctx, reg.upload_token, NAME, submission_body(NAME))
    assert usage.ingest(ctx, reg.upload_token, NAME, RECORDS[:1], "api").stored == 1
    clock.advance(24 * 3600)
    with pytest.raises(AuthenticationError, match="expired"):
        usage.ingest(ctx, reg.upload_token, NAME, RECORDS[1:], "api")


def test_an_upload_token_of_another_model_is_refused(ctx, login, reg, register_restricted):
    register_restricted("Other model", OTHER_USER)
    with pytest.raises(PermissionDenied, match="belongs to another model"):
        usage.ingest(ctx, reg.upload_token, "Other model", RECORDS, "api")
    assert usage_rows(ctx) == 0


def test_an_unknown_model_is_not_found_with_its_name(ctx, login, reg):
    for who in (login(USER), issue_key(ctx, login), reg.upload_token):
        with pytest.raises(NotFound, match="no model named 'Nope'"):
            usage.ingest(ctx, who, "Nope", RECORDS, "api")


def test_the_credential_is_checked_before_the_records(ctx, login, reg):
    """A caller who may not send this model's usage learns nothing from what is wrong with their records."""
    with pytest.raises(PermissionDenied):
        usage.ingest(ctx, login(OTHER_USER), NAME, [{"bad": 1}], "api")
    with pytest.raises(AuthenticationError):
        usage.ingest(ctx, "vsk_unknown", NAME, [{"bad": 1}], "api")


# --- all or nothing, and the audit log --------------------------------------------------------

def test_a_rejected_file_stores_nothing(ctx, login, reg):
    bad = CSV + b"2026-09-03T00:00:00Z,-1,1,0.5\n"
    with pytest.raises(InvalidRecords, match="line 4, column predictions: -1 is negative"):
        usage.import_csv(ctx, login(USER), NAME, bad)
    with pytest.raises(InvalidInput, match="No usage records"):
        usage.ingest(ctx, login(USER), NAME, [], "api")
    assert usage_rows(ctx) == 0


def test_each_import_is_audited_with_counts_never_values(ctx, login, reg):
    key = issue_key(ctx, login)
    usage.import_csv(ctx, login(USER), NAME, CSV)
    usage.ingest(ctx, key, NAME, RECORDS, "api")
    with ctx.store.read() as conn:
        entries = [e for e in audit.recent(conn) if e.action == "import usage"]
    assert [(e.actor, e.target, e.detail) for e in entries] == [
        ("api key nightly export", NAME, "api: 0 stored, 2 unchanged (2 with other values)"),  # shares differ
        (USER, NAME, "csv: 2 stored, 0 unchanged"),
    ]
    assert not any("1200" in e.detail or "3.5" in e.detail for e in entries)


def test_the_cli_source_is_recorded(ctx, login, reg):
    usage.import_csv(ctx, operator("cli:ops"), NAME, CSV, source="cli")
    with ctx.store.read() as conn:
        assert set(conn.execute(select(schema.usage_records.c.source)).scalars()) == {"cli"}


# --- API keys ---------------------------------------------------------------------------------

def test_an_api_key_is_shown_once_and_only_its_sha256_is_stored(ctx, login):
    key, listing = api_keys.issue(ctx, login(ADMIN), "nightly export", expires_in_days=30)
    assert key.startswith("vsk_") and len(key) > 40
    with ctx.store.read() as conn:
        row = conn.execute(select(schema.api_keys)).mappings().one()
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in str(dict(row)) and key not in repr(listing)
    assert listing.state(ctx.now()) == "active" and listing.created_by == ADMIN
    assert (listing.expires_at - listing.created_at).days == 30


def test_only_admins_manage_api_keys(ctx, login):
    with pytest.raises(PermissionDenied, match="issue API keys"):
        api_keys.issue(ctx, login(USER), "mine")
    with pytest.raises(PermissionDenied):
        api_keys.list_keys(ctx, login(USER))
    key_id = api_keys.issue(ctx, login(ADMIN), "theirs")[1].id
    with pytest.raises(PermissionDenied):
        api_keys.revoke(ctx, login(USER), key_id)


@pytest.mark.parametrize("name, kw, error, words", [
    ("", {}, InvalidInput, "Name the key"),
    ("<script>", {}, InvalidInput, "Name the key"),
    ("ok", {"scope": "admin"}, InvalidInput, "Unknown scope"),
    ("ok", {"expires_in_days": 0}, InvalidInput, "1 to 3650 days"),
])
def test_bad_key_requests_are_refused(ctx, login, name, kw, error, words):
    with pytest.raises(error, match=words):
        api_keys.issue(ctx, login(ADMIN), name, **kw)


def test_a_live_key_name_is_unique_and_revoking_frees_it(ctx, login):
    admin = login(ADMIN)
    first = api_keys.issue(ctx, admin, "export")[1]
    with pytest.raises(Conflict):
        api_keys.issue(ctx, admin, "export")
    revoked = api_keys.revoke(ctx, admin, first.id)
    assert revoked.state(ctx.now()) == "revoked"
    assert api_keys.revoke(ctx, admin, first.id).revoked_at == revoked.revoked_at  # idempotent
    api_keys.issue(ctx, admin, "export")
    with pytest.raises(NotFound):
        api_keys.revoke(ctx, admin, 999)
    with ctx.store.read() as conn:
        actions = [e.action for e in audit.recent(conn) if "API key" in e.action]
    assert actions == ["issue API key", "revoke API key", "issue API key"]


# --- correcting usage: delete the days, send them again ---------------------------------------

THREE_DAYS = RECORDS + [{"timestamp": "2026-09-02T23:59:59+00:00", "predictions": 7, "compute_hours": 0.1},
                        {"timestamp": "2026-09-03T00:00:00Z", "predictions": 1400, "compute_hours": 4.0}]


def _predictions(ctx) -> list[int]:
    t = schema.usage_records
    with ctx.store.read() as conn:
        return [r[0] for r in conn.execute(select(t.c.predictions).order_by(t.c.at))]


def test_the_owner_deletes_days_sent_wrong_and_sends_them_again(ctx, login, reg):
    owner = login(USER)
    usage.ingest(ctx, owner, NAME, THREE_DAYS, "api")
    done = usage.delete(ctx, owner, NAME, "2026-09-02", "2026-09-02")  # a UTC day, both ends of it
    assert (done.deleted, done.predictions) == (2, 1357)
    assert done.message() == (f"Deleted 2 usage record(s) of {NAME} on 2026-09-02 (1,357 predictions); "
                              "send the corrected records again.")
    assert _predictions(ctx) == [1200, 1400]
    # the corrected record is stored now (a plain re-send would have kept the wrong one)
    assert usage.ingest(ctx, owner, NAME, [dict(RECORDS[1], predictions=1500)], "api").stored == 1
    assert _predictions(ctx) == [1200, 1500, 1400]
    with ctx.store.read() as conn:
        entry = next(e for e in audit.recent(conn) if e.action == "delete usage")
    assert (entry.actor, entry.target) == (USER, NAME)
    assert entry.detail == "2026-09-02 to 2026-09-02: 2 record(s), 1357 predictions"


def test_an_admin_deletes_any_models_usage_and_another_user_may_not(ctx, login, reg):
    usage.ingest(ctx, login(USER), NAME, THREE_DAYS, "api")
    with pytest.raises(PermissionDenied):
        usage.delete(ctx, login(OTHER_USER), NAME, "2026-09-01", "2026-09-03")
    assert usage_rows(ctx) == 4
    assert usage.delete(ctx, login(ADMIN), NAME, "2026-09-01", "2026-09-03").deleted == 4
    assert usage.delete(ctx, login(ADMIN), NAME, "2026-09-01", "2026-09-03").message() == (
        f"{NAME} has no usage records on 2026-09-01 to 2026-09-03; nothing was deleted.")


@pytest.mark.parametrize("start, end, field, words", [
    ("2026-09-03", "2026-09-01", "start", "is after the last"),
    ("1/9/2026", "2026-09-01", "start", "must be YYYY-MM-DD"),
    ("2026-09-01", "", "end", "must be YYYY-MM-DD"),
])
def test_a_bad_day_range_deletes_nothing(ctx, login, reg, start, end, field, words):
    usage.ingest(ctx, login(USER), NAME, THREE_DAYS, "api")
    with pytest.raises(InvalidInput, match=words) as err:
        usage.delete(ctx, login(USER), NAME, start, end)
    assert err.value.field == field and usage_rows(ctx) == 4


def test_deleting_the_usage_of_an_unknown_model_is_not_found(ctx, login, reg):
    with pytest.raises(NotFound):
        usage.delete(ctx, login(ADMIN), "No such model", "2026-09-01", "2026-09-01")
