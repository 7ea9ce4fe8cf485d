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
    expected = {
        ".".join(p.relative_to(REPO_ROOT).with_suffix("").parts)
        for folder in ("core", "services")
        for p in (PACKAGE / folder).rglob("*.py")
        if p.stem != "__init__" and "migrations" not in p.parts
    }
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


def test_client_imports_only_the_shared_errors_from_vision_widgets():
    """Inside the package client.py shares ``core.errors`` (stdlib only); nothing else."""
    imports = _imports(PACKAGE / "client.py")
    assert not [m for m, level in imports if level > 0], "client.py must not use relative imports"
    assert [m for m, _ in imports if m.split(".")[0] == "vision_widgets"] == ["vision_widgets.core.errors"]


_ALONE = r"""
import sys
sys.modules["vision_widgets"] = None  # as on a client's machine: the package is not there
sys.path.insert(0, sys.argv[1])
import pandas as pd
import client
p = client.profile(pd.DataFrame({"x": range(100), "y": [0, 1] * 50}), client.Roles(target="y"))
assert client.Profile.from_json(p.to_json()).rows == 100
try:
    client.profile(pd.DataFrame({"x": []}))
except client.InvalidInput as exc:
    print("ok", type(exc).__mro__[1].__name__, exc.field)
"""


def test_client_runs_alone_without_the_package(tmp_path):
    """The file a security team audits runs on its own: copied alone, it profiles and raises its own errors."""
    (tmp_path / "client.py").write_bytes((PACKAGE / "client.py").read_bytes())
    done = subprocess.run([sys.executable, "-c", _ALONE, str(tmp_path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "VisionError", "None"]


def test_inside_the_package_client_errors_are_the_package_errors():
    from vision_widgets import client
    from vision_widgets.core import errors

    assert client.InvalidInput is errors.InvalidInput and client.VisionError is errors.VisionError


_LIGHT = r"""
import json, sys
import vision_widgets.core.errors
from vision_widgets.cli import build_parser
try:
    build_parser().parse_args(["--help"])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in ("pandas", "numpy", "sqlalchemy", "ipywidgets") if m in sys.modules)))
"""


def test_errors_and_vision_help_load_no_pandas_or_numpy():
    """``vision --help`` and ``import vision_widgets.core.errors`` stay instant: no heavy library loads."""
    done = subprocess.run([sys.executable, "-c", _LIGHT], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_client_depends_only_on_stdlib_numpy_pandas_and_optional_pyarrow():
    allowed = set(sys.stdlib_module_names) | {"numpy", "pandas", "pyarrow", "__future__"}
    # vision_widgets: only core.errors, guarded (test_client_imports_only_the_shared_errors_…).
    top = {m.split(".")[0] for m, _ in _imports(PACKAGE / "client.py") if m != "vision_widgets.core.errors"}
    assert top <= allowed, f"client.py imports {sorted(top - allowed)}"


def test_views_and_components_never_touch_the_database_directly():
    """Views go through services (which check the principal), never core.store/users/schema."""
    forbidden = {"vision_widgets.core.storage.engine", "vision_widgets.core.identity.users", "vision_widgets.core.storage.schema", "sqlalchemy"}
    for folder in ("views", "components"):
        for path in (PACKAGE / folder).glob("*.py"):
            used = {m for m, _ in _imports(path)} | {m.split(".")[0] for m, _ in _imports(path)}
            assert not used & forbidden, f"{path.name} imports {sorted(used & forbidden)}"
