"""The task queue (huey): how "job N is ready" reaches a worker, and where periodic work is scheduled.

The queue carries only job ids; the ``jobs`` table is the truth (see the
package notes). Which broker, from ``Settings.queue_url``:

* ``sqlite:///path`` — SqliteHuey, one file; the default is ``queue.db`` in
  ``VISION_HOME`` when the database is SQLite (one machine, nothing to install);
* ``postgresql://…`` — PostgresHuey, in the database itself (the default when
  the database is PostgreSQL: the database stays the only state servers share;
  needs the ``psycopg`` package);
* ``redis://…`` — RedisHuey, for many workers on several machines (needs ``redis``).

Kernels only enqueue; the task's body is given by ``vision worker`` alone. Both
register the same task name, which is how huey finds the function for a message.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from sqlalchemy import make_url

from vision_widgets.core.config import Settings
from vision_widgets.core.errors import ConfigurationError

log = logging.getLogger(__name__)

#: The huey queue name (a broker may hold other applications' queues).
QUEUE_NAME = "vision"
#: The one task: "run job N".
RUN_JOB = "vision.run_job"


def queue_url(settings: Settings) -> str:
    """The broker URL: ``settings.queue_url``, else beside (SQLite) or inside (PostgreSQL) the database."""
    if settings.queue_url:
        return settings.queue_url
    if settings.uses_sqlite:
        return f"sqlite:///{settings.home / 'queue.db'}"
    return settings.database_url


def open_huey(settings: Settings):
    """A huey instance on the configured broker (results are kept in the ``jobs`` table, not by huey)."""
    url = queue_url(settings)
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    common: dict[str, Any] = {"name": QUEUE_NAME, "results": False, "utc": True}
    if scheme == "sqlite":
        from huey import SqliteHuey

        path = make_url(url).database
        if not path:
            raise ConfigurationError(f"VISION_QUEUE_URL={url!r} names no file; use sqlite:////absolute/path/queue.db.")
        return SqliteHuey(filename=path, timeout=10, **common)
    if scheme in ("postgresql", "postgres"):
        from huey import PostgresHuey  # huey >= 3.5 (pyproject)

        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            return PostgresHuey(dsn=dsn, **common)
        except Exception as exc:  # huey's own ConfigurationError when psycopg is missing
            raise ConfigurationError(
                f"The job queue cannot use PostgreSQL ({exc}); install psycopg (`pip install psycopg`), "
                "or set VISION_QUEUE_URL to a redis:// or sqlite:/// URL."
            ) from None
    if scheme in ("redis", "rediss", "unix"):
        from huey import RedisHuey

        try:
            import redis  # noqa: F401 - only to give a clear message
        except ImportError:
            raise ConfigurationError("VISION_QUEUE_URL is a Redis URL: install redis (`pip install redis`).") from None
        return RedisHuey(url=url, **common)
    raise ConfigurationError(
        f"VISION_QUEUE_URL must be a sqlite:///, postgresql:// or redis:// URL, not {scheme}://…"
    )


def _only_in_worker(job_id: int) -> None:  # pragma: no cover - replaced in the worker
    raise RuntimeError(f"job {job_id}: only `vision worker` runs jobs")


class JobQueue:
    """The broker plus Vision's task, ``run_job(job_id)``; ``run`` is given only by the worker."""

    def __init__(self, settings: Settings, run: Callable[[int], None] | None = None) -> None:
        self.huey = open_huey(settings)
        body = run or _only_in_worker

        def run_job(job_id: int) -> None:
            body(int(job_id))

        # Defined here, so the message names the same "<this module>.vision.run_job" in every process.
        self._run_job = self.huey.task(name=RUN_JOB)(run_job)

    def enqueue(self, job_id: int) -> None:
        """Tell a worker that job ``job_id`` is ready."""
        self._run_job(job_id)

    def periodic(self, name: str, when: Callable[[Any], bool], fn: Callable[[], None]) -> None:
        """Run ``fn`` on a worker whenever ``when(datetime)`` holds (huey's ``crontab``: minute resolution)."""
        self.huey.periodic_task(when, name=name)(fn)

    def close(self) -> None:
        """Close the broker connection."""
        try:
            self.huey.storage.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            log.debug("closing the job queue failed", exc_info=True)


def notify(settings: Settings, job_id: int) -> bool:
    """Enqueue job ``job_id`` from a kernel or the CLI; ``False`` (and a warning) if the broker is unreachable.

    Never fatal: the job is already stored as queued, and a worker's reclaimer
    enqueues jobs whose message was lost.
    """
    queue = None
    try:
        queue = JobQueue(settings)
        queue.enqueue(job_id)
        return True
    except Exception as exc:  # noqa: BLE001 - the reclaimer covers a lost message
        log.warning("job %s is stored but its queue message was not sent (%s); a worker will pick it up "
                    "when its reclaimer runs", job_id, exc)
        return False
    finally:
        if queue is not None:
            queue.close()
