"""Shared test helpers: the sample accounts' passwords and a clock tests can move."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
USERS_JSON = REPO_ROOT / "users.json"

#: The demo passwords of users.json (README lists them too).
PASSWORDS: dict[str, str] = {
    "datascientist_user": "ds_user123",
    "datascientist_admin": "ds_admin123",
    "productowner_user": "po_user123",
    "productowner_admin": "po_admin123",
    "sre_user": "sre_user123",
    "sre_admin": "sre_admin123",
    "mlengineer_user": "ml_user123",
    "mlengineer_admin": "ml_admin123",
    "appowner_user": "app_user123",
    "appowner_admin": "app_admin123",
}

USER = "datascientist_user"
OTHER_USER = "productowner_user"
ADMIN = "datascientist_admin"
OTHER_ADMIN = "sre_admin"

#: A password that satisfies the policy for any sample account.
STRONG = "Correct-Horse-Battery-9"

START = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


class FakeClock:
    """A clock that stands still until a test moves it (``Context.clock`` is any callable)."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0, **kwargs: float) -> datetime:
        self.now += timedelta(seconds=seconds, **kwargs)
        return self.now
