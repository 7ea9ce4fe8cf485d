"""Background jobs as people see them: submit work that outlives the tab, follow it from any tab.

A user follows the jobs they submitted; an admin may follow everyone's (the
platform-monitoring permission). Submitting a kind of job needs the permission
of what the job does — a registration job, ``register models`` — and the
worker checks it again, against the account as it is when the job runs.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from vision_widgets.core.context import Context
from vision_widgets.core.errors import InvalidInput, PermissionDenied
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission, has, require
from vision_widgets.core.jobs import queue, records
from vision_widgets.core.jobs.records import Job
from vision_widgets.services.sessions import acting

__all__ = ["REGISTER_MODEL", "RECOMPUTE_DRIFT", "PULL_PRODUCTION", "SUBMITTABLE", "Job", "get_job", "list_jobs", "submit_job"]

#: Kind of the job that profiles a model's open data and registers it.
REGISTER_MODEL = "register model"

#: Kind of the job that recomputes a model's stored drift reports after its drift settings changed.
#: Queued only by ``services.drift_settings.save_settings`` (in the transaction that stores the settings),
#: so it is not in ``SUBMITTABLE``.
RECOMPUTE_DRIFT = "recompute drift"

#: Kind of the job that reads a model's new production data through its connector (a scheduled pull).
#: Queued by ``services.scheduled_pulls`` (the periodic task, or "pull now" by the model's owner or an
#: admin), which checks who may; so it is not in ``SUBMITTABLE`` either.
PULL_PRODUCTION = "pull production"

#: The kinds a person may submit, and the permission each needs.
SUBMITTABLE: dict[str, Permission] = {
    REGISTER_MODEL: Permission.REGISTER_MODEL,
}


def submit_job(ctx: Context, principal: Principal, kind: str, params: Mapping[str, Any], title: str = "") -> Job:
    """Queue a job of ``kind`` acting as the principal; a worker runs it even if the tab closes.

    ``params`` are stored in clear (never a secret; ``InvalidInput`` otherwise).
    The job is stored first and then announced to the workers: if the queue is
    unreachable the job still runs, once a worker's reclaimer finds it.
    """
    permission = SUBMITTABLE.get(kind)
    if permission is None:
        raise InvalidInput(f"There is no job kind {kind!r}; choose one of: {', '.join(SUBMITTABLE)}.", field="kind")
    me = acting(ctx, principal, permission)
    with ctx.store.write() as conn:
        job = records.insert(conn, kind=kind, actor=me.username, title=title or kind, params=params,
                             now=ctx.now(), max_attempts=ctx.settings.job_max_attempts)
    queue.notify(ctx.settings, job.id)
    return job


def list_jobs(ctx: Context, principal: Principal, *, kind: str | None = None, states: Sequence[str] | None = None,
              everyone: bool = False, limit: int = 20) -> list[Job]:
    """The principal's jobs, newest first (``everyone=True``: every user's, for admins).

    ``kind`` and ``states`` narrow the list (e.g. the Register page's running registrations).
    """
    me = acting(ctx, principal, Permission.VIEW_OWN_JOBS)
    if everyone:
        require(me, Permission.VIEW_MONITORING)
    with ctx.store.read() as conn:
        return records.find(conn, actor=None if everyone else me.username, kind=kind, states=states, limit=limit)


def get_job(ctx: Context, principal: Principal, job_id: int) -> Job:
    """Job ``job_id``, if the principal submitted it or is an admin (``NotFound`` if there is none)."""
    me = acting(ctx, principal, Permission.VIEW_OWN_JOBS)
    with ctx.store.read() as conn:
        job = records.get(conn, job_id)
    if job.actor != me.username and not has(me, Permission.VIEW_MONITORING):
        raise PermissionDenied(f"Job {job_id} belongs to another user; you may follow only your own jobs.")
    return job
