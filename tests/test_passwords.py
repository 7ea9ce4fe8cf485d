"""Argon2id hashing, the username rule and the password policy (core/passwords.py)."""
from __future__ import annotations

import pytest

from vision_widgets.core.errors import InvalidInput
from vision_widgets.core.identity.passwords import (
    check_password_policy,
    hash_password,
    is_argon2id_hash,
    needs_rehash,
    validate_username,
    verify_password,
)


def test_hash_is_salted_argon2id_and_verifies_only_the_right_password():
    first, second = hash_password("s3cret-passphrase"), hash_password("s3cret-passphrase")
    assert first.startswith("$argon2id$") and is_argon2id_hash(first)
    assert first != second, "each hash must carry its own salt"
    assert "s3cret-passphrase" not in first
    assert verify_password(first, "s3cret-passphrase")
    assert not verify_password(first, "s3cret-passphrasE")
    assert not verify_password(first, "")
    assert not needs_rehash(first)


@pytest.mark.parametrize("garbage", ["", "plaintext", "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "$2b$12$abc"])
def test_verify_never_raises_on_a_broken_or_foreign_hash(garbage):
    assert verify_password(garbage, "anything") is False
    assert not is_argon2id_hash(garbage) or garbage.startswith("$argon2id$")


def test_a_non_argon2_hash_is_flagged_for_rehash():
    assert needs_rehash("not-a-hash")


@pytest.mark.parametrize("name", ["abc", "datascientist_user", "a.b-c_d", "X" * 32, "0go"])
def test_valid_usernames(name):
    assert validate_username(name) == name


@pytest.mark.parametrize(
    "name",
    ["ab", "X" * 33, "with space", " lead", "trail ", "<img src=x onerror=alert(1)>", "a<b>", "o'brien",
     "user@example", "tab\tname", "new\nline", "émile", "", None, 42],
)
def test_invalid_usernames_are_rejected_with_the_rule(name):
    with pytest.raises(InvalidInput, match="3 to 32 characters"):
        validate_username(name)


@pytest.mark.parametrize(
    "username, new, current, rule",
    [
        ("alice", "short1!", None, "at least 10 characters"),
        ("alice", "x" * 257, None, "at most 256 characters"),
        ("alice", "my-ALICE-password", None, "must not contain the username"),
        ("alice", "Same-Password-42", "Same-Password-42", "different from the current one"),
    ],
)
def test_weak_passwords_name_the_rule_they_break(username, new, current, rule):
    with pytest.raises(InvalidInput, match=rule):
        check_password_policy(username, new, current)


def test_a_password_that_meets_every_rule_passes():
    check_password_policy("alice", "Correct-Horse-Battery-9", "old-password-1")
    check_password_policy("alice", "x" * 10)
    check_password_policy("alice", "x" * 256)
