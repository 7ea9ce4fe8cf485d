"""What the server and ``vision init`` read at run time is package data, found without a checkout.

The package holds the source of each file it needs (``vision_widgets/web/notebooks/*.ipynb``,
``vision_widgets/demo/users.json``); the top-level ``notebooks/`` and ``users.json`` of the
repository are copies kept for people browsing the checkout. These tests keep the copies equal, so
the two can never diverge, and keep the notebooks thin. tests/e2e/test_wheel.py checks the built wheel.
"""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from helpers import REPO_ROOT

import vision_widgets
from vision_widgets import server
from vision_widgets.core import config
from vision_widgets.core.llm import faq

PACKAGE = Path(vision_widgets.__file__).resolve().parent

#: (source inside the package, its copy in the checkout)
COPIES = [
    (PACKAGE / "web" / "notebooks" / "dashboard.ipynb", REPO_ROOT / "notebooks" / "dashboard.ipynb"),
    (PACKAGE / "web" / "notebooks" / "client_restricted.ipynb", REPO_ROOT / "notebooks" / "client_restricted.ipynb"),
    (PACKAGE / "demo" / "users.json", REPO_ROOT / "users.json"),
]


@pytest.mark.parametrize(("source", "copy"), COPIES, ids=lambda p: p.name if isinstance(p, Path) else p)
def test_the_checkout_copies_equal_the_packaged_files(source: Path, copy: Path):
    assert source.read_bytes() == copy.read_bytes(), (
        f"{copy.relative_to(REPO_ROOT)} differs from {source.relative_to(REPO_ROOT)}. The packaged file is "
        f"the one that ships and runs: make the change there, then `cp {source.relative_to(REPO_ROOT)} "
        f"{copy.relative_to(REPO_ROOT)}`."
    )


def test_runtime_files_are_found_inside_the_package():
    found = {
        "dashboard notebook": server.DASHBOARD_NOTEBOOK,
        "page template": server.TEMPLATE_DIR / "index.html.j2",
        "client notebook": config.CLIENT_NOTEBOOK,
        "client module": config.CLIENT_MODULE,
        "sample accounts": config.SAMPLE_USERS_FILE,
        "LLM Chat FAQ": faq.FAQ_FILE,
    }
    for what, path in found.items():
        assert path.is_file(), f"{what}: {path} is missing"
        assert path.resolve().is_relative_to(PACKAGE), f"{what} is looked up outside the package: {path}"


def test_defaults_do_not_depend_on_a_checkout_or_the_working_directory():
    settings = config.load_settings({})
    assert settings.home == (Path.home() / ".vision").resolve()
    assert settings.users_file == config.SAMPLE_USERS_FILE.resolve()
    assert settings.database_url == f"sqlite:///{settings.home / 'vision.db'}"


@pytest.mark.parametrize("name", ["dashboard.ipynb", "explore.ipynb"])
def test_the_checkout_notebooks_are_thin(name: str):
    """DESIGN.md: notebooks import, configure and display, in at most five cells, with no logic."""
    nb = nbformat.read(REPO_ROOT / "notebooks" / name, as_version=4)
    assert len(nb.cells) <= 5
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "from vision_widgets" in code or "import vision_widgets" in code
    logic = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.While, ast.If, ast.Global)
    found = sorted({type(node).__name__ for node in ast.walk(ast.parse(code)) if isinstance(node, logic)})
    assert not found, f"{name} holds logic ({', '.join(found)}); move it into the package"
