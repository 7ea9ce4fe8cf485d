"""What the object-store connectors (S3, Azure Blob) share: browsing an fsspec filesystem under a
root, and opening a CSV, a Parquet file or a folder (prefix) of Parquet files as a stream.

Paths given to ``browse``/``open`` are relative to the connector's root (bucket + prefix, or
container + path): ``..`` cannot climb out of it, and ``Entry.path`` is relative too, so the same
reference works whatever the root is called. Reading goes through ``pyarrow.dataset`` over the
fsspec filesystem, batch by batch (``BATCH_ROWS``), so memory stays bounded whatever the size.
"""
from __future__ import annotations

import posixpath
from typing import Any, Callable

from vision_widgets.core.connectors import DATA_SUFFIXES, Entry
from vision_widgets.core.connectors.failures import connector_error, timed_test, within
from vision_widgets.core.errors import InvalidInput

BATCH_ROWS = 65_536
PARQUET_SUFFIXES = (".parquet", ".pq")


def inside(root: str, path: str) -> str:
    """``root/path`` with ``path`` normalised; ``InvalidInput`` if it would leave ``root``."""
    path = (path or "").strip().replace("\\", "/").strip("/")
    if "\x00" in path:
        raise InvalidInput("The path is not usable text.", field="path")
    norm = posixpath.normpath(path) if path else ""
    if norm in (".", ""):
        return root.rstrip("/")
    if norm.startswith("../") or norm == ".." or norm.startswith("/"):
        raise InvalidInput(f"{path} is outside what this connector reads; give a path under it.", field="path")
    return f"{root.rstrip('/')}/{norm}"


def relative(root: str, full: str) -> str:
    """``full`` as a path under ``root`` (the inverse of ``inside``)."""
    root = root.rstrip("/")
    full = full.rstrip("/")
    return full[len(root) + 1:] if full.startswith(root + "/") else full


#: At most this many keys of one prefix are read to browse it (the store pages them 1000 at a time):
#: a prefix of millions of keys is browsed in a few requests, not listed whole until the timeout.
MAX_LISTED = 10_000
#: Folders checked for a ``_delta_log`` at once (one request each).
DELTA_PROBES = 8


def listing(fs: Any, where: str, most: int | None = None) -> list[dict]:
    """The items directly under ``where``, at most ``most`` of them (in the store's order, by name).

    s3fs pages through a prefix lazily (``_iterdir``), so only the pages needed are fetched (and
    nothing partial goes into its listing cache). Other filesystems list as ``ls`` does."""
    most = MAX_LISTED if most is None else most
    iterdir = getattr(fs, "_iterdir", None)  # s3fs's paged listing; absent elsewhere
    if iterdir is not None and hasattr(fs, "split_path") and getattr(fs, "loop", None) is not None:
        from fsspec.asyn import sync

        bucket, key, _ = fs.split_path(where)
        prefix = key.rstrip("/") + "/" if key else ""

        async def collect() -> list[dict]:
            return [item async for item in iterdir(bucket, max_items=most, delimiter="/", prefix=prefix)]

        items = sync(fs.loop, collect)
        if items or not key:
            return items
        # nothing under it: a missing prefix gets the filesystem's own error (a plain "not found")
    return list(fs.ls(where, detail=True))[:most]


def browse(fs: Any, root: str, path: str, limit: int, detect_delta: bool = False) -> list[Entry]:
    """The folders and data files directly under ``path`` (relative to ``root``), folders first.

    Bounded whatever the prefix holds: at most ``MAX_LISTED`` keys are read, and only the folders
    that make the answer (at most ``limit``) are checked for a ``_delta_log``, several at once."""
    where = inside(root, path)
    items = listing(fs, where)
    picked: list[tuple[str, str, str, bool]] = []  # (name, rel, full, is_folder)
    for item in sorted(items, key=lambda i: (i.get("type") != "directory", str(i.get("name")).lower())):
        full = str(item.get("name", "")).rstrip("/")
        name = full.rsplit("/", 1)[-1]
        if not name or name.startswith((".", "_")) or full == where.rstrip("/"):
            continue
        if item.get("type") == "directory":
            picked.append((name, relative(root, full), full, True))
        elif name.lower().endswith(DATA_SUFFIXES):
            picked.append((name, relative(root, full), full, False))
        if len(picked) >= limit:
            break
    folders = [full for _, _, full, is_folder in picked if is_folder]
    delta: set[str] = set()
    if detect_delta and folders:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(DELTA_PROBES, len(folders))) as pool:
            found = pool.map(lambda full: fs.exists(f"{full}/_delta_log"), folders)
            delta = {full for full, yes in zip(folders, found) if yes}
    return [Entry(name=name, path=rel, kind=("delta" if full in delta else "folder") if is_folder else "file")
            for name, rel, full, is_folder in picked]


def open_stream(fs: Any, full: str, reference: str) -> Any:
    """A ``pyarrow.RecordBatchReader`` over the CSV or Parquet file, or the Parquet files under the
    folder, at ``full``; ``InvalidInput`` when there is nothing readable there."""
    import pyarrow.dataset as ds

    info = fs.info(full)
    if info.get("type") == "directory":
        files = sorted(p for p in fs.find(full) if p.lower().endswith(PARQUET_SUFFIXES)
                       and not any(part.startswith((".", "_")) for part in p[len(full):].split("/")))
        if not files:
            raise InvalidInput(f"The folder {reference} holds no Parquet files; give a CSV or Parquet file, "
                               "or a folder of Parquet files.", field="path")
        dataset = ds.dataset(files, format="parquet", filesystem=fs)
    elif full.lower().endswith(PARQUET_SUFFIXES):
        dataset = ds.dataset(full, format="parquet", filesystem=fs)
    elif full.lower().endswith(".csv"):
        fmt = ds.CsvFileFormat(read_options=_csv_read_options())
        dataset = ds.dataset(full, format=fmt, filesystem=fs)
    else:
        raise InvalidInput(f"{reference} is not a CSV or Parquet file (.csv, .parquet) nor a folder of Parquet files.",
                           field="path")
    return scan(dataset)


def scan(dataset: Any) -> Any:
    """A ``RecordBatchReader`` over ``dataset`` that holds little ahead of the reader.

    Arrow's defaults read ahead 16 batches of 4 files at once, and pre-buffer Parquet row groups
    of every column (over a remote filesystem, whole row groups fetched ahead): 1.2 to 1.5 GiB for
    a 5 M-row source. Two batches of one file, no pre-buffering (fsspec's block cache reads in
    ranges) keep it near the local file's figure, and were faster over S3 too."""
    import pyarrow.dataset as ds

    options: dict[str, Any] = {}
    if isinstance(dataset.format, ds.ParquetFileFormat):
        options["fragment_scan_options"] = ds.ParquetFragmentScanOptions(pre_buffer=False)
    return dataset.scanner(batch_size=BATCH_ROWS, batch_readahead=2, fragment_readahead=1, use_threads=True,
                           **options).to_reader()


def _csv_read_options():
    import pyarrow.csv as pcsv

    # Large blocks: column types are inferred from the first block, so it should be a good sample.
    return pcsv.ReadOptions(block_size=16 << 20)


def guard(call: Callable[[], Any], translate: Callable[[BaseException], BaseException]) -> Any:
    """``call()``, its library errors turned into ours by ``translate`` (ours pass as they are)."""
    from vision_widgets.core.errors import VisionError

    try:
        return call()
    except VisionError:
        raise
    except Exception as exc:
        raise translate(exc) from None


def translated(reader: Any, translate: Callable[[BaseException], BaseException]) -> Any:
    """``reader`` as a ``RecordBatchReader`` whose read errors (a connection lost mid-way, a broken
    file) arrive as our errors, by ``translate``, instead of the library's text."""
    import pyarrow as pa

    from vision_widgets.core.errors import VisionError

    def batches():
        try:
            yield from reader
        except VisionError:
            raise
        except Exception as exc:
            raise translate(exc) from None

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


class StoreConnection:
    """A connection to one root of an object store (S3 bucket + prefix, Azure container + path).

    Subclasses say where the root is (``root``, ``where``), how to make the fsspec filesystem
    (``make_fs``), which values are secrets to scrub from messages (``secret_values``) and, if the
    store can tell, whether the root exists (``check_root``); browsing, opening, testing and the
    time limits are the same for every store.
    """

    def __init__(self, config: dict, secrets: dict) -> None:
        self.config = config
        self.secrets = secrets
        self._fs: Any = None

    def __repr__(self) -> str:  # never the secrets
        return f"{type(self).__name__}(config={self.config!r})"

    # -- what a store says about itself ---------------------------------------------------------
    @property
    def root(self) -> str:
        raise NotImplementedError

    def where(self) -> str:
        raise NotImplementedError

    def make_fs(self) -> Any:
        raise NotImplementedError

    def secret_values(self) -> list[str]:
        return [v for v in self.secrets.values() if v]

    def check_root(self) -> None:
        """Raise ConnectorError when the root is missing (stores that cannot tell do nothing)."""

    # -- shared behaviour -------------------------------------------------------------------------
    @property
    def timeout(self) -> float:
        return float(self.config.get("timeout") or 10)

    def fs(self) -> Any:
        if self._fs is None:
            self._fs = self.make_fs()
        return self._fs

    def _where_capitalised(self) -> str:
        text = self.where()
        return text[:1].upper() + text[1:]

    def _error(self, exc: BaseException, what: str | None = None) -> BaseException:
        return connector_error(exc, what or self._where_capitalised(), self.secret_values())

    def _call(self, fn: Callable[[], Any], what: str | None = None) -> Any:
        return within(self.timeout * 3, lambda: guard(fn, lambda e: self._error(e, what)),
                      what or self._where_capitalised(), self.secret_values())

    def browse(self, path: str = "", limit: int = 200) -> list[Entry]:
        def listing() -> list[Entry]:
            if not (path or "").strip("/ "):
                self.check_root()
            return browse(self.fs(), self.root, path, limit)

        return self._call(listing)

    def open(self, reference: str) -> Any:
        full = inside(self.root, reference)
        what = f"The path {reference.strip()} in {self.where()}"
        reader = self._call(lambda: open_stream(self.fs(), full, reference), what)
        return translated(reader, lambda e: self._error(e, what))

    def describe(self, reference: str) -> str:
        return f"{reference} in {self.where()}"

    def test(self, timeout: float = 10.0) -> Any:
        def probe() -> tuple[str, tuple[str, ...]]:
            def top() -> list[Entry]:
                self.check_root()
                return browse(self.fs(), self.root, "", 10)

            entries = guard(top, self._error)
            return f"Reached {self.where()}; {len(entries)} folder(s) and file(s) at the top.", tuple(e.path for e in entries)

        return timed_test(timeout, probe, self._where_capitalised(), self.secret_values())

    def close(self) -> None:
        self._fs = None
