"""Writing one benchmark's section of docs/performance.md without touching the others."""
from __future__ import annotations

from pathlib import Path


def write_section(path: Path, heading: str, text: str) -> None:
    """Replace the section that starts with ``heading`` (or append it), leaving every other section as is."""
    doc = path.read_text(encoding="utf-8") if path.exists() else "# Performance\n"
    start = doc.find(heading)
    if start == -1:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        nxt = doc.find("\n## ", start + len(heading))
        doc = doc[:start] + text + ("" if nxt == -1 else "\n" + doc[nxt + 1:])
    path.write_text(doc.rstrip("\n") + "\n", encoding="utf-8")
