"""Upload tokens (core/catalog/upload_tokens.py through services.submissions.submit_with_token): one model,
24 hours by the context's clock, one accepted submission, and only a hash in the database."""
from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import OTHER_USER, USER, model_rows, submission_body

from vision_widgets.core.catalog import upload_tokens
from vision_widgets.core.errors import (
    AuthenticationError,
    InvalidInput,
    PermissionDenied,
)
from vision_widgets.services import model360
from vision_widgets.services import registration
from vision_widgets.services import submissions


def _status(ctx, login, name, username=USER):
    return model360.model_360(ctx, login(username), name).model.status


def test_a_fresh_token_is_accepted_once_and_activates_the_model(ctx, login, register_restricted):
    reg = register_restricted("Secret model")
    result = submissions.submit_with_token(ctx, reg.upload_token, "Secret model", submission_body("Secret model"))
    assert result.model.status == "active"
    summary = result.summary()
    assert summary["model"] == "Secret model" and summary["status"] == "active"
    assert set(summary) == {"model", "status", "dataset_drift", "drift_share", "drifted_features", "stored_as"}
    assert summary["stored_as"] == "production"
    assert model_rows(ctx) == {"models": 1, "profiles": 2, "drift_reports": 1, "upload_tokens": 1}
    with pytest.raises(AuthenticationError, match="already used"):
        submissions.submit_with_token(ctx, reg.upload_token, "Secret model",
                             submission_body("Secret model", with_reference=False))
    assert model_rows(ctx)["profiles"] == 2


def test_a_token_is_scoped_to_its_model(ctx, login, register_restricted):
    a = register_restricted("Model A")
    register_restricted("Model B", OTHER_USER)
    before = model_rows(ctx)
    with pytest.raises(PermissionDenied, match="another model"):
        submissions.submit_with_token(ctx, a.upload_token, "Model B", submission_body("Model B"))
    assert model_rows(ctx) == before
    assert _status(ctx, login, "Model B", OTHER_USER) == "awaiting metrics"
    # the refused attempt did not spend it: it still works for its own model
    submissions.submit_with_token(ctx, a.upload_token, "Model A", submission_body("Model A"))
    assert _status(ctx, login, "Model A") == "active"


def test_a_token_expires_24_hours_after_it_was_issued(ctx, login, register_restricted, clock):
    reg = register_restricted("Late model")
    assert reg.token_expires == clock.now + timedelta(hours=24)
    clock.advance(hours=24)
    with pytest.raises(AuthenticationError, match="expired"):
        submissions.submit_with_token(ctx, reg.upload_token, "Late model", submission_body("Late model"))
    assert model_rows(ctx)["profiles"] == 0


def test_a_token_is_still_valid_just_before_expiry(ctx, login, register_restricted, clock):
    reg = register_restricted("Late model")
    clock.advance(hours=24, seconds=-1)
    assert submissions.submit_with_token(ctx, reg.upload_token, "Late model",
                                submission_body("Late model")).model.status == "active"


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 43])
def test_a_missing_or_unknown_token_is_refused(ctx, register_restricted, token):
    register_restricted("Secret model")
    with pytest.raises(AuthenticationError):
        submissions.submit_with_token(ctx, token, "Secret model", submission_body("Secret model"))
    assert model_rows(ctx)["profiles"] == 0


def test_an_unknown_model_is_not_found_before_the_token_is_looked_at(ctx, register_restricted):
    from vision_widgets.core.errors import NotFound

    reg = register_restricted("Secret model")
    with pytest.raises(NotFound, match="no model named"):
        submissions.submit_with_token(ctx, reg.upload_token, "Nope", submission_body("Nope"))


def test_a_new_token_replaces_the_unused_one(ctx, login, register_restricted, clock):
    first = register_restricted("Secret model")
    clock.advance(hours=1)
    token, expires = submissions.issue_upload_token(ctx, login(USER), "Secret model")
    assert token != first.upload_token and expires == clock.now + timedelta(hours=24)
    assert model_rows(ctx)["upload_tokens"] == 1  # one live token per model
    with pytest.raises(AuthenticationError, match="not valid"):
        submissions.submit_with_token(ctx, first.upload_token, "Secret model", submission_body("Secret model"))
    submissions.submit_with_token(ctx, token, "Secret model", submission_body("Secret model"))
    assert _status(ctx, login, "Secret model") == "active"


def test_tokens_are_only_for_restricted_models_and_only_for_their_managers(ctx, login, register_restricted, settings):
    from helpers import demo_spec, write_demo_files

    register_restricted("Secret model")
    with pytest.raises(PermissionDenied):
        submissions.issue_upload_token(ctx, login(OTHER_USER), "Secret model")
    train, prod = write_demo_files(settings.home / "data")
    registration.register_model(ctx, login(USER), demo_spec("Open model", train, prod))
    with pytest.raises(InvalidInput, match="restricted models"):
        submissions.issue_upload_token(ctx, login(USER), "Open model")
    assert model_rows(ctx)["upload_tokens"] == 1


def test_check_reports_each_refusal_in_the_core(ctx, register_restricted, clock):
    a = register_restricted("Model A")
    b = register_restricted("Model B")
    with ctx.store.read() as conn:
        digest = upload_tokens.check(conn, a.upload_token, a.model.id, clock.now)
        assert len(digest) == 64 and a.upload_token not in digest
        with pytest.raises(PermissionDenied):
            upload_tokens.check(conn, a.upload_token, b.model.id, clock.now)
        with pytest.raises(AuthenticationError, match="expired"):
            upload_tokens.check(conn, a.upload_token, a.model.id, a.token_expires)
        with pytest.raises(AuthenticationError, match="required"):
            upload_tokens.check(conn, "", a.model.id, clock.now)
    with ctx.store.write() as conn:
        upload_tokens.spend(conn, digest, clock.now)
    with ctx.store.read() as conn, pytest.raises(AuthenticationError, match="already used"):
        upload_tokens.check(conn, a.upload_token, a.model.id, clock.now)
