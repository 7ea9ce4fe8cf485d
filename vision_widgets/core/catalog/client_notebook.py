"""The client notebook's parameters: filled in for a download, or injected to execute it.

Two ways to give a notebook its parameters, papermill-style (the cell tagged ``parameters``):

- ``prefill`` rewrites the values in that cell itself, keeping each line's comment, so the
  notebook a person downloads from a model's page opens with the server's address, the model's
  name and its column roles already in place (and nothing else changed: it runs anywhere);
- ``inject``/``execute`` add a cell after it, as papermill does, to run it headless with nbclient.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Mapping

import nbformat

from vision_widgets.core.errors import InvalidInput


def _parameters_index(nb: nbformat.NotebookNode) -> int:
    index = next((i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if index is None:
        raise InvalidInput("The notebook has no cell tagged 'parameters'.")
    return index


def prefill(nb: nbformat.NotebookNode, values: Mapping[str, Any]) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose ``parameters`` cell assigns ``values`` in place of its defaults.

    Each ``NAME = default  # comment`` line keeps its comment; only the default is replaced, by
    the value's ``repr`` (plain literals: strings, numbers, booleans, None, lists), so the cell
    stays valid Python whatever a value holds. A name the cell does not assign is an error:
    the notebook and this code disagree, and the person would get a silently ignored value.
    """
    for name, value in values.items():
        if not name.isidentifier():
            raise InvalidInput(f"{name!r} is not a valid parameter name.")
        if ast.literal_eval(repr(value)) != value:
            raise InvalidInput(f"The value of {name} cannot be written as a Python literal.")
    out = nbformat.from_dict(nb)
    cell = out.cells[_parameters_index(out)]
    lines = cell.source.splitlines(keepends=True)
    missing = dict(values)
    for node in ast.parse(cell.source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        if name not in missing or node.value.lineno != node.value.end_lineno:
            continue
        i = node.value.lineno - 1
        line = lines[i]  # ast offsets are in UTF-8 bytes
        raw = line.encode("utf-8")
        start, end = node.value.col_offset, node.value.end_col_offset
        new = repr(missing.pop(name)).encode("utf-8")
        rest = raw[end:]
        stripped = rest.lstrip(b" ")
        if stripped.startswith(b"#"):  # keep the comment where it was when the value fits
            pad = max(1, len(rest) - len(stripped) - (len(new) - (end - start)))
            rest = b" " * pad + stripped
        lines[i] = (raw[:start] + new + rest).decode("utf-8")
    if missing:
        raise InvalidInput(f"The notebook's parameters cell does not set {', '.join(sorted(missing))}.")
    cell.source = "".join(lines)
    return out


def inject(nb: nbformat.NotebookNode, parameters: Mapping[str, Any]) -> nbformat.NotebookNode:
    """A copy of ``nb`` with ``parameters`` assigned after its ``parameters`` cell."""
    for name in parameters:
        if not name.isidentifier():
            raise InvalidInput(f"{name!r} is not a valid parameter name.")
    source = "# Injected parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    out = nbformat.from_dict(nb)
    out.cells.insert(_parameters_index(out) + 1, cell)
    return out


def execute(path: Path, parameters: Mapping[str, Any], cwd: Path | None = None, timeout: int = 600) -> nbformat.NotebookNode:
    """Run the notebook at ``path`` with ``parameters``; returns the executed notebook.

    A failing cell raises ``nbclient.exceptions.CellExecutionError`` with the cell's error.
    """
    from nbclient import NotebookClient

    nb = inject(nbformat.read(str(path), as_version=4), parameters)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd or path.parent)}})
    client.execute()
    return nb
