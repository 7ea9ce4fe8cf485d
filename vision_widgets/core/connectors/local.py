"""The local-filesystem connector: files on the server's disk, under allowed roots only.

It reads only under the allowed roots (``VISION_DATA_ROOTS``; by default
``$VISION_HOME/data`` and the demo data folder): the path is resolved with every
symlink followed *before* the check, so neither ``..`` nor a link leading out
gets past it. Roots are known by their *names* (``data``, ``demo-data``): a file is
``<root name>/<path inside it>``, and nothing shown to a person holds a server path.

``open`` gives a CSV or Parquet file as its resolved path (``client.profile`` keeps its fast
paths for files) and a folder of Parquet files as a ``pyarrow.RecordBatchReader`` over all of
them (each file checked to lie under the roots too: a link inside a folder may lead out).
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from vision_widgets.core.config import Settings
from vision_widgets.core.connectors import (DATA_SUFFIXES, Entry, Field, TestResult, allowed_roots, check_fields,
                                            named_roots, register_type)
from vision_widgets.core.errors import InvalidInput

PARQUET_SUFFIXES = (".parquet", ".pq")


def _locate(settings: Settings, reference: str, what: str = "file") -> tuple[Path, str]:
    """The real path of ``reference`` under an allowed root, and its name for messages; ``InvalidInput``
    when it is outside the roots or missing. ``reference`` is ``<root name>/<path>`` (or absolute)."""
    reference = (reference or "").strip()
    if not reference or "\x00" in reference:
        raise InvalidInput("Give the path of a CSV or Parquet file.")
    named = named_roots(settings)
    roots = [r.resolve() for _, r in named]
    path = Path(reference)  # no expanduser: '~' is the server account's home, and '~user' raised RuntimeError
    if not path.is_absolute():
        # "<root name>/file.csv" reads under that root; any other relative path under the first
        by_name = {name: root for name, root in zip((n for n, _ in named), roots)}
        head, _, rest = reference.replace("\\", "/").partition("/")
        if head in by_name:
            path = by_name[head] / rest if rest else by_name[head]
        else:
            path = roots[0] / path
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
        raise InvalidInput(f"No {what} at {reference} (or it cannot be read); check the path (files are read under {where}).") from None
    if not any(real.is_relative_to(root) for root in roots):
        raise outside
    return real, reference


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows a link, as Path.is_dir did
    except OSError:
        return False


def _inside_roots(settings: Settings, path: Path) -> bool:
    roots = [r.resolve() for r in allowed_roots(settings)]
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return any(real.is_relative_to(root) for root in roots)


def parquet_files(settings: Settings, folder: Path) -> list[str]:
    """The Parquet files under ``folder`` (recursively, sorted), each one's real path under the roots."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for fn in sorted(filenames):
            if fn.lower().endswith(PARQUET_SUFFIXES) and not fn.startswith((".", "_")):
                p = Path(dirpath) / fn
                if _inside_roots(settings, p):
                    found.append(str(p.resolve()))
    return found


def dataset_reader(files: list[str]):
    """A ``pyarrow.RecordBatchReader`` over the Parquet ``files`` read as one dataset, batch by batch."""
    import pyarrow.dataset as ds

    from vision_widgets.core.connectors.object_store import scan

    return scan(ds.dataset(files, format="parquet"))


@dataclass
class LocalConnection:
    """The local filesystem, browsed by root names; files open as paths, Parquet folders as streams."""

    settings: Settings
    #: real path → the reference the user gave, for every file ``open`` handed out (see ``reword``)
    _opened: dict[str, str] = field(default_factory=dict, repr=False)

    def browse(self, path: str = "", limit: int = 200) -> list[Entry]:
        path = (path or "").strip().strip("/")
        if not path:
            return [Entry(name=name, path=name, kind="folder") for name, root in named_roots(self.settings)
                    if root.is_dir()][:limit]
        real, ref = _locate(self.settings, path, what="folder")
        if not real.is_dir():
            raise InvalidInput(f"{ref} is not a folder.")
        # Names and types come from one directory read (scandir's d_type: no stat per child); only
        # the children that make the answer are resolved (links) and probed for a _delta_log, so a
        # folder of a million files costs a sort of names, not a million system calls.
        try:
            with os.scandir(real) as it:
                children = [(not _is_dir(c), c.name.lower(), c) for c in it
                            if not c.name.startswith(".") and (_is_dir(c) or c.name.lower().endswith(DATA_SUFFIXES))]
        except OSError:
            raise InvalidInput(f"The folder {ref} cannot be read.") from None
        children.sort(key=lambda t: t[:2])
        entries: list[Entry] = []
        for not_dir, _, child in children:
            if child.is_symlink() and not _inside_roots(self.settings, Path(child.path)):
                continue
            if not not_dir:
                kind = "delta" if os.path.isdir(os.path.join(child.path, "_delta_log")) else "folder"
                entries.append(Entry(name=child.name, path=f"{ref}/{child.name}", kind=kind))
            else:
                entries.append(Entry(name=child.name, path=f"{ref}/{child.name}", kind="file"))
            if len(entries) >= limit:
                break
        return entries

    def open(self, reference: str) -> Any:
        real, ref = _locate(self.settings, reference)
        if real.is_dir():
            files = parquet_files(self.settings, real)
            if not files:
                raise InvalidInput(f"The folder {ref} holds no Parquet files; give a CSV or Parquet file, "
                                   "or a folder of Parquet files.")
            return dataset_reader(files)
        if real.suffix.lower() not in DATA_SUFFIXES:
            raise InvalidInput(f"{ref} is not a CSV or Parquet file (.csv, .parquet).")
        self._opened[str(real)] = ref
        return real

    def parquet_files(self, reference: str) -> list[str] | None:
        """The Parquet files ``reference`` names (a .parquet file, or a folder's, in path order), as
        ``open`` would read them; None for anything else (a CSV). Profiling on Dask reads these."""
        real, ref = _locate(self.settings, reference)
        if real.is_dir():
            files = parquet_files(self.settings, real)
            return files or None
        if real.suffix.lower() not in PARQUET_SUFFIXES:
            return None
        self._opened[str(real)] = ref
        return [str(real)]

    def reword(self, text: str) -> str:
        """``text`` with the server paths this connection handed out replaced by the user's references,
        and any other path under a data folder by ``<folder name>/…`` (longest first, so a file's
        own path wins over its folder's)."""
        names: dict[str, str] = dict(self._opened)
        for name, root in named_roots(self.settings):
            for form in {str(root), str(root.resolve())}:
                names.setdefault(form, name)
        for real in sorted(names, key=len, reverse=True):  # a whole path only: not '/srv/data' in '/srv/data-old'
            text = re.sub(re.escape(real) + r"(?![\w.-])", lambda _m, name=names[real]: name, text)
        return text

    def describe(self, reference: str) -> str:
        return f"{reference.strip()} in the local data folders" if reference else "the local data folders"

    def test(self, timeout: float = 10.0) -> TestResult:
        started = time.perf_counter()
        named = named_roots(self.settings)
        readable = [name for name, root in named if root.is_dir() and os.access(root, os.R_OK | os.X_OK)]
        sample: list[str] = []
        for name in readable:
            try:
                sample += [e.path for e in self.browse(name, limit=5)]
            except InvalidInput:
                continue
            if len(sample) >= 10:
                break
        ms = (time.perf_counter() - started) * 1000.0
        if not readable:
            return TestResult(ok=False, latency_ms=ms, message="None of the data folders ("
                              + ", ".join(n for n, _ in named) + ") exists or can be read; create them or "
                              "set VISION_DATA_ROOTS.")
        return TestResult(ok=True, latency_ms=ms, message=f"Reads the data folders {', '.join(readable)}.",
                          sample=tuple(sample[:10]))

    def close(self) -> None:
        return None


@register_type
class LocalType:
    """Files under the server's allowed data folders (``VISION_DATA_ROOTS``); no settings."""

    type = "local"
    title = "Local filesystem"
    fields: tuple[Field, ...] = ()

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict, dict]:
        return check_fields(self.fields, config, secrets)

    def connect(self, settings: Settings, config: Mapping[str, Any], secrets: Mapping[str, str]) -> LocalConnection:
        return LocalConnection(settings)
