"""System Chromium started as our own process, driven over CDP, so a test can SIGKILL it.

A tab that vanishes without ``beforeunload`` (browser crash, OOM kill, power loss) is what the
server's disconnect grace is for. Killing the browser's whole process group with SIGKILL is the
faithful way to make one: no page script runs, the OS closes the sockets. Playwright's own
``launch()`` does not hand out the browser's pid, so this starts Chromium itself with
``--remote-debugging-port=0`` and connects Playwright to the port Chromium writes to
``DevToolsActivePort`` in its profile folder.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.support.server_process import CHROMIUM, CHROMIUM_ARGS

STARTUP_TIMEOUT = 30.0


class KillableChromium:
    """A running Chromium: :attr:`browser` (Playwright, over CDP) and :meth:`kill`."""

    def __init__(self, browser_type) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="vision-chromium-"))
        self.proc = subprocess.Popen(
            [CHROMIUM, *CHROMIUM_ARGS, "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not (port_file.exists() and port_file.read_text().count("\n") >= 1):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{CHROMIUM} did not open its DevTools port")
            time.sleep(0.05)
        port = port_file.read_text().splitlines()[0].strip()
        self.browser = browser_type.connect_over_cdp(f"http://127.0.0.1:{port}")

    def kill(self) -> None:
        """SIGKILL the browser and every process it started (renderers, GPU, zygote)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=30)

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


@contextmanager
def killable_chromium(browser_type) -> Iterator[KillableChromium]:
    """``with killable_chromium(browser.browser_type) as chrome: ... chrome.kill()``."""
    chrome = KillableChromium(browser_type)
    try:
        yield chrome
    finally:
        chrome.cleanup()
