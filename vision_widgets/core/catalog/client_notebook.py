"""Execute a notebook with parameters, papermill-style, using nbclient (already a Voila dependency).

The values are written as a new cell right after the cell tagged ``parameters``,
so the notebook's defaults stay visible and the injected values win.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import nbformat

from vision_widgets.core.errors import InvalidInput


def inject(nb: nbformat.NotebookNode, parameters: Mapping[str, Any]) -> nbformat.NotebookNode:
    """A copy of ``nb`` with ``parameters`` assigned after its ``parameters`` cell."""
    for name in parameters:
        if not name.isidentifier():
            raise InvalidInput(f"{name!r} is not a valid parameter name.")
    source = "# Injected parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    out = nbformat.from_dict(nb)
    index = next((i for i, c in enumerate(out.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if index is None:
        raise InvalidInput("The notebook has no cell tagged 'parameters'.")
    out.cells.insert(index + 1, cell)
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
