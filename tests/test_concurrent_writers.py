"""Eight processes writing at once, on SQLite and on PostgreSQL: no lost or duplicated write, no broken rule.

Several kernels (one per browser tab) and several servers share one database. SQLite serialises writers
with its file lock; on PostgreSQL the same rules hold through row locks, conditional updates and unique
indexes (docs/decisions.md, "PostgreSQL for real"). Each round of tests/support/concurrent_writers.py
releases eight processes together into conflicting writes; the counts below are what must come out:

- one account per name whatever its case; one model per name;
- every wrong password counted (8 × 5 = 40 with the lockout threshold raised out of the way);
- one submission per single-use upload token;
- usage records idempotent per timestamp (the shared ones stored once, each process's own all stored);
- each queued job claimed by exactly one worker;
- eight admins demoting themselves at once leave exactly one admin.
"""
from __future__ import annotations

import multiprocessing
from collections import Counter

from helpers import PASSWORDS, submission_body
from sqlalchemy import func, select, update

from tests.support import concurrent_writers as cw
from vision_widgets.core.identity.passwords import hash_password
from vision_widgets.core.identity.rbac import ADMIN
from vision_widgets.core.storage import schema
from vision_widgets.services import jobs, registration, submissions

PROCESSES = 8
JOBS = 16
#: A safety bound on waiting for the processes (never a figure the test asserts on).
PATIENCE = 300


def _prepare(ctx, login) -> dict:
    """The shared state every round starts from, made by one process before the others start."""
    from helpers import demo_spec

    with ctx.store.write() as conn:
        t = schema.users
        conn.execute(update(t).values(role="user"))
        conn.execute(update(t).where(t.c.username.in_(cw.RACERS)).values(role=ADMIN))
    admin = login(cw.RACERS[1])
    registration.register_model(ctx, admin, demo_spec("Token model", restricted=True))
    token, _ = submissions.issue_upload_token(ctx, admin, "Token model")
    queued = [jobs.submit_job(ctx, admin, jobs.REGISTER_MODEL, {"name": f"m{i}"}, title=f"m{i}").id
              for i in range(JOBS)]
    return {"hash": hash_password(PASSWORDS[cw.TARGET]), "token": token, "jobs": queued,
            "body": submission_body("Token model"), "start": ctx.now().replace(microsecond=0), "now": ctx.now()}


def _race(settings, shared: dict) -> dict[int, dict]:
    env = {"VISION_HOME": str(settings.home), "VISION_USERS_FILE": str(settings.users_file),
           "VISION_DATABASE_URL": settings.database_url, "VISION_LOCKOUT_THRESHOLD": "1000"}
    if settings.secret_key:
        env["VISION_SECRET_KEY"] = settings.secret_key
    spawn = multiprocessing.get_context("spawn")  # fresh interpreters, as separate kernels and servers are
    barrier, results = spawn.Barrier(PROCESSES), spawn.Queue()
    procs = [spawn.Process(target=cw.run, args=(env, i, shared, barrier, results)) for i in range(PROCESSES)]
    for p in procs:
        p.start()
    try:
        outcomes = dict(results.get(timeout=PATIENCE) for _ in procs)
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
    return outcomes


def _count(ctx, table, where=None) -> int:
    query = select(func.count()).select_from(table)
    with ctx.store.read() as conn:
        return conn.execute(query if where is None else query.where(where)).scalar_one()


def test_eight_processes_writing_at_once_lose_nothing_and_break_no_rule(ctx, login, database):
    shared = _prepare(ctx, login)
    outcomes = _race(ctx.settings, shared)

    errors = {(i, k): v for i, o in outcomes.items() for k, v in o.items() if isinstance(v, str) and v.startswith("error")}
    assert not errors, "\n".join(f"{k}: {v}" for k, v in errors.items())
    by_round = {name: [outcomes[i][name] for i in range(PROCESSES)] for name, _ in cw.ROUNDS}
    u = schema.users

    assert Counter(by_round["account names"]) == {"ok": 1, "conflict": 7}
    assert _count(ctx, u, func.lower(u.c.username) == "racer") == 1

    assert Counter(by_round["model names"]) == {"ok": 1, "conflict": 7}
    assert _count(ctx, schema.models, schema.models.c.name_key == "race model") == 1

    assert by_round["failed logins"] == [cw.GUESSES] * PROCESSES
    with ctx.store.read() as conn:
        counted = conn.execute(select(u.c.failed_logins).where(u.c.username == cw.TARGET)).scalar_one()
    assert counted == PROCESSES * cw.GUESSES, "a failed login was lost"

    assert Counter(by_round["upload token"]) == {"ok": 1, "refused": 7}
    model_id = registration_id(ctx, "Token model")
    assert _count(ctx, schema.profiles, (schema.profiles.c.model_id == model_id)
                  & (schema.profiles.c.kind == "reference")) == 1

    expected_usage = cw.SHARED_RECORDS + PROCESSES * cw.OWN_RECORDS
    assert sum(by_round["usage records"]) == expected_usage
    assert _count(ctx, schema.usage_records) == expected_usage

    claims = [job for claimed in by_round["job claims"] for job in claimed]
    assert sorted(claims) == sorted(shared["jobs"]), "a job was claimed twice or not at all"

    assert Counter(by_round["last admin"]) == {"ok": PROCESSES - 1, "conflict": 1}
    assert _count(ctx, u, u.c.role == ADMIN) == 1


def registration_id(ctx, name: str) -> int:
    with ctx.store.read() as conn:
        return conn.execute(select(schema.models.c.id).where(schema.models.c.name == name)).scalar_one()
