"""One of the eight processes of tests/test_concurrent_writers.py: conflicting writes, started together.

Each process opens its own Context on the shared database (as a kernel or a server does), then runs
every round of ``ROUNDS`` in step with the others: a barrier releases all eight into a round at once,
so their transactions overlap. A round returns what this process saw (``"ok"``, ``"conflict"``, how
many it stored…); the test adds them up against what the database holds afterwards.
"""
from __future__ import annotations

import time
import traceback
from datetime import timedelta

#: Accounts the rounds act as; the test makes them exactly the admins.
RACERS = ("datascientist_user", "datascientist_admin", "productowner_user", "productowner_admin",
          "sre_user", "sre_admin", "mlengineer_user", "mlengineer_admin")
NAME_CASES = ("racer", "RACER", "Racer", "rACER", "RaCeR", "rAcEr", "RACer", "racER")
#: The account whose failed logins are counted, and how many wrong passwords each process sends.
TARGET = "appowner_user"
GUESSES = 5
#: Usage records each process sends for the same timestamps, and for its own.
SHARED_RECORDS = 40
OWN_RECORDS = 10


def _round_account_names(ctx, index, shared):
    from vision_widgets.core.errors import Conflict
    from vision_widgets.core.identity import users

    name = NAME_CASES[index]  # one name in eight spellings: usernames are unique ignoring case
    try:
        with ctx.store.write() as conn:
            users.insert(conn, users.NewAccount(username=name, persona="Data Scientist", role="user"),
                         shared["hash"], ctx.now())
        return "ok"
    except Conflict:
        return "conflict"


def _round_model_names(ctx, index, shared):
    from helpers import demo_spec

    from vision_widgets.core.errors import Conflict, InvalidInput
    from vision_widgets.services import registration

    spec = demo_spec("Race model" if index % 2 else "RACE MODEL", restricted=True)
    try:
        registration.register_model(ctx, shared["principal"], spec)
        return "ok"
    except Conflict:  # found taken inside the storing transaction
        return "conflict"
    except InvalidInput as exc:  # found taken by the form's check, before it
        if "already exists" not in str(exc):
            raise
        return "conflict"


def _round_failed_logins(ctx, index, shared):
    from vision_widgets.core.errors import AuthenticationError
    from vision_widgets.core.identity import auth

    refused = 0
    for _ in range(GUESSES):
        try:
            auth.login(ctx, TARGET, "not the password")
        except AuthenticationError:
            refused += 1
    return refused


def _round_upload_token(ctx, index, shared):
    from vision_widgets.core.errors import AuthenticationError, Conflict, InvalidInput
    from vision_widgets.services import submissions

    try:
        submissions.submit_with_token(ctx, shared["token"], "Token model", shared["body"])
        return "ok"
    except (AuthenticationError, Conflict):  # the token spent, or the training profile stored, meanwhile
        return "refused"
    except InvalidInput as exc:  # a later one: the training profile was there before it began
        if "already has a training profile" not in str(exc):
            raise
        return "refused"


def _round_usage(ctx, index, shared):
    from vision_widgets.services import usage

    start = shared["start"]
    same = [{"timestamp": (start + timedelta(minutes=i)).isoformat(), "predictions": 100 + i, "compute_hours": 0.5}
            for i in range(SHARED_RECORDS)]
    own = [{"timestamp": (start + timedelta(days=1, minutes=index * OWN_RECORDS + i)).isoformat(), "predictions": 7,
            "compute_hours": 0.1} for i in range(OWN_RECORDS)]
    done = usage.ingest(ctx, shared["principal"], "Token model", same + own, "api")
    return done.stored


def _round_job_claims(ctx, index, shared):
    from vision_widgets.core.jobs import lease

    claimed = []
    for job_id in shared["jobs"]:
        with ctx.store.write() as conn:
            if lease.claim(conn, job_id, f"racer-{index}", ctx.now(), timedelta(minutes=5)) is not None:
                claimed.append(job_id)
    return claimed


def _round_last_admin(ctx, index, shared):
    from vision_widgets.core.errors import Conflict
    from vision_widgets.core.identity import users

    try:
        with ctx.store.write() as conn:
            users.set_role(conn, RACERS[index], "user")
        return "ok"
    except Conflict:
        return "conflict"


ROUNDS = (
    ("account names", _round_account_names),
    ("model names", _round_model_names),
    ("failed logins", _round_failed_logins),
    ("upload token", _round_upload_token),
    ("usage records", _round_usage),
    ("job claims", _round_job_claims),
    ("last admin", _round_last_admin),  # last: it demotes the accounts the other rounds act as
)


def run(env: dict, index: int, shared: dict, barrier, results) -> None:
    """Process ``index``: every round after the barrier; puts ``(index, {round: outcome})`` on ``results``."""
    outcome: dict = {}
    try:
        from vision_widgets.core.config import load_settings
        from vision_widgets.core.context import Context
        from vision_widgets.core.identity import auth

        # the parent's (fake) time, running on: the token and the records are dated by it
        started, base = time.monotonic(), shared["now"]
        ctx = Context.open(load_settings(env), clock=lambda: base + timedelta(seconds=time.monotonic() - started))
        from helpers import PASSWORDS

        shared = dict(shared, principal=auth.login(ctx, RACERS[index], PASSWORDS[RACERS[index]]).principal)
        for name, play in ROUNDS:
            barrier.wait(timeout=120)
            try:
                outcome[name] = play(ctx, index, shared)
            except Exception:  # noqa: BLE001 - an unexpected error is a finding the test reports
                outcome[name] = "error: " + traceback.format_exc(limit=3)
        ctx.store.dispose()
    except Exception:  # noqa: BLE001
        outcome["setup"] = "error: " + traceback.format_exc(limit=3)
        barrier.abort()
    results.put((index, outcome))
