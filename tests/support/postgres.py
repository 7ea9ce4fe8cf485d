"""A throw-away PostgreSQL cluster for the tests that claim PostgreSQL support.

``start_cluster()`` runs Debian's ``initdb`` and ``pg_ctl`` (``apt-get install postgresql``;
``make test`` installs it) into a fresh temporary folder: the data directory, the socket
directory and the log all live there, the server listens only on 127.0.0.1 (and its own
socket), on a free port, with ``trust`` authentication, and ``stop()`` shuts it down and
deletes the folder. Nothing touches a system cluster. ``initdb`` refuses to run as root, so as root
the binaries run as the ``postgres`` user, who then owns the temporary folder.
"""
from __future__ import annotations

import glob
import os
import threading
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.server_process import free_port

_SUPERUSER = "vision"


def pg_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding ``initdb``, or ``None`` when PostgreSQL is absent."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class Cluster:
    """A running throw-away cluster; ``new_database()`` gives each test its own empty database."""

    bin_dir: Path
    root: Path
    port: int

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3 driver) for ``database`` on this cluster."""
        return f"postgresql+psycopg://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def new_database(self, template: str | None = None) -> str:
        """Create an empty database (or a copy of ``template``, which nobody may be connected to) and
        return its URL."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._psql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by ``new_database``, closing whatever is still connected to it."""
        name = url.rsplit("/", 1)[1]
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _psql(self, sql: str) -> None:
        subprocess.run(
            [str(self.bin_dir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", _SUPERUSER,
             "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql],
            check=True, capture_output=True, text=True, timeout=60,
        )

    def server_options(self) -> str:
        """``postgres`` options: loopback and its own socket folder only, durability off (throw-away)."""
        return (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off "
                "-c synchronous_commit=off")

    def pause(self) -> None:
        """Stop the server but keep its data (fast shutdown: every connection is cut, as in an outage)."""
        subprocess.run(
            _as_owner([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]),
            check=True, capture_output=True, text=True, timeout=60,
        )

    def resume(self) -> None:
        """Start the server again after ``pause``, on the same port, with the same data."""
        subprocess.run(
            _as_owner([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-o", self.server_options(),
                       "-l", str(self.root / "server.log"), "-w", "-t", "60", "start"]),
            check=True, capture_output=True, text=True, timeout=90,
        )

    def stop(self) -> None:
        """Stop the server (fast shutdown: sessions are disconnected) and delete its folder."""
        try:
            subprocess.run(
                _as_owner([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"]),
                capture_output=True, text=True, timeout=60,
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster:
    """initdb + start a cluster in a new temporary folder; raises ``RuntimeError`` with the log if it fails."""
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="vision-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(bin_dir=bin_dir, root=root, port=free_port())
    log = root / "server.log"
    try:
        subprocess.run(
            _as_owner([str(bin_dir / "initdb"), "-D", str(cluster.data_dir), "-U", _SUPERUSER, "-A", "trust",
                       "-E", "UTF8", "--locale=C", "--no-sync"]),
            check=True, capture_output=True, text=True, timeout=120,
        )
        cluster.resume()  # the first start
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        detail = log.read_text(errors="replace") if log.exists() else ""
        output = getattr(exc, "stderr", "") or ""
        cluster.stop()
        raise RuntimeError(f"the throw-away PostgreSQL did not start: {output}\n{detail}") from exc
    return cluster


@pytest.fixture(scope="session")
def postgres_cluster():
    """One throw-away cluster for the test session (import this fixture where it is used).

    Skips when PostgreSQL is not installed, as the e2e tests do without Chromium; ``make test``
    installs both.
    """
    if pg_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; `make test` installs it)")
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


#: The database every parametrised test's database is copied from, at the schema's head.
_TEMPLATE = "vision_head"


@pytest.fixture(scope="session")
def postgres_head(postgres_cluster, tmp_path_factory):
    """``postgres_cluster`` with a database at the schema's head to copy: ``CREATE DATABASE … TEMPLATE``
    takes tens of milliseconds where running every migration takes about a second, and the service and
    API suites make one database per test."""
    from helpers import USERS_JSON

    from vision_widgets.core.config import load_settings
    from vision_widgets.core.storage.upgrade import upgrade

    postgres_cluster._psql(f'CREATE DATABASE "{_TEMPLATE}"')
    home = tmp_path_factory.mktemp("pg-head")
    upgrade(load_settings({"VISION_HOME": str(home), "VISION_USERS_FILE": str(USERS_JSON),
                           "VISION_DATABASE_URL": postgres_cluster.url(_TEMPLATE)}))
    return postgres_cluster


def postgres_settings_env(request) -> dict[str, str]:
    """The settings that put a test on a new PostgreSQL database at the schema's head, dropped after it."""
    from cryptography.fernet import Fernet

    cluster = request.getfixturevalue("postgres_head")
    url = cluster.new_database(template=_TEMPLATE)
    request.addfinalizer(lambda: cluster.drop_database(url))
    # a shared database needs one sealing key for every server (a key file is per machine)
    return {"VISION_DATABASE_URL": url, "VISION_SECRET_KEY": Fernet.generate_key().decode()}


def settings_on(request, tmp_path):
    """Settings on the database ``request.param`` names ("sqlite" or "postgresql": a new database on the
    session's throw-away cluster), for a module that overrides ``settings`` with
    ``@pytest.fixture(params=DATABASES)`` to run its storage tests on both."""
    from helpers import USERS_JSON

    from vision_widgets.core.config import load_settings

    env = {"VISION_HOME": str(tmp_path / "home"), "VISION_USERS_FILE": str(USERS_JSON)}
    if request.param == "postgresql":
        env.update(postgres_settings_env(request))
    return load_settings(env)


#: The databases the storage tests run on.
DATABASES = ("sqlite", "postgresql")


# -- two transactions at a chosen point: one holds its transaction open until the other waits on its lock --
#: A safety bound for waiting on the other thread (never a limit a test asserts on).
PATIENCE = 60.0


def waiting_on_a_lock(ctx) -> bool:
    """Whether a transaction on ``ctx``'s PostgreSQL database is waiting for a row or advisory lock."""
    with ctx.store.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type IN ('Lock', 'Advisory')")).scalar_one() > 0


def until(condition, done: threading.Event) -> None:
    """Wait until ``condition()`` holds or ``done`` is set (bounded by ``PATIENCE``)."""
    stop = threading.Event()
    waited = 0.0
    while not condition() and not done.is_set() and waited < PATIENCE:
        stop.wait(0.05)
        waited += 0.05


def in_thread(call) -> tuple[threading.Thread, dict, threading.Event]:
    out: dict = {}
    done = threading.Event()

    def run():
        try:
            out["value"] = call()
        except Exception as exc:  # noqa: BLE001 - the test reads what it raised
            out["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out, done
