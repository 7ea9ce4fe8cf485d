"""The local-filesystem connector: files on the server's disk, under allowed roots only.

It reads only under the allowed roots (``VISION_DATA_ROOTS``; by default
``$VISION_HOME/data`` and the demo data folder): the path is resolved with every
symlink followed *before* the check, so neither ``..`` nor a link leading out
gets past it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vision_widgets.core.config import Settings
from vision_widgets.core.connectors import DATA_SUFFIXES, allowed_roots, named_roots, register
from vision_widgets.core.errors import InvalidInput


@register("local")
@dataclass(frozen=True)
class LocalFilesystem:
    """Files on the server's disk, under the allowed roots only."""

    settings: Settings
    name: str = "local"
    title: str = "Local filesystem"

    @property
    def roots(self) -> tuple[Path, ...]:
        return allowed_roots(self.settings)

    def resolve(self, reference: str) -> Path:
        """The real path of a CSV or Parquet file under an allowed root, or ``InvalidInput``."""
        reference = (reference or "").strip()
        if not reference or "\x00" in reference:
            raise InvalidInput("Give the path of a CSV or Parquet file.")
        named = named_roots(self.settings)
        roots = [r.resolve() for _, r in named]
        path = Path(reference).expanduser()
        if not path.is_absolute():
            # "<root name>/file.csv" reads under that root; any other relative path under the first
            by_name = {name: root for name, root in zip((n for n, _ in named), roots)}
            head, _, rest = reference.replace("\\", "/").partition("/")
            path = by_name[head] / rest if head in by_name and rest else roots[0] / path
        where = ", ".join(name for name, _ in named)
        outside = InvalidInput(
            f"{reference} is outside the folders Vision AI may read (the data folders {where}); "
            "copy the file there or ask an administrator to add its folder to VISION_DATA_ROOTS."
        )
        # First without touching the disk ('..' folded), so a path outside the roots reveals
        # nothing about what exists there; then with every symlink followed.
        if not any(Path(os.path.normpath(path)).is_relative_to(root) for root in roots):
            raise outside
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):  # missing, a loop, no permission: never echo the OS text
            raise InvalidInput(f"No file at {reference} (or it cannot be read); check the path (files are read under {where}).") from None
        if not any(real.is_relative_to(root) for root in roots):
            raise outside
        if not real.is_file():
            raise InvalidInput(f"{reference} is not a file.")
        if real.suffix.lower() not in DATA_SUFFIXES:
            raise InvalidInput(f"{reference} is not a CSV or Parquet file (.csv, .parquet).")
        return real
