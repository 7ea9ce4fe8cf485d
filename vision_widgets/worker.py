"""``vision worker``: runs background jobs and the periodic schedule, so work outlives browser tabs.

The task library is huey (why: ``docs/decisions.md``). Its consumer takes
messages from the queue ("job N is ready") on a few threads and enqueues the
periodic tasks on schedule; everything about a job's fate is decided in the
``jobs`` table (``core.jobs``):

* ``Runner.run(job_id)`` — huey's task body — claims the job with a lease, runs
  its handler as the account that submitted it, and records how it ended. A
  handler's effect and the "done" mark are one transaction, guarded by the lease.
* ``Heartbeat`` — a thread — every third of a lease: records this worker's
  heartbeat (the health endpoint reads it), extends the leases of the jobs it is
  running, and reclaims jobs whose worker died (expired lease) or whose message
  was lost, putting them in the queue again. A database that cannot be reached
  is retried with a growing delay, logged, and the worker carries on when it is back.
* Periodic tasks (``PERIODIC``): every worker's scheduler enqueues them, and each
  run first claims its period in the database (``core.jobs.periodic``), so one run
  a period does the work however many workers there are.
* On SIGTERM/SIGINT the consumer stops, and the jobs still running are given
  back (queued again) for the next worker; ``kill -9`` gives nothing back, and
  the leases running out do the same a little later.

``vision serve`` runs one worker as a child process (``WorkerProcess``), unless
``--no-worker``: then run ``vision worker`` yourself, as many as you like, on
any machine that reaches the database and the queue.
"""
from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from vision_widgets.core.bounded import BoundedCall
from vision_widgets.core.config import Settings
from vision_widgets.core.context import Context
from vision_widgets.core.errors import ConfigurationError, InvalidInput, VisionError
from vision_widgets.core.jobs import lease, records, workers
from vision_widgets.core.jobs.lease import LeaseLost
from vision_widgets.core.jobs.queue import JobQueue, queue_url
from vision_widgets.core.jobs.runs import JobRun
from vision_widgets.core.storage.engine import Store
from vision_widgets.services import jobs, registration, sessions

log = logging.getLogger("vision.worker")
T = TypeVar("T")

#: What a handler is: the job run in, its result out (or ``None`` when it called ``run.finish`` itself).
Handler = Callable[[JobRun], "Mapping[str, Any] | None"]

#: Errors that mean "the database cannot be reached right now": retried, never a job's failure.
UNREACHABLE = (OperationalError, InterfaceError, PoolTimeout)
#: Longest wait between two attempts to reach the database.
MAX_BACKOFF_SECONDS = 30.0
#: A queued job not claimed for this many leases lost its message: the reclaimer sends another.
LOST_AFTER_LEASES = 4

UNEXPECTED = (
    "The job stopped on an unexpected error and nothing of it was stored. Try again; if it keeps "
    "failing, tell an administrator (the worker's log has the details of job {id})."
)


# --------------------------------------------------------------------------------------------
# Handlers: one per job kind
# --------------------------------------------------------------------------------------------
def register_model(run: JobRun) -> None:
    """Profile a model's open data and register it, as the account that submitted the job.

    The model, its profiles, drift report, audit entry and the job's "done"
    are one transaction: a retry finds either nothing or a finished job.
    """
    principal = sessions.on_behalf_of(run.ctx, run.job.actor)
    spec = registration.ModelSpec.from_params(run.params)
    registration.register_model(run.ctx, principal, spec, progress=run.progress,
                                in_transaction=lambda conn, done: run.finish(conn, done.summary()))


def recompute_drift(run: JobRun) -> None:
    """Recompute a model's stored drift reports with its drift settings, as the account that saved them.

    The replaced reports and the job's "done" are one transaction (all reports or none).
    """
    from vision_widgets.services import drift_settings

    principal = sessions.on_behalf_of(run.ctx, run.job.actor)
    drift_settings.recompute_reports(run.ctx, principal, str(run.params["model"]), progress=run.progress,
                                     in_transaction=lambda conn, done: run.finish(conn, done.summary()))


def pull_production(run: JobRun) -> None:
    """Read a model's new production data through its connector and add it, as the job's account.

    The batches, the model's ``pulled_at`` and the job's "done" are one transaction;
    "no new data" is a done job too.
    """
    from vision_widgets.services import scheduled_pulls

    principal = sessions.on_behalf_of(run.ctx, run.job.actor)
    scheduled_pulls.run_pull(run.ctx, principal, str(run.params["model"]), progress=run.progress,
                             in_transaction=lambda conn, done: run.finish(conn, done.summary()))


#: The handler of each job kind.
HANDLERS: Mapping[str, Handler] = MappingProxyType({
    jobs.REGISTER_MODEL: register_model,
    jobs.RECOMPUTE_DRIFT: recompute_drift,
    jobs.PULL_PRODUCTION: pull_production,
})


# --------------------------------------------------------------------------------------------
# Running one job
# --------------------------------------------------------------------------------------------
class Runner:
    """Claims and runs jobs for the worker ``worker_id``; ``run(job_id)`` is the queue task's body."""

    def __init__(self, ctx: Context, worker_id: str, handlers: Mapping[str, Handler] = HANDLERS) -> None:
        self.ctx = ctx
        self.id = worker_id
        self.handlers = dict(handlers)
        self.lease = timedelta(seconds=ctx.settings.job_lease_seconds)
        self._running: set[int] = set()
        self._lock = threading.Lock()

    def running(self) -> tuple[int, ...]:
        """Ids of the jobs this worker's threads are running now (the heartbeat extends only these)."""
        with self._lock:
            return tuple(self._running)

    def run(self, job_id: int) -> None:
        """Claim job ``job_id`` and run it; nothing happens if another worker has it or it has ended."""
        try:
            with self.ctx.store.write() as conn:
                job = lease.claim(conn, job_id, self.id, self.ctx.now(), self.lease)
        except UNREACHABLE as exc:
            log.warning("job %s: cannot claim it, the database is unreachable (%s); it stays queued and "
                        "the reclaimer sends it again", job_id, _short(exc))
            return
        if job is None:
            log.info("job %s: already taken by another worker, finished, or out of attempts", job_id)
            return
        log.info("job %s (%s, for %s): attempt %d of %d", job.id, job.kind, job.actor, job.attempts, job.max_attempts)
        with self._lock:
            self._running.add(job.id)
        try:
            self._run(job)
        finally:
            with self._lock:
                self._running.discard(job.id)

    def _run(self, job: records.Job) -> None:
        run = JobRun(self.ctx, job, self.id, self.lease)
        try:
            handler = self.handlers.get(job.kind)
            if handler is None:
                raise InvalidInput(f"This worker cannot run jobs of kind {job.kind!r}; update Vision AI on the "
                                   "machine that runs `vision worker`.")
            result = handler(run)
            if not run.finished:
                with self.ctx.store.write() as conn:
                    run.finish(conn, result or {})
            log.info("job %s: done", job.id)
        except LeaseLost:
            log.warning("job %s: this worker lost its lease (another took the job over); its work is dropped", job.id)
        except UNREACHABLE as exc:
            # Not the job's fault: stop extending its lease, so it is reclaimed and retried.
            log.warning("job %s: the database became unreachable (%s); the job will be retried once its "
                        "lease runs out", job.id, _short(exc))
        except VisionError as exc:
            self._fail(job, str(exc))
        except Exception:  # noqa: BLE001 - a job's bug must not take the worker down
            log.exception("job %s: unexpected error", job.id)
            self._fail(job, UNEXPECTED.format(id=job.id))

    def _fail(self, job: records.Job, reason: str) -> None:
        try:
            with self.ctx.store.write() as conn:
                lease.fail(conn, job.id, self.id, reason, self.ctx.now())
            log.info("job %s: failed: %s", job.id, reason)
        except LeaseLost:
            log.warning("job %s: lost its lease before its failure could be recorded", job.id)
        except UNREACHABLE as exc:
            log.warning("job %s: failed, but the database is unreachable (%s); it will be retried", job.id, _short(exc))

    def run_queued(self) -> int:
        """Run every job queued now, oldest first, in this thread; returns how many were looked at.

        ``vision worker --once`` (a pipeline or cron runs the queue and exits).
        """
        with self.ctx.store.read() as conn:
            queued = records.find(conn, states=[records.QUEUED], limit=500)
        for job in reversed(queued):
            self.run(job.id)
        return len(queued)


# --------------------------------------------------------------------------------------------
# The heartbeat: liveness, leases, reclaiming
# --------------------------------------------------------------------------------------------
class Heartbeat(threading.Thread):
    """Every third of a lease: this worker's heartbeat, its leases extended, lost jobs reclaimed."""

    def __init__(self, ctx: Context, runner: Runner, queue: JobQueue, stop: threading.Event,
                 parent_pid: int | None = None) -> None:
        super().__init__(name="vision-heartbeat", daemon=True)
        self.ctx = ctx
        self.runner = runner
        self.queue = queue
        self.stop = stop
        self.parent_pid = parent_pid
        self.interval = max(0.5, ctx.settings.job_lease_seconds / 3)
        self.lost_after = timedelta(seconds=ctx.settings.job_lease_seconds * LOST_AFTER_LEASES)
        self.host = socket.gethostname()

    def beat(self) -> lease.Reclaimed:
        """One heartbeat (raises when the database cannot be reached)."""
        now = self.ctx.now()
        with self.ctx.store.write() as conn:
            workers.beat(conn, self.runner.id, self.host, os.getpid(), now)
            lease.extend(conn, self.runner.id, self.runner.running(), now, self.runner.lease)
        with self.ctx.store.write() as conn:
            reclaimed = lease.reclaim(conn, now, self.lost_after)
        for job_id in reclaimed.given_up:
            log.warning("job %s: its workers stopped under it too often; marked failed", job_id)
        for job_id in reclaimed.requeued:
            log.info("job %s: reclaimed (its worker stopped, or its message was lost); queued again", job_id)
            self.queue.enqueue(job_id)
        return reclaimed

    def run(self) -> None:
        delay, down_since = self.interval, None
        while not self.stop.is_set():
            wait = self.interval
            try:
                self.beat()
                if down_since is not None:
                    log.info("database reachable again after %.0f s; heartbeats resumed", time.monotonic() - down_since)
                down_since, delay = None, self.interval
            except UNREACHABLE as exc:
                down_since = down_since if down_since is not None else time.monotonic()
                log.warning("database unreachable (%s); retrying in %.1f s", _short(exc), delay)
                wait, delay = delay, min(delay * 2, MAX_BACKOFF_SECONDS)
                self.ctx.store.engine.dispose()  # pooled connections died with it: open new ones next time
            except Exception:  # noqa: BLE001 - e.g. the queue is down: keep beating
                log.exception("heartbeat failed; retrying in %.1f s", self.interval)
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                log.warning("the server that started this worker (pid %s) is gone; stopping", self.parent_pid)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            self.stop.wait(wait)


# --------------------------------------------------------------------------------------------
# Periodic work
# --------------------------------------------------------------------------------------------
#: How long finished jobs, expired upload tokens and silent workers' rows are kept.
KEEP_FINISHED_JOBS = timedelta(days=30)
KEEP_EXPIRED_TOKENS = timedelta(days=7)
KEEP_SILENT_WORKERS = timedelta(days=7)


def purge_expired(ctx: Context) -> dict[str, int]:
    """Delete what has expired: sessions, upload tokens (a week after expiry), old finished jobs, silent workers.

    Idempotent (run once per period anyway, see ``run_once_per_period``). Returns the counts deleted.
    """
    from vision_widgets.core.catalog import upload_tokens
    from vision_widgets.core.identity import sessions as session_records

    now = ctx.now()
    with ctx.store.write() as conn:
        counts = {
            "sessions": session_records.purge_expired(conn, now),
            "upload tokens": upload_tokens.purge_expired(conn, now - KEEP_EXPIRED_TOKENS),
            "finished jobs": records.purge_finished(conn, now - KEEP_FINISHED_JOBS),
            "worker records": workers.forget(conn, now - KEEP_SILENT_WORKERS),
        }
    if any(counts.values()):
        log.info("purged %s", ", ".join(f"{n} {what}" for what, n in counts.items() if n))
    return counts


class BoundedRun:
    """A periodic job's body run in its own daemon thread, waited for at most a deadline.

    The worker has two job threads; a body that hangs (a database that stops answering, a rule
    stuck on a slow query) must not take them from registrations and pulls. So the job thread waits
    ``limit`` seconds and is given back; the body goes on and ends on its own. While it still runs,
    the next period's run is skipped (``busy`` logged), not started beside it. Each periodic task
    that needs this has one ``BoundedRun`` (module level: the worker process runs each task alone).
    """

    def __init__(self, thread_name: str, busy: str, late: str) -> None:
        self.thread_name = thread_name
        self.busy = busy  # logged when a run is skipped: the previous one still runs
        self.late = late  # logged (with the limit, %g) when the job thread is given back
        self._call: BoundedCall | None = None
        self._lock = threading.Lock()

    def run(self, body: Callable[[], T], limit: float) -> tuple[bool, T | None]:
        """(True, what ``body()`` returned) if it ended within ``limit`` seconds; (False, None) if it
        was skipped or is still going. What it raised is raised here."""
        with self._lock:
            if self._call is not None and self._call.running:
                log.warning(self.busy)
                return False, None
            self._call = call = BoundedCall(body, self.thread_name)
        if not call.wait(limit):
            log.warning(self.late, limit)
            return False, None
        return True, call.result()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the body still running, if any (tests; a clean stop)."""
        call = self._call
        if call is not None:
            call.wait(timeout)


#: Seconds the periodic health job may take; past them it gives its job thread back (the checks go on
#: in a daemon thread and a later run is skipped until they end).
RECORD_HEALTH_DEADLINE = 45.0
_recording = BoundedRun("vision-record-health",
                        "health: the previous checks are still running; this minute's are skipped",
                        "health: the checks did not finish within %g s; left to end on their own")


def record_health(ctx: Context, deadline: float | None = None) -> int:
    """Make the platform's health checks and record them (the Monitoring page's history); returns how many.

    Every minute, whether or not anyone has the page open; also prunes the history past a week.
    Bounded by ``RECORD_HEALTH_DEADLINE``: the worker has two job threads, and checks that hang (a
    database that stops answering) must not take them from registrations and pulls. A run still
    going is not started again (returns 0, logged).
    """
    from vision_widgets.services import monitoring

    done, found = _recording.run(lambda: monitoring.record_platform_checks(ctx),
                                 RECORD_HEALTH_DEADLINE if deadline is None else deadline)
    if not done:
        return 0
    failing = [f"{c.check} {c.subject}".strip() for c in found.checks if c.status == "fail"]
    if failing:
        log.warning("health: failing: %s", ", ".join(failing))
    return len(found.checks)


def queue_due_pulls(ctx: Context) -> int:
    """Queue a pull job for each model whose scheduled pull is due (one per model at a time)."""
    from vision_widgets.services import scheduled_pulls

    queued = scheduled_pulls.queue_due_pulls(ctx)
    if queued:
        log.info("queued scheduled pulls: %s", ", ".join(str(j.params.get("model")) for j in queued))
    return len(queued)


#: Seconds the periodic notification run may take before it gives its job thread back (as record_health).
NOTIFY_DEADLINE = 60.0
_notifying = BoundedRun("vision-notify", "notifications: the previous run is still going; this one is skipped",
                        "notifications: the run did not finish within %g s; left to end on their own")


def run_notification_rules(ctx: Context, deadline: float | None = None) -> int:
    """Run every notification rule for every model and the platform; returns how many were new.

    Every five minutes, and after each new production batch (the storing services call the rules
    for that model). Bounded like ``record_health``: a run still going is not started again, and
    past ``NOTIFY_DEADLINE`` the job thread is given back (the run ends on its own; what it
    stored is stored once whatever happens, by the notifications' unique key).
    """
    from vision_widgets.services import notification_runs

    done, result = _notifying.run(lambda: notification_runs.run_rules(ctx),
                                  NOTIFY_DEADLINE if deadline is None else deadline)
    return result.stored if done else 0


def deliver_alerts(ctx: Context) -> int:
    """Plan the alert deliveries of new notifications and send the due ones (bounded; services/alerts.py)."""
    from vision_widgets.services import alerts

    return alerts.run_deliveries(ctx).sent


@dataclass(frozen=True)
class Periodic:
    """A periodic task: its name on the queue, every how many minutes (divides 60), and its body."""

    name: str
    minutes: int
    body: Callable[[Context], Any]

    @property
    def every(self) -> timedelta:
        return timedelta(minutes=self.minutes)

    def crontab(self) -> Callable[[Any], bool]:
        """huey's crontab for it (minute resolution): every minute, or every ``minutes`` from :00."""
        from huey import crontab

        return crontab(minute="*" if self.minutes == 1 else f"*/{self.minutes}")


#: The periodic tasks, each run once per period across all workers (``run_once_per_period``). The
#: bodies are looked up when they run (the lambdas), so a test can replace one.
PERIODIC: tuple[Periodic, ...] = (
    Periodic("vision.purge_expired", 5, lambda ctx: purge_expired(ctx)),
    Periodic("vision.record_health", 1, lambda ctx: record_health(ctx)),
    Periodic("vision.queue_due_pulls", 1, lambda ctx: queue_due_pulls(ctx)),
    Periodic("vision.notification_rules", 5, lambda ctx: run_notification_rules(ctx)),
    Periodic("vision.deliver_alerts", 1, lambda ctx: deliver_alerts(ctx)),
)


def run_once_per_period(ctx: Context, task: Periodic, worker_id: str) -> Any:
    """Run ``task`` if this is the first run of its current period across all workers; its result, or
    ``None`` when another worker's run has this period (or the claim could not be made).

    Every worker's scheduler enqueues every periodic task; the claim (``core.jobs.periodic``, one
    conditional upsert, committed before the body runs) lets one run per period through. A worker
    that dies after its claim loses that period's run: the next period's runs it again.
    """
    from vision_widgets.core.jobs import periodic

    now = ctx.now()
    period = periodic.period_start(now, task.every)
    try:
        with ctx.store.write() as conn:
            mine = periodic.claim(conn, task.name, period, worker_id, now)
    except UNREACHABLE as exc:
        log.warning("%s: not run, the database is unreachable (%s); the next period's run catches up",
                    task.name, _short(exc))
        return None
    if not mine:
        log.debug("%s: the run of the period from %s is another worker's", task.name, period.isoformat())
        return None
    return task.body(ctx)


def schedule(queue: JobQueue, ctx: Context, worker_id: str | None = None) -> None:
    """Register the periodic tasks on the queue (huey's crontab, minute resolution), each run once a period
    across all workers; ``worker_id`` is recorded with this worker's claims."""
    claimant = worker_id or f"{socket.gethostname()}:{os.getpid()}"
    for task in PERIODIC:
        queue.periodic(task.name, task.crontab(), lambda task=task: run_once_per_period(ctx, task, claimant))


# --------------------------------------------------------------------------------------------
# The process
# --------------------------------------------------------------------------------------------
def wait_for_database(settings: Settings, parent_pid: int | None = None) -> Store | None:
    """Open the database, retrying with a growing delay (logged) until it is reachable and initialised.

    ``None`` if the server that started this worker went away meanwhile.
    """
    delay = 1.0
    while True:
        try:
            return Store.open(settings)
        except (ConfigurationError, *UNREACHABLE) as exc:
            log.warning("database unreachable or not ready (%s); retrying in %.0f s", _short(exc), delay)
        time.sleep(delay)
        delay = min(delay * 2, MAX_BACKOFF_SECONDS)
        if parent_pid is not None and os.getppid() != parent_pid:
            log.warning("the server that started this worker (pid %s) is gone; stopping", parent_pid)
            return None


def run(settings: Settings, *, handlers: Mapping[str, Handler] = HANDLERS, threads: int | None = None,
        parent_pid: int | None = None, once: bool = False) -> int:
    """Run a worker until SIGTERM/SIGINT (or, with ``once``, until the jobs queued now are done)."""
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    log.info("worker %s starting; queue: %s", worker_id, _redact(queue_url(settings)))
    store = wait_for_database(settings, parent_pid)
    if store is None:
        return 0
    log.info("database reachable")
    ctx = Context(settings=settings, store=store)
    runner = Runner(ctx, worker_id, handlers)
    queue = JobQueue(settings, run=runner.run)
    schedule(queue, ctx, worker_id)
    stop = threading.Event()
    heartbeat = Heartbeat(ctx, runner, queue, stop, parent_pid=parent_pid)
    heartbeat.start()  # also with --once: a long job's lease must be extended
    try:
        if once:
            count = runner.run_queued()
            log.info("ran the %d job(s) that were queued; exiting", count)
        else:
            consumer = queue.huey.create_consumer(
                workers=threads or settings.worker_threads, worker_type="thread", periodic=True,
                initial_delay=0.1, backoff=1.15, max_delay=1.0, scheduler_interval=1, check_worker_health=True,
            )
            consumer.run()  # blocks; SIGTERM/SIGINT stop it
    finally:
        stop.set()
        heartbeat.join(timeout=10)
        _give_back(ctx, runner, queue)
        queue.close()
        store.dispose()
    log.info("worker %s stopped", worker_id)
    return 0


def _give_back(ctx: Context, runner: Runner, queue: JobQueue) -> None:
    """Queue again the jobs this worker still holds, and record that it stopped on purpose."""
    for last_try in (False, True):
        try:
            now = ctx.now()
            with ctx.store.write() as conn:
                released = lease.release(conn, runner.id, now)
                workers.stopped(conn, runner.id, now)
            for job_id in released:
                log.info("job %s: given back to the queue (this worker is stopping)", job_id)
                queue.enqueue(job_id)
            return
        except Exception as exc:  # noqa: BLE001 - the leases run out anyway
            if not last_try:
                ctx.store.engine.dispose()  # perhaps a connection that died in an outage: try a new one
                continue
            log.warning("could not give the running jobs back (%s); they are reclaimed when their leases "
                        "run out", _short(exc))


class QueueErrorsInOneLine(logging.Filter):
    """huey logs a traceback each time it fails to read the queue (about once a second while the broker is
    down); this keeps one line, at most every ``every`` seconds: the heartbeat says the rest."""

    def __init__(self, every: float = 30.0) -> None:
        super().__init__()
        self.every = every
        self._last = float("-inf")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage() not in ("Error reading from queue", "Error reading schedule.") or not record.exc_info:
            return True
        now = time.monotonic()
        if now - self._last < self.every:
            return False
        self._last = now
        record.msg = f"cannot read the job queue ({_short(record.exc_info[1])}); huey retries it"
        record.args, record.exc_info, record.exc_text, record.levelno, record.levelname = (
            (), None, None, logging.WARNING, "WARNING")
        return True


class WorkerProcess:
    """The worker ``vision serve`` runs beside itself: started with it, restarted if it dies, stopped with it.

    The child reads the same environment as the server. It also stops by itself
    if the server disappears without stopping it (``--parent-pid``).
    """

    #: Restart delays grow from the first to the second (seconds) while the worker keeps dying.
    RESTART_DELAYS = (1.0, 60.0)

    def __init__(self, argv: Sequence[str] | None = None) -> None:
        self.argv = list(argv) if argv is not None else [
            sys.executable, "-m", "vision_widgets", "worker", "--parent-pid", str(os.getpid())]
        self.proc: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    def start(self) -> "WorkerProcess":
        """Start the child and a thread that restarts it if it exits on its own."""
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="vision-worker-watch", daemon=True)
        self._watcher.start()
        return self

    def _spawn(self) -> None:
        with self._lock:
            if not self._stopping.is_set():
                # Its own session: a Ctrl+C in the terminal reaches the server only, which then stops
                # the worker itself (SIGTERM: running jobs are given back at once, not waited for).
                self.proc = subprocess.Popen(self.argv, start_new_session=True)
                log.info("started the worker (pid %s)", self.proc.pid)

    def _watch(self) -> None:
        delay = self.RESTART_DELAYS[0]
        while not self._stopping.is_set():
            proc, started = self.proc, time.monotonic()
            code = proc.wait() if proc is not None else None
            if self._stopping.is_set():
                return
            if time.monotonic() - started > self.RESTART_DELAYS[1]:
                delay = self.RESTART_DELAYS[0]  # it ran a good while: not a crash loop
            log.warning("the worker exited (status %s); restarting it in %.0f s", code, delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, self.RESTART_DELAYS[1])
            self._spawn()

    def stop(self, grace: float = 15.0) -> int | None:
        """Stop the child (SIGTERM, then SIGKILL after ``grace`` s); returns its exit status."""
        self._stopping.set()
        with self._lock:
            proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                log.warning("the worker did not stop within %.0f s; killing it", grace)
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode


def configure_logging() -> None:
    """Timestamped lines on standard error (``vision serve`` shows them with its own)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s [%(name)s] %(message)s")
    quiet = QueueErrorsInOneLine()
    for name in ("huey.consumer.Worker", "huey.consumer.Scheduler"):
        logging.getLogger(name).addFilter(quiet)


def main(argv: Sequence[str] | None = None, handlers: Mapping[str, Handler] = HANDLERS) -> int:
    """``python -m vision_widgets.worker``: ``vision worker``, with ``handlers`` as the job kinds it runs."""
    from vision_widgets.cli import worker_options
    from vision_widgets.core.config import load_settings

    parser = argparse.ArgumentParser(prog="vision worker", description="run background jobs and periodic work")
    worker_options(parser)
    args = parser.parse_args(argv)
    configure_logging()
    try:
        return run(load_settings(), handlers=handlers, threads=args.threads, parent_pid=args.parent_pid,
                   once=args.once)
    except VisionError as exc:
        print(f"vision: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _short(exc: BaseException) -> str:
    """An error in one line, without the SQL and parameters SQLAlchemy appends."""
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__
    return f"{type(inner).__name__}: {text}"[:300]


def _redact(url: str) -> str:
    """A URL as it may be logged (no password)."""
    from sqlalchemy import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - redis:// and the like
        return url.split("@")[-1] if "@" in url else url


if __name__ == "__main__":
    raise SystemExit(main())
