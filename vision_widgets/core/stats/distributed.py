"""Profiling a Parquet dataset on Dask: one task per row group (or file), partial profiles merged.

Profiles are mergeable (``client.merge``): counts, histograms and category counts add exactly,
moments merge by Chan's formula. So a dataset past one machine is profiled partition by
partition on a Dask cluster and the small partial profiles (aggregates only) are merged in
partition order on the caller's side.

What must not depend on the split is the *plan*: the column kinds, the numeric bin grids, the
task / prediction kind / positive class, and the surrogate. A partition cannot choose those from
its own rows (each would choose different edges, and histograms on different edges do not merge).
They come from one deterministic sample drawn across the partitions: the rows whose *global* row
index is a multiple of ``stride = ceil(total / sample_rows)``, where ``total`` comes from the
Parquet footers and every partition knows its global offset. The same rows are picked whichever
way the data is split, so 1, 2 or 4 partitions give the same plan, the same counts and the same
moments up to floating-point rounding. When every row is sampled (``total <= sample_rows``) the
sample *is* the data and the plan equals the one ``client.profile`` makes in one process.

Two passes over the data for a reference profile (the sample, then the profile); one for a
current profile (the reference is the plan). ``dask``/``distributed`` are imported lazily: the
rest of the package, and ``client.py`` on a client's machine, never need them.
"""
from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from vision_widgets import client as C
from vision_widgets.client import InvalidInput, Noise, Profile, Roles

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
#: Seconds to reach a scheduler (and to see its first worker) before giving up with a message.
CONNECT_TIMEOUT = 15.0
#: Share of the progress bar the sample pass takes (a reference profile reads the data twice).
SAMPLE_SHARE = 0.2
#: Rows per batch a task reads for the sample pass.
_SAMPLE_BATCH = 1 << 16


@dataclass(frozen=True)
class ParquetDataset:
    """The Parquet files of one dataset, in their global row order, and how to read them."""

    files: tuple[str, ...]
    name: str
    #: An fsspec filesystem (object stores); None: local paths, read by pyarrow directly.
    filesystem: Any = None


@dataclass(frozen=True)
class Part:
    """One task's share: row groups of one file, and the global index of its first row."""

    file: str
    row_groups: tuple[int, ...]
    offset: int
    rows: int


def is_parquet(data: Any) -> bool:
    """Whether ``data`` names Parquet: a ``ParquetDataset``, a .parquet path/URL, or a local folder."""
    if isinstance(data, ParquetDataset):
        return True
    if not isinstance(data, (str, os.PathLike)):
        return False
    path = os.fspath(data)
    return path.lower().endswith(PARQUET_SUFFIXES) or ("://" not in path and os.path.isdir(path))


def parquet_dataset(data: str | os.PathLike[str] | ParquetDataset, filesystem: Any = None) -> ParquetDataset:
    """Resolve a Parquet file, a folder of Parquet files or an object-store prefix (``s3://…``,
    ``az://…``, read through fsspec) into its files, sorted by path (hidden and ``_`` files skipped)."""
    if isinstance(data, ParquetDataset):
        return data
    name = os.fspath(data)
    path = name
    if filesystem is None and "://" in path:
        import fsspec

        filesystem, path = fsspec.core.url_to_fs(path)
    elif filesystem is not None:
        path = filesystem._strip_protocol(path).rstrip("/")
    if filesystem is None:
        if not os.path.exists(path):
            raise InvalidInput(f"{name}: no such file or folder; check the path.", field="data")
        if os.path.isdir(path):
            files = sorted(os.path.join(root, f) for root, dirs, fs in os.walk(path) for f in fs
                           if f.lower().endswith(PARQUET_SUFFIXES) and not _hidden(os.path.relpath(os.path.join(root, f), path)))
        else:
            files = [path]
    else:
        try:
            info = filesystem.info(path)
        except FileNotFoundError:
            raise InvalidInput(f"{name}: nothing there; check the path.", field="data") from None
        if info.get("type") == "directory":
            files = sorted(p for p in filesystem.find(path) if p.lower().endswith(PARQUET_SUFFIXES)
                           and not _hidden(p[len(path):]))
        else:
            files = [path]
    if not files:
        raise InvalidInput(f"{name} holds no Parquet files; profiling on Dask reads a Parquet file or a folder of them.",
                           field="data")
    bad = [f for f in files if not f.lower().endswith(PARQUET_SUFFIXES)]
    if bad:
        raise InvalidInput(f"{name} is not Parquet; profiling on Dask reads a Parquet file (.parquet) or a folder of "
                           "them — profile a CSV without --dask, or convert it to Parquet.", field="data")
    return ParquetDataset(tuple(files), name, filesystem)


def _hidden(rel: str) -> bool:
    return any(part.startswith((".", "_")) for part in re.split(r"[\\/]", rel) if part)


@contextlib.contextmanager
def _parquet_file(ds: ParquetDataset, path: str) -> Iterator[Any]:
    """``pyarrow.parquet.ParquetFile`` of ``path``, text columns read as dictionaries (as ``client`` reads them)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with contextlib.ExitStack() as stack:
        source = path if ds.filesystem is None else stack.enter_context(ds.filesystem.open(path, "rb"))
        try:
            pf = pq.ParquetFile(source)
            strings = [f.name for f in pf.schema_arrow if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
            if strings:
                pf = pq.ParquetFile(source, read_dictionary=strings)
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise InvalidInput(f"{path} is not a readable Parquet file ({exc}).", field="data") from None
        yield pf


def partitions(ds: ParquetDataset, per: str = "row_group") -> tuple[list[Part], list[str], dict[str, Any]]:
    """The tasks' shares (one per row group, or per file with ``per="file"``) with their global
    offsets, the header, and the Arrow types of the columns (from the footers only)."""
    if per not in ("row_group", "file"):
        raise InvalidInput(f"per={per!r}: give 'row_group' or 'file'.", field="per")
    parts: list[Part] = []
    header: list[str] | None = None
    types: dict[str, Any] = {}
    offset = 0
    for path in ds.files:
        with _parquet_file(ds, path) as pf:
            names = [str(n) for n in pf.schema_arrow.names]
            if header is None:
                header, types = names, {f.name: f.type for f in pf.schema_arrow}
            elif names != header:
                raise InvalidInput(f"{path} does not have the same columns as {ds.files[0]}; every file of a "
                                   "dataset needs the same columns in the same order.", field="data")
            meta = pf.metadata
            sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        if per == "file":
            if sum(sizes):
                parts.append(Part(path, tuple(range(len(sizes))), offset, sum(sizes)))
            offset += sum(sizes)
            continue
        for i, n in enumerate(sizes):
            if n:
                parts.append(Part(path, (i,), offset, n))
            offset += n
    assert header is not None
    if len(set(header)) != len(header):
        raise InvalidInput(f"{ds.name} has duplicate column names; rename them.", field="data")
    if offset == 0:
        raise InvalidInput(f"{ds.name} has columns but no rows; give data with at least one row.", field="data")
    return parts, header, types


def sample_rows(features: int) -> int:
    """How many rows the plan's sample holds: the surrogate's size, bounded by the cells a
    single-process reference holds for its edges (so many columns keep the sample in memory)."""
    return min(C.SURROGATE_ROWS, C._warm_rows(features))


def _batches(ds: ParquetDataset, part: Part, columns: list[str], rows: int) -> Iterator[Any]:
    with _parquet_file(ds, part.file) as pf:
        yield from pf.iter_batches(batch_size=rows, row_groups=list(part.row_groups), columns=columns, use_threads=False)


def _sample_part(part: Part, ds: ParquetDataset, columns: list[str], stride: int) -> Any:
    """The part's rows whose global index is a multiple of ``stride`` (text decoded: the parts'
    dictionaries differ), or None."""
    import pyarrow as pa

    pieces = []
    pos = part.offset
    for batch in _batches(ds, part, columns, _SAMPLE_BATCH):
        first = (-pos) % stride
        if first < batch.num_rows:
            picked = batch if stride == 1 else batch.take(pa.array(np.arange(first, batch.num_rows, stride)))
            pieces.append(pa.RecordBatch.from_arrays(
                [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c for c in picked.columns],
                names=picked.schema.names))
        pos += batch.num_rows
    return pa.Table.from_batches(pieces) if pieces else None


def _profile_part(part: Part, ds: ParquetDataset, plan: Any, columns: list[str], chunk_rows: int,
                  wspec: tuple[str, int] | None, bins: int) -> Profile:
    """The partial profile of one part, on the fixed ``plan`` (no surrogate: the plan has it)."""
    def chunks() -> Iterator[tuple[Any, float]]:
        pos = part.offset
        for batch in _batches(ds, part, columns, chunk_rows):
            yield C._ArrowChunk(batch, pos), 0.0
            pos += batch.num_rows

    with ThreadPoolExecutor(max_workers=1) as executor:
        return C._run(plan, chunks(), executor, None, wspec, bins, False, ds.name)


def _sample_chunk(tables: Sequence[Any]) -> Any:
    """The sampled rows as one chunk, text columns dictionary-encoded as a Parquet read gives them."""
    import pyarrow as pa

    table = pa.concat_tables(tables).combine_chunks()
    batch = table.to_batches(max_chunksize=max(table.num_rows, 1))[0]
    cols = [c.dictionary_encode() if (pa.types.is_string(c.type) or pa.types.is_large_string(c.type)) else c
            for c in batch.columns]
    return C._ArrowChunk(pa.RecordBatch.from_arrays(cols, names=batch.schema.names), 0)


def _window_order(item: tuple[str, Profile]) -> tuple[int, str]:
    m = re.fullmatch(r"rows (\d+)-\d+", item[0])
    return (int(m.group(1)), "") if m else (0, item[0])


class _Tracker:
    """Progress over a phase: the share of its rows whose tasks finished, mapped onto ``lo..hi``."""

    def __init__(self, progress: Callable[[float], Any] | None, lo: float, hi: float, total: int) -> None:
        self.progress, self.lo, self.hi, self.total, self.done = progress, lo, hi, max(total, 1), 0

    def add(self, rows: int) -> None:
        self.done += rows
        if self.progress is not None:
            self.progress(min(0.999, self.lo + (self.hi - self.lo) * self.done / self.total))


def _run_tasks(dask: Any, fn: Callable[..., Any], parts: list[Part], args: tuple[Any, ...], tracker: _Tracker,
               prefix: str) -> list[Any]:
    """``fn(part, *args)`` for every part on the cluster; the results in part order.

    A task whose worker dies is rerun elsewhere by the scheduler (``distributed.scheduler.allowed-failures``
    times); a task that raises fails the whole run with its error.
    """
    from distributed import as_completed

    tag = uuid.uuid4().hex[:8]
    futures = [dask.submit(fn, part, *args, key=f"vision-{prefix}-{tag}-{i}", pure=False, retries=0)
               for i, part in enumerate(parts)]
    where = {f.key: i for i, f in enumerate(futures)}
    out: list[Any] = [None] * len(parts)
    try:
        for future in as_completed(futures):
            i = where[future.key]
            out[i] = future.result()
            tracker.add(parts[i].rows)
    finally:
        for f in futures:
            f.release()
    return out


def profile_parquet(
    data: str | os.PathLike[str] | ParquetDataset,
    roles: Roles | None = None,
    reference: Profile | None = None,
    *,
    dask: Any,
    chunk_rows: int = C.DEFAULT_CHUNK_ROWS,
    progress: Callable[[float], Any] | None = None,
    k: int = C.DEFAULT_K,
    window: str | int | None = None,
    bins: int = C.DEFAULT_BINS,
    noise: Noise | None = None,  # refused: see below
    per: str = "row_group",
    filesystem: Any = None,
    timeout: float = CONNECT_TIMEOUT,
    sample_size: int | None = None,
) -> Profile:
    """``client.profile`` of a Parquet dataset, computed on a Dask cluster partition by partition.

    Parameters
    ----------
    data
        A Parquet file, a folder of Parquet files (read in path order), an fsspec URL of either
        (``s3://bucket/prefix``), or a ``ParquetDataset``.
    dask
        A ``distributed.Client``, ``"local:N"`` (a cluster of N one-thread worker processes on
        127.0.0.1, started and closed here) or a scheduler address (``"tcp://host:8786"``).
    per
        One task per ``"row_group"`` (default) or per ``"file"``.
    sample_size
        Rows in the plan's sample (default ``sample_rows(features)``: 200,000 for up to 82 features).
    roles, reference, chunk_rows, progress, k, window, bins
        As for ``client.profile``; the result equals it (see the module's docstring for when
        exactly, and docs/statistics.md "Profiling on Dask").
    """
    roles, k, wspec = C._arguments(roles, reference, chunk_rows, k, window, noise)
    if noise is not None:
        # The privacy ledger keys a dataset's budget by a hash of its exact profile, whose moments differ
        # in the last bits with the split: each new split would open a fresh budget for the same data.
        raise InvalidInput("differential privacy (noise / --epsilon) is not offered on Dask: the privacy budget is "
                           "kept per exact profile, and the split would change it; profile without --dask.",
                           field="noise")
    ds = parquet_dataset(data, filesystem)
    parts, header, types = partitions(ds, per)
    roles, features = C._columns(header, roles, reference, ds.name)
    used = list(dict.fromkeys(features + list(roles.special)))
    total = sum(p.rows for p in parts)
    with dask_client(dask, timeout) as cluster:
        plan = C._Plan(features=features, kinds={}, grids={}, k=k, roles=roles)
        surrogate = None
        if reference is not None:
            C._plan_from_reference(plan, reference)
            start = 0.0
        else:
            stride = max(1, math.ceil(total / (sample_size or sample_rows(len(features)))))
            wanted = list(dict.fromkeys(features + [c for c in (roles.target, roles.prediction) if c]))
            tables = _run_tasks(cluster, _sample_part, parts, (ds, wanted, stride),
                                _Tracker(progress, 0.0, SAMPLE_SHARE, total), "sample")
            tables = [t.select(wanted) for t in tables if t is not None]
            sample = _sample_chunk(tables)
            C._plan_kinds(plan, sample.head(min(10_000, chunk_rows)), types)
            with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as executor:
                surrogate = C._warm_plan(plan, [sample], bins, executor)
            start = SAMPLE_SHARE
        if progress is not None:
            progress(start)  # the plan is fixed: from here on every task profiles on it
        partial = _run_tasks(cluster, _profile_part, parts, (ds, plan, used, chunk_rows, wspec, bins),
                             _Tracker(progress, start, 1.0, total), "profile")
    prof = partial[0]
    for p in partial[1:]:
        prof = C.merge(prof, p)
    if prof.windows:
        prof.windows = dict(sorted(prof.windows.items(), key=_window_order))
    prof.surrogate = surrogate
    prof.reference_id = plan.reference_id
    if reference is None:
        C._check_reference_columns(prof, ds.name)
    if progress is not None:
        progress(1.0)
    return prof


@contextlib.contextmanager
def dask_client(spec: Any, timeout: float = CONNECT_TIMEOUT) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec``: a Client (used as is), ``"local:N"`` (a LocalCluster of N
    one-thread worker processes on 127.0.0.1 without a dashboard, closed on exit) or a scheduler
    address (``tcp://host:8786``; refused with a message when unreachable within ``timeout``)."""
    try:
        import distributed
    except ImportError:  # pragma: no cover - depends on the machine
        raise InvalidInput("profiling on Dask needs dask.distributed: pip install 'dask[distributed]'.") from None
    if isinstance(spec, distributed.Client):
        yield spec
        return
    text = str(spec).strip()
    local = re.fullmatch(r"local:(\d+)", text)
    if local:
        n = int(local.group(1))
        if not 1 <= n <= 256:
            raise InvalidInput(f"--dask {text}: give 1 to 256 local workers.", field="dask")
        with warnings.catch_warnings():
            # No dashboard; the scheduler's health endpoint takes 8787 on loopback, or another port
            # when that one is taken (a second cluster) — which distributed warns about, needlessly.
            warnings.filterwarnings("ignore", message="Port 8787 is already in use", category=UserWarning)
            cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                               dashboard_address=None, silence_logs=logging.ERROR)
        try:
            with distributed.Client(cluster, timeout=timeout) as dask:
                yield dask
        finally:
            cluster.close()
        return
    if not re.fullmatch(r"(tcp|tls)://[^\s/]+:\d+", text):
        raise InvalidInput(f"--dask {text!r}: give local:N (N worker processes here) or tcp://host:8786 "
                           "(a running scheduler).", field="dask")
    try:
        dask = distributed.Client(text, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise InvalidInput(f"cannot reach the Dask scheduler at {text} within {timeout:g} s ({type(exc).__name__}); "
                           "start it (`dask scheduler`) or check the address.", field="dask") from None
    try:
        try:
            dask.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError):
            raise InvalidInput(f"the Dask scheduler at {text} has no workers (none joined within {timeout:g} s); "
                               "start some (`dask worker {text}`).", field="dask") from None
        yield dask
    finally:
        dask.close()
