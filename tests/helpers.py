"""Shared test helpers: the sample accounts' passwords and a clock tests can move."""
from __future__ import annotations

import threading
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


# -- headless widget helpers -------------------------------------------------------------
def log_in_through_the_form(app, username: str, password: str | None = None) -> None:
    """Type into the login view of ``app`` and click "Log in", as a person would."""
    from vision_widgets.views.login import LoginView

    assert isinstance(app.view, LoginView), f"expected the login form, got {type(app.view).__name__}"
    app.view.username.value = username
    app.view.password.value = PASSWORDS[username] if password is None else password
    app.view.submit.click()


def live_widgets() -> list:
    """Every widget alive in this process: what a Voila page's browser could read."""
    from ipywidgets.widgets import widget

    return list(widget._instances.values())


def synced_text() -> str:
    """All string values of every synced trait of every live widget, joined (to search for secrets)."""
    parts: list[str] = []
    for widget in live_widgets():
        for value in widget.get_state().values():
            if isinstance(value, str):
                parts.append(value)
            elif isinstance(value, (list, tuple)):
                parts.extend(str(v) for v in value)
    return "\n".join(parts)


def labels_text(root) -> list[str]:
    """The ``value`` of every Label-like widget under ``root`` (what the page says as text)."""
    import ipywidgets as w

    found: list[str] = []

    def walk(node):
        if isinstance(node, w.Label):
            found.append(node.value)
        for child in getattr(node, "children", ()):
            walk(child)

    walk(root)
    return found


# -- model registry helpers --------------------------------------------------------------
#: Small demo datasets (rows) so a registration takes well under a second.
SMALL_TRAIN_ROWS = 1500
SMALL_WEEKLY_ROWS = 250
XSS_NAME = "<img src=x onerror=alert(1)>"


def demo_frames(model_name: str = "Fraud detection", train_rows: int = SMALL_TRAIN_ROWS,
                weekly_rows: int = SMALL_WEEKLY_ROWS):
    """(training, production) DataFrames of one demo model (seeded, so always the same)."""
    from vision_widgets.demo import datasets

    model = next(m for m in datasets.MODELS if m.name == model_name)
    train, prod = _FRAMES.get((model_name, train_rows, weekly_rows)) or datasets.generate(model, train_rows, weekly_rows)
    _FRAMES[(model_name, train_rows, weekly_rows)] = (train, prod)
    return train.copy(), prod.copy()


_FRAMES: dict = {}


def write_demo_files(folder: Path, model_name: str = "Fraud detection", prefix: str = "fraud", **sizes):
    """Write a demo model's training and production CSVs into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    train, prod = demo_frames(model_name, **sizes)
    paths = folder / f"{prefix}_training.csv", folder / f"{prefix}_production.csv"
    train.to_csv(paths[0], index=False)
    prod.to_csv(paths[1], index=False)
    return paths


def demo_spec(name: str, training="", production="", model_name: str = "Fraud detection", **overrides):
    """The ModelSpec a person would fill in for a demo model's files."""
    from vision_widgets.demo import datasets
    from vision_widgets.services.registration import ModelSpec

    m = next(m for m in datasets.MODELS if m.name == model_name)
    fields = dict(name=name, task=m.task, description=m.description, platform=m.platform, target=m.target,
                  prediction=m.prediction, timestamp=m.timestamp, exclude=m.exclude,
                  training=str(training), production=str(production))
    fields.update(overrides)
    return ModelSpec(**fields)


def model_rows(ctx) -> dict[str, int]:
    """How many rows each model-registry table holds (to prove nothing was half-written)."""
    from sqlalchemy import func, select

    from vision_widgets.core.storage import schema

    with ctx.store.read() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (schema.models, schema.profiles, schema.drift_reports, schema.upload_tokens)}


def signed_in_state(principal):
    """An ``AppState`` with ``principal`` logged in (to build one page without the whole shell)."""
    from vision_widgets.state import AppState

    state = AppState()
    state.sign_in(principal)
    return state


def client_profiles(model_name: str = "Fraud detection", k: int = 10, production_rows: slice | None = None):
    """(reference, production) profiles of a demo model computed as the client notebook does."""
    from vision_widgets import client
    from vision_widgets.demo import datasets

    m = next(m for m in datasets.MODELS if m.name == model_name)
    key = (model_name, k, None if production_rows is None else (production_rows.start, production_rows.stop))
    if key not in _PROFILES:
        train, prod = demo_frames(model_name)
        if production_rows is not None:
            prod = prod.iloc[production_rows]
        roles = client.Roles(target=m.target, prediction=m.prediction, timestamp=m.timestamp, exclude=m.exclude)
        reference = client.profile(train, roles, k=k)
        _PROFILES[key] = (reference, client.profile(prod, reference=reference, k=k, window="7D"))
    return _PROFILES[key]


_PROFILES: dict = {}


def submission_body(model: str, ref_profile=None, prod_profile=None, label: str = "", with_reference: bool = True,
                    **changes) -> bytes:
    """A submission JSON (bytes) as the client notebook writes it (fraud demo profiles unless given);
    ``changes`` then replace top-level fields (e.g. ``production={...}``)."""
    import json

    from vision_widgets import client

    ref, prod = client_profiles()
    body = client.submission(model, (ref_profile or ref) if with_reference else None, prod_profile or prod,
                             label=label)
    body.update(changes)
    return json.dumps(body).encode("utf-8")


def all_at_once(call, times: int) -> list:
    """``call()`` in ``times`` threads released together by a barrier: the results, in finishing order."""
    results: list = []
    start = threading.Barrier(times)

    def run():
        start.wait()
        results.append(call())

    threads = [threading.Thread(target=run) for _ in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def lose_secret_key(ctx) -> None:
    """What a server sees once the key its secrets were sealed with is gone: on SQLite the key file
    deleted, on a shared database a ``VISION_SECRET_KEY`` that is not the one they were sealed with."""
    import dataclasses

    from cryptography.fernet import Fernet

    from vision_widgets.core.secrets import KEY_FILE

    if ctx.settings.uses_sqlite:
        (ctx.settings.home / KEY_FILE).unlink()
    else:  # Context is frozen: this is the same server restarted with another key
        object.__setattr__(ctx, "settings", dataclasses.replace(ctx.settings, secret_key=Fernet.generate_key().decode()))


def stored_text(ctx) -> str:
    """Every value of every table of the app's schema, as text: what a database dump would show."""
    from sqlalchemy import select

    from vision_widgets.core.storage import schema

    with ctx.store.read() as conn:
        return "\n".join(repr(tuple(row)) for table in schema.metadata.sorted_tables
                         for row in conn.execute(select(table)))
