"""The layers of DESIGN.md hold: core/services load no UI libraries; client.py stands alone."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from helpers import REPO_ROOT

PACKAGE = REPO_ROOT / "vision_widgets"
UI_LIBRARIES = ("ipywidgets", "bqplot", "voila")

_PROBE = r"""
import importlib, json, pkgutil, sys
import vision_widgets.core, vision_widgets.services
imported = []
for pkg in (vision_widgets.core, vision_widgets.services):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
        imported.append(info.name)
ui = sorted(m for m in sys.modules if m.split(".")[0] in {UI})
print(json.dumps({"imported": imported, "ui": ui}))
"""


def test_core_and_services_import_no_ui_library():
    """In a fresh interpreter, importing every module of core/ and services/ loads no widget library."""
    code = _PROBE.replace("{UI}", repr(set(UI_LIBRARIES)))
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    expected = {f"vision_widgets.core.{p.stem}" for p in (PACKAGE / "core").glob("*.py") if p.stem != "__init__"}
    expected |= {f"vision_widgets.services.{p.stem}" for p in (PACKAGE / "services").glob("*.py") if p.stem != "__init__"}
    assert expected <= set(report["imported"]), "every module was imported"
    assert report["ui"] == [], f"core/services pulled in {report['ui']}"


def _imports(path: Path) -> list[tuple[str, int]]:
    """(module, relative level) of every import statement in a file, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def test_client_imports_nothing_from_vision_widgets():
    imports = _imports(PACKAGE / "client.py")
    assert not [m for m, level in imports if level > 0], "client.py must not use relative imports"
    assert not [m for m, _ in imports if m.split(".")[0] == "vision_widgets"]


def test_client_depends_only_on_stdlib_numpy_pandas_and_optional_pyarrow():
    allowed = set(sys.stdlib_module_names) | {"numpy", "pandas", "pyarrow", "__future__"}
    top = {m.split(".")[0] for m, _ in _imports(PACKAGE / "client.py")}
    assert top <= allowed, f"client.py imports {sorted(top - allowed)}"


def test_views_and_components_never_touch_the_database_directly():
    """Views go through services (which check the principal), never core.store/users/schema."""
    forbidden = {"vision_widgets.core.store", "vision_widgets.core.users", "vision_widgets.core.schema", "sqlalchemy"}
    for folder in ("views", "components"):
        for path in (PACKAGE / folder).glob("*.py"):
            used = {m for m, _ in _imports(path)} | {m.split(".")[0] for m, _ in _imports(path)}
            assert not used & forbidden, f"{path.name} imports {sorted(used & forbidden)}"
