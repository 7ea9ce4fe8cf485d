"""Run ``vision serve`` as a subprocess and wait for it: shared by the e2e tests and benchmarks.

The server is started exactly as an operator starts it (``python -m vision_widgets serve``), after
``python -m vision_widgets init`` created the database in the given ``VISION_HOME``. Readiness is
polled on ``/vision/api/health`` only: a GET of the dashboard page would take a kernel.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from contextlib import contextmanager
from typing import Callable, Iterator

#: The checkout these tests run from (the package itself no longer knows about a repository).
REPO_ROOT = Path(__file__).resolve().parents[2]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The login form is usable when this input is on the page (views/login.py).
LOGIN_USERNAME = 'input[placeholder="Username"]'
STARTUP_TIMEOUT = 90.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 5.0) -> dict:
    """The JSON body of a GET; a 503 health answer (a critical check failing, e.g. the worker not
    started yet) still carries the kernel counts the fixtures wait on, so its body is returned too."""
    import urllib.error

    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 — localhost only
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        if exc.code != 503:
            raise
        with exc:
            return json.loads(exc.read().decode("utf-8"))


@dataclass
class LiveServer:
    """A ``vision serve`` subprocess and what the tests need to know about it."""

    base_url: str
    home: Path
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen = field(repr=False)

    def url(self, path: str = "") -> str:
        return self.base_url + path.lstrip("/")

    def health(self) -> dict:
        return get_json(self.url("vision/api/health"))

    def kernels(self) -> dict:
        """``{"running", "pool_size", "pool_ready", "pool_starting"}`` from the health endpoint."""
        return self.health()["kernels"]

    def wait_for_kernels(self, predicate: Callable[[dict], bool], timeout: float = 60.0) -> dict:
        """Poll the kernel counts until ``predicate(counts)`` holds; return the last counts."""
        deadline = time.monotonic() + timeout
        counts = self.kernels()
        while not predicate(counts) and time.monotonic() < deadline:
            time.sleep(0.25)
            counts = self.kernels()
        return counts

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def server_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a test server: this venv, a private ``VISION_HOME``, no proxies."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(VISION_HOME=str(home), PYTHONUNBUFFERED="1", **extra)
    return env


def start_server(
    home: Path,
    log_path: Path,
    *,
    args: list[str] | None = None,
    env_extra: dict[str, str] | None = None,
    init: bool = True,
    serve_args: list[str] | None = None,
) -> LiveServer:
    """Run ``vision init`` then ``vision serve [serve_args]`` (or ``python -m vision_widgets.server args``).

    Waits for ``/vision/api/health`` to answer with a full kernel pool; raises if the process dies.
    """
    env = server_env(home, **(env_extra or {}))
    if init and os.environ.get("VISION_E2E_SKIP_INIT") != "1":
        done = subprocess.run(
            [sys.executable, "-m", "vision_widgets", "init"],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(
                "`vision init` failed (set VISION_E2E_SKIP_INIT=1 to run without it):\n"
                + done.stdout + done.stderr
            )
    port = free_port()
    cmd = [sys.executable, "-m", "vision_widgets", "serve", "--port", str(port), *(serve_args or [])]
    if args is not None:
        cmd = [sys.executable, "-m", "vision_widgets.server", "--port", str(port), *args]
    log_file = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 — closed with the process
    proc = subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    log_file.close()
    server = LiveServer(f"http://127.0.0.1:{port}/", home, env, log_path, proc)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log()}")
        try:
            counts = server.kernels()
            if counts["pool_ready"] >= counts["pool_size"]:
                _settle(server, deadline)
                return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"server not healthy after {STARTUP_TIMEOUT}s:\n{server.log()}")
        time.sleep(0.25)


def _settle(server: LiveServer, deadline: float) -> None:
    """Wait (within ``deadline``) for the critical health checks to pass: the worker that ``vision serve``
    starts beats a moment after the pool is ready. A server run without a worker stays at 503; it is
    returned anyway, and its tests see that in the health body."""
    until = min(deadline, time.monotonic() + 30.0)
    while time.monotonic() < until:
        if server.health().get("status") == "ok" or server.proc.poll() is not None:
            return
        time.sleep(0.25)


def stop_process(proc: subprocess.Popen, grace: float = 20.0, *, group: bool = False,
                 stop_signal: int = signal.SIGTERM) -> int | None:
    """Ask ``proc`` to stop (``stop_signal``, SIGTERM unless told), and SIGKILL it if it is still running
    after ``grace`` s — its whole process group when ``group`` (a process started with
    ``start_new_session`` whose children must go too). A process that has ended is left alone.
    Returns its exit code."""
    if proc.poll() is None:
        proc.send_signal(stop_signal)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            if group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


def stop_server(server: LiveServer, grace: float = 20.0) -> int:
    """SIGTERM (the server shuts its kernels down), then SIGKILL the group after ``grace`` s."""
    return stop_process(server.proc, grace, group=True)


@contextmanager
def running_server(root: Path, **options) -> Iterator[LiveServer]:
    """A server in ``root`` (``root/home``, ``root/server.log``) for the ``with`` block, stopped after.

    ``options`` go to ``start_server`` (``env_extra``, ``init``, ``args``)."""
    server = start_server(root / "home", root / "server.log", **options)
    try:
        yield server
    finally:
        stop_server(server)
