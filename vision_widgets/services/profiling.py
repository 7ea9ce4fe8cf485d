"""What the model use cases share: profiling a model's data on the server and storing a batch.

Registration, new production batches and client submissions all end the same
way: a production profile on the reference's bins, a drift report, both stored
in the caller's transaction. ``record_for`` is the one place that decides
whether a principal may open or change a model.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any, Callable

from vision_widgets import client
from vision_widgets.client import CLASSIFICATION, REGRESSION, CategoryStats, Profile, Roles
from vision_widgets.core.catalog import records
from vision_widgets.core.catalog.records import ModelRecord
from vision_widgets.core.catalog.windows import is_late_labels
from vision_widgets.core.context import Context
from vision_widgets.core.errors import InvalidInput, PermissionDenied
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import can_manage_model, can_view_model
from vision_widgets.core.stats import distributed
from vision_widgets.core.stats.drift import DriftReport, DriftSettings

#: Called with (fraction done, what is happening) during long work.
Progress = Callable[[float, str], Any]

PRODUCTION_WINDOW = "7D"  # drift history per week when a timestamp column is named


def client_task(task: str) -> str:
    """The client's task name for a registry task (binary/multiclass are both classification)."""
    return REGRESSION if task == "regression" else CLASSIFICATION


def client_roles(record_roles: dict[str, Any], task: str) -> Roles:
    """The column roles stored with a model, as the profiler takes them."""
    return Roles(
        features=tuple(record_roles["features"]) if record_roles.get("features") else None,
        target=record_roles.get("target"),
        prediction=record_roles.get("prediction"),
        timestamp=record_roles.get("timestamp"),
        exclude=tuple(record_roles.get("exclude") or ()),
        task=client_task(task),
    )


def step(progress: Progress | None, start: float, end: float, what: str):
    """A fraction-only callback that maps 0..1 onto ``start..end`` of ``progress``."""
    if progress is None:
        return None
    return lambda fraction: progress(start + (end - start) * float(fraction), what)


def check_labels(reference: Profile, task: str, target: str | None) -> None:
    """A classification target needs two classes or more (binary: exactly two)."""
    if not target or reference.model is None:
        return
    t = reference.model.target
    if isinstance(t, CategoryStats):
        classes = [c for c, n in t.counts.items() if n > 0]
        if len(classes) < 2:
            only = f" ({classes[0]!r})" if classes else ""
            raise InvalidInput(
                f"The target column {target!r} has a single class{only} in the training data; "
                "a classification model needs at least two. Check the column or the file."
            )
        if task == "binary classification" and len(classes) > 2:
            raise InvalidInput(
                f"The target column {target!r} has {len(classes)} classes; choose 'multiclass classification'."
            )


def record_for(conn, principal: Principal, name: str, manage: bool = False, lock: bool = False) -> ModelRecord:
    """Model ``name`` if the principal may open it (or change it, with ``manage``).

    With ``lock`` (in a write transaction), the model is read once with its row held until the
    transaction ends, as ``records.lock`` holds it: for a write that needs the model as it is now.
    """
    record = records.get(conn, name, lock=lock)
    allowed = can_manage_model(principal, record.owner) if manage else can_view_model(principal, record.owner)
    if not allowed:
        verb = "change" if manage else "open"
        raise PermissionDenied(f"You may not {verb} the model {record.name!r}; it belongs to another user.")
    return record


def profile_input(data: Any) -> Any:
    """What a connection opened, as ``client.profile`` takes it: a local path as text, a stream as is."""
    return str(data) if isinstance(data, (str, os.PathLike)) else data


def open_source(ctx: Context, connection: Any, reference: str) -> Any:
    """What to profile for ``reference`` under ``connection``: with ``VISION_DASK_SCHEDULER`` set and
    Parquet behind it (a file or a folder the connection can list as files), those files, to be
    profiled on Dask; otherwise what the connection opens (a path or a stream of record batches).

    Only the local connector lists its files for Dask: an object store's would need its credentials
    sent to every worker, so those sources stay profiled in the job's process (docs/decisions.md).
    """
    if ctx.settings.dask_scheduler:
        list_files = getattr(connection, "parquet_files", None)
        files = list_files(reference) if list_files is not None else None
        if files:
            return distributed.ParquetDataset(tuple(files), reference)
    return connection.open(reference)


def profile_data(ctx: Context, data: Any, roles: Roles | None = None, reference: Profile | None = None,
                 window: str | None = None, progress: Callable[[float], Any] | None = None) -> Profile:
    """``client.profile`` of what a connection opened; on the Dask scheduler of ``VISION_DASK_SCHEDULER``
    when one is set and the data is Parquet (the same profile, computed partition by partition)."""
    if ctx.settings.dask_scheduler and distributed.is_parquet(data):
        return distributed.profile_parquet(data, roles, reference, dask=ctx.settings.dask_scheduler,
                                           k=ctx.settings.privacy_k, window=window, progress=progress)
    return client.profile(profile_input(data), roles, reference=reference, k=ctx.settings.privacy_k,
                          window=window, progress=progress)


def profile_production(ctx: Context, data, reference: Profile, timestamp: str | None,
                       progress: Progress | None, start: float) -> Profile:
    """A production profile on the reference's bins, in weekly windows when there is a timestamp.

    ``data`` is what a connection opened: a local path, or a stream of Arrow record batches (or, on
    Dask, the Parquet files of ``open_source``).
    """
    return profile_data(ctx, data, reference=reference, window=PRODUCTION_WINDOW if timestamp else None,
                        progress=step(progress, start, 0.95, "Profiling production data"))


def published(profile: Profile) -> Profile:
    """The profile as stored (pooled by the privacy guard), read back.

    Drift is computed on this, not on the exact in-memory profile: a stored report must equal what
    any later recompute from the stored profiles gives (Model 360, a settings change, the export).
    """
    return Profile.from_json(profile.to_json())


def store_batch(conn, record: ModelRecord, production: Profile, report: DriftReport, label: str, source: str,
                now: datetime, explicit_label: bool = True) -> str:
    """Store a production profile and its drift report (in the caller's transaction).

    A labelled profile sent under the label of a batch stored without labels is those
    labels arriving late (``windows.is_late_labels``): it is stored as kind ``labels``
    with no drift report — the windows' drift stays what the first profile gave, and the
    labels supply their realised performance. Only a label the sender gave says so
    (``explicit_label``): a default one ("client submission", the file's name) is shared by
    unrelated batches. Returns the kind stored.
    """
    if explicit_label and is_late_labels(production, label, records.profiles_of(conn, record.id, records.PRODUCTION)):
        records.add_profile(conn, record.id, records.LABELS, label, source, production.rows, production.to_json(), now)
        return records.LABELS
    pid = records.add_profile(conn, record.id, records.PRODUCTION, label, source, production.rows,
                               production.to_json(), now)
    records.add_drift(conn, record.id, pid, report.dataset_drift, report.drift_share,
                       json.dumps(report.to_dict(), allow_nan=False), now)
    return records.PRODUCTION


def drift_settings_of(record: ModelRecord) -> DriftSettings:
    """The model's drift settings (defaults when none were saved)."""
    return DriftSettings.from_dict(record.drift_settings) if record.drift_settings else DriftSettings()
