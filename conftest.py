"""Test-session setup shared by tests/ and the nbval notebook tests.

Every test run gets a throw-away VISION_HOME, so no test reads or writes the
developer's own .vision/ database; kernels started by nbval inherit it.
"""
from __future__ import annotations

import os
import tempfile


def pytest_configure(config):
    os.environ["VISION_HOME"] = tempfile.mkdtemp(prefix="vision-test-home-")
    os.environ.pop("VISION_DATABASE_URL", None)

# The client notebook needs parameters (data paths, token); tests/test_client_notebook.py
# executes it with them against a running server instead of nbval running it bare.
# explore.ipynb logs in (user name and password prompts): tests/test_notebook_session.py runs it
# with nbval over a database holding a model, with the prompts answered by a kernel startup file.
collect_ignore = ["notebooks/client_restricted.ipynb", "notebooks/explore.ipynb"]
