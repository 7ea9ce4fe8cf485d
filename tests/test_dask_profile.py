"""Profiling Parquet on Dask (core/stats/distributed.py): the same profile as in one process.

A reference profile's plan (kinds, edges, model block, surrogate) comes from a sample of the rows
whose global index is a multiple of a stride, so 1, 2 and 4 partitions give the same edges and
counts; with every row sampled it is ``client.profile``'s plan. A worker killed inside a task is
replaced and its task rerun; the result is still exact. One two-worker cluster serves the module.
"""
from __future__ import annotations

import json
import math
import os
import signal
import threading
import uuid

import numpy as np
import pandas as pd
import pytest
from helpers import USER, demo_frames, demo_spec
from stats_data import mixed_frame

from vision_widgets import client
from vision_widgets.cli import main
from vision_widgets.client import CategoryStats, NumericStats, Roles
from vision_widgets.core.errors import InvalidInput
from vision_widgets.core.stats import distributed as D

distributed = pytest.importorskip("distributed")

ROLES = Roles(target="label", prediction="score", exclude=("id",))


@pytest.fixture(scope="module")
def cluster():
    """Two one-thread worker processes on loopback, no dashboard; closed after the module."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as lc, distributed.Client(lc) as dask:
        yield dask


def _frame(rows: int, seed: int) -> pd.DataFrame:
    df = mixed_frame(rows, seed=seed).drop(columns=["ts"])
    rng = np.random.default_rng(seed)
    df["visits"] = rng.poisson(3, rows)  # a discrete grid
    df.loc[rng.random(rows) < 0.05, "x2"] = np.nan  # missing values
    return df


def _write(df: pd.DataFrame, folder, files: int, row_groups: int = 1):
    """``df`` as ``files`` Parquet files of ``row_groups`` row groups each, in order."""
    os.makedirs(folder, exist_ok=True)
    for i, idx in enumerate(np.array_split(np.arange(len(df)), files)):
        part = df.iloc[idx]
        part.to_parquet(os.path.join(folder, f"part-{i:02d}.parquet"), index=False,
                        row_group_size=max(1, math.ceil(len(part) / row_groups)))
    return folder


def _assert_same(a: client.Profile, b: client.Profile) -> None:
    """Same edges, same counts (exact), same moments and surrogate (to rounding)."""
    assert a.rows == b.rows and list(a.columns) == list(b.columns)
    for name in a.columns:
        x, y = a.columns[name], b.columns[name]
        assert type(x) is type(y), name
        if isinstance(x, NumericStats):
            _same_numeric(x, y, name)
        else:
            assert (x.counts, x.other, x.missing, x.kind) == (y.counts, y.other, y.missing, y.kind), name
    if a.model is None:
        assert b.model is None
    else:
        m, n = a.model, b.model
        assert (m.task, m.prediction_kind, m.positive_class, m.confusion) == (
            n.task, n.prediction_kind, n.positive_class, n.confusion)
        for part in ("target", "prediction"):
            u, v = getattr(m, part), getattr(n, part)
            if isinstance(u, NumericStats):
                _same_numeric(u, v, part)
            elif isinstance(u, CategoryStats):
                assert (u.counts, u.other, u.missing) == (v.counts, v.other, v.missing)
        assert sorted(m.score_hist) == sorted(n.score_hist)
        for lab in m.score_hist:
            _same_numeric(m.score_hist[lab], n.score_hist[lab], f"scores {lab}")
        assert m.errors == pytest.approx(n.errors, rel=1e-12)
    if a.surrogate is None:
        assert b.surrogate is None
    else:
        s, t = a.surrogate, b.surrogate
        assert (s.kind, s.response, s.terms, s.rows, s.converged, s.variance_kind) == (
            t.kind, t.response, t.terms, t.rows, t.converged, t.variance_kind)
        assert s.coefficients == pytest.approx(t.coefficients, rel=1e-9, abs=1e-12)
        assert s.variances == pytest.approx(t.variances, rel=1e-9, abs=1e-15)
    assert list(a.windows) == list(b.windows)
    for label in a.windows:
        _assert_same(a.windows[label], b.windows[label])
    # what is published: the pooled JSON, to rounding in its floats
    _same_json(json.loads(a.to_json()), json.loads(b.to_json()))


def _same_numeric(x: NumericStats, y: NumericStats, name: str) -> None:
    assert x.grid.same(y.grid) and (x.grid.origin, x.grid.step, x.grid.cells) == (y.grid.origin, y.grid.step, y.grid.cells), name
    assert np.array_equal(x.counts, y.counts), name
    assert (x.count, x.missing) == (y.count, y.missing), name
    assert x.mean == pytest.approx(y.mean, rel=1e-12, abs=1e-12), name
    assert x.m2 == pytest.approx(y.m2, rel=1e-12), name
    assert np.allclose(x.sums, y.sums, rtol=1e-12, atol=1e-9), name


def _same_json(a, b, path="") -> None:
    if path.endswith(("fingerprint", "reference_id")):  # hashes of the floats below
        return
    if isinstance(a, dict):
        assert list(a) == list(b), path
        for key in a:
            _same_json(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (u, v) in enumerate(zip(a, b)):
            _same_json(u, v, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), path
    else:
        assert a == b, path


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """4,000 rows (fewer than the sample: every row sampled), as one file and split 2 and 4 ways."""
    root = tmp_path_factory.mktemp("dask_small")
    df = _frame(4000, seed=41)
    df.to_parquet(root / "all.parquet", index=False)
    return {"frame": df, "file": root / "all.parquet", 1: _write(df, root / "one", 1),
            2: _write(df, root / "two", 2), 4: _write(df, root / "four", 2, row_groups=2)}


@pytest.mark.parametrize("parts", [1, 2, 4])
def test_the_dask_reference_profile_equals_the_single_process_one(cluster, small, parts):
    single = client.profile(str(small["file"]), ROLES)
    on_dask = D.profile_parquet(small[parts], ROLES, dask=cluster)
    assert len(D.partitions(D.parquet_dataset(small[parts]))[0]) == parts
    assert single.columns["visits"].grid.discrete and single.surrogate is not None
    _assert_same(single, on_dask)


def test_a_current_profile_in_windows_on_dask_equals_the_single_process_one(cluster, small, tmp_path):
    ref = client.profile(str(small["file"]), ROLES)
    cur = _frame(3000, seed=42)
    cur["x1"] += 0.3
    cur.to_parquet(tmp_path / "cur.parquet", index=False)
    _write(cur, tmp_path / "cur", 3, row_groups=2)
    single = client.profile(str(tmp_path / "cur.parquet"), reference=ref, window=700)
    on_dask = D.profile_parquet(tmp_path / "cur", reference=ref, dask=cluster, window=700)
    assert len(single.windows) == 5 and on_dask.reference_id == ref.fingerprint()
    _assert_same(single, on_dask)


def test_a_plan_from_a_strided_sample_does_not_depend_on_the_split(cluster, small):
    """More rows than the sample: edges, counts and surrogate are the same for 1, 2 and 4 parts."""
    results = [D.profile_parquet(small[n], ROLES, dask=cluster, sample_size=1000) for n in (1, 2, 4)]
    for other in results[1:]:
        _assert_same(results[0], other)
    assert results[0].surrogate.rows <= 1000
    # the sample spans the whole data, not its first rows: its edges differ from a 1000-row head's
    head = client.profile(small["frame"].head(1000), ROLES)
    assert not results[0].columns["x1"].grid.same(head.columns["x1"].grid)


def test_a_worker_killed_inside_a_task_is_replaced_and_the_profile_is_still_exact(cluster, small):
    from support.gated_fs import GatedFileSystem, gate_primitives

    gate = f"gate-{uuid.uuid4().hex}"  # names of this test's own on the module's shared scheduler
    armed, go, reader_pid = gate_primitives(gate, cluster)
    folder = small[4]
    files = sorted(str(folder / f) for f in os.listdir(folder))
    ds = D.ParquetDataset(tuple(files), "the gated data", GatedFileSystem(gate, files[1]))
    result: dict = {}

    def arm(fraction: float) -> None:
        if fraction >= D.SAMPLE_SHARE:  # the plan is fixed; the profiling tasks come next
            armed.set()

    def run() -> None:
        try:
            result["profile"] = D.profile_parquet(ds, ROLES, dask=cluster, progress=arm)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    try:
        try:  # waits until a profiling task is inside the gated file
            pid = reader_pid.get(timeout=60)
        except TimeoutError:
            pytest.fail(f"no profiling task opened the gated file within 60 s: {result or 'the run goes on'}")
        assert pid in set(cluster.run(os.getpid).values())
        os.kill(pid, signal.SIGKILL)
    finally:
        go.set()  # whatever happened, no task is left waiting at the gate
    thread.join(120)
    assert not thread.is_alive() and "error" not in result, result
    cluster.wait_for_workers(2, timeout=60)
    assert pid not in set(cluster.run(os.getpid).values())  # that worker is gone, a new one took its place
    _assert_same(client.profile(str(small["file"]), ROLES), result["profile"])


def test_the_cli_writes_the_same_json_as_the_function(cluster, small, tmp_path, capsys):
    out = tmp_path / "ref.json"
    code = main(["profile", str(small[4]), "--target", "label", "--prediction", "score", "--exclude", "id",
                 "--dask", cluster.scheduler.address, "-o", str(out), "--quiet"])
    assert code == 0, capsys.readouterr()
    assert "wrote reference profile of 4,000 rows" in capsys.readouterr().out
    assert out.read_text() == D.profile_parquet(small[4], ROLES, dask=cluster).to_json(indent=1)


def test_the_cli_starts_and_closes_a_local_cluster(small, tmp_path, capsys):
    out = tmp_path / "ref.json"
    assert main(["profile", str(small[2]), "--target", "label", "--prediction", "score", "--exclude", "id",
                 "--dask", "local:1", "-o", str(out), "--quiet"]) == 0
    _same_json(json.loads(out.read_text()), json.loads(client.profile(str(small["file"]), ROLES).to_json()))


@pytest.mark.parametrize("args, message", [
    (["{csv}", "--dask", "local:1"], "--dask profiles Parquet"),
    (["{empty}", "--dask", "local:1"], "holds no Parquet files"),
    (["{parquet}", "--dask", "udp://x"], "give local:N"),
    (["{parquet}", "--dask", "tcp://127.0.0.1:{port}", "--dask-timeout", "1"], "cannot reach the Dask scheduler"),
    (["{parquet}", "--dask-timeout", "1"], "--dask-timeout needs --dask"),
    (["{parquet}", "--dask", "local:1", "--epsilon", "1"], "--epsilon cannot be used with --dask"),
])
def test_the_cli_refuses_what_it_cannot_profile_on_dask(small, tmp_path, capsys, args, message):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    small["frame"].head(50).to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "empty").mkdir()
    values = dict(csv=tmp_path / "data.csv", empty=tmp_path / "empty", parquet=small["file"], port=port)
    argv = ["profile", *[a.format(**values) for a in args], "-o", str(tmp_path / "out.json")]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()


def test_files_with_different_columns_are_refused(small, tmp_path):
    _write(small["frame"], tmp_path / "mixed", 2)
    small["frame"].drop(columns=["x1"]).to_parquet(tmp_path / "mixed" / "part-02.parquet", index=False)
    with pytest.raises(InvalidInput, match="does not have the same columns"):
        D.partitions(D.parquet_dataset(tmp_path / "mixed"))


def test_a_registration_with_a_dask_scheduler_stores_the_same_profiles(cluster, ctx, login, monkeypatch):
    """VISION_DASK_SCHEDULER set: the training folder and the production file are profiled on Dask,
    and what is stored equals the registration profiled in the job's process."""
    from vision_widgets.core.catalog import records
    from vision_widgets.core.config import load_settings
    from vision_widgets.core.context import Context
    from vision_widgets.services import registration

    train, prod = (f.drop(columns=["event_time"]) for f in demo_frames())
    folder = ctx.settings.home / "data" / "fraud"
    _write(train, folder / "training", 3)
    prod.to_parquet(folder / "production.parquet", index=False)
    spec = dict(timestamp="", exclude=("record_id",))
    user = login(USER)
    registration.register_model(ctx, user, demo_spec("In process", "data/fraud/training",
                                                      "data/fraud/production.parquet", **spec))

    calls = []
    real = D.profile_parquet
    env = {"VISION_HOME": str(ctx.settings.home), "VISION_USERS_FILE": str(ctx.settings.users_file),
           "VISION_DASK_SCHEDULER": cluster.scheduler.address}
    on_dask = Context.open(load_settings(env), clock=ctx.clock)
    monkeypatch.setattr(D, "profile_parquet", lambda *a, **kw: calls.append(kw["dask"]) or real(*a, **kw))
    try:
        registration.register_model(on_dask, user, demo_spec("On Dask", "data/fraud/training",
                                                             "data/fraud/production.parquet", **spec))
    finally:
        on_dask.store.dispose()
    assert calls == [cluster.scheduler.address] * 2  # training and production, both on the cluster

    with ctx.store.read() as conn:
        stored = {name: {kind: [client.Profile.from_json(p.body) for p in records.profiles_of(conn, records.get(conn, name).id, kind)]
                         for kind in ("reference", "production")} for name in ("In process", "On Dask")}
    for kind in ("reference", "production"):
        assert len(stored["On Dask"][kind]) == 1
        _same_json(json.loads(stored["In process"][kind][0].to_json()), json.loads(stored["On Dask"][kind][0].to_json()))


def test_a_scheduled_pull_with_a_dask_scheduler_profiles_each_new_file_on_it(cluster, ctx, login, monkeypatch):
    from vision_widgets.core.catalog import records
    from vision_widgets.core.config import load_settings
    from vision_widgets.core.context import Context
    from vision_widgets.services import registration, scheduled_pulls

    monkeypatch.setattr(scheduled_pulls, "MIN_FILE_AGE", 0.0)  # the file is written whole at once
    train, prod = (f.drop(columns=["event_time"]) for f in demo_frames())
    folder = ctx.settings.home / "data" / "fraud"
    (folder / "incoming").mkdir(parents=True)
    train.to_parquet(folder / "training.parquet", index=False)
    prod.iloc[:300].to_parquet(folder / "incoming" / "week-00.parquet", index=False)
    user = login(USER)
    registration.register_model(ctx, user, demo_spec("Pulled", "data/fraud/training.parquet",
                                                      "data/fraud/incoming/week-00.parquet",
                                                      timestamp="", exclude=("record_id",)))
    scheduled_pulls.set_pull(ctx, user, "Pulled", "1D", "data/fraud/incoming")

    calls = []
    real = D.profile_parquet
    monkeypatch.setattr(D, "profile_parquet", lambda *a, **kw: calls.append(kw["dask"]) or real(*a, **kw))
    env = {"VISION_HOME": str(ctx.settings.home), "VISION_USERS_FILE": str(ctx.settings.users_file),
           "VISION_DASK_SCHEDULER": cluster.scheduler.address}
    on_dask = Context.open(load_settings(env), clock=ctx.clock)
    try:
        outcome = scheduled_pulls.run_pull(on_dask, user, "Pulled")
    finally:
        on_dask.store.dispose()
    assert (outcome.batches, outcome.rows) == (1, 300) and calls == [cluster.scheduler.address]
    with ctx.store.read() as conn:
        model = records.get(conn, "Pulled")
        reference = client.Profile.from_json(records.profiles_of(conn, model.id, "reference")[0].body)
        pulled = records.profiles_of(conn, model.id, records.PRODUCTION)[-1].body
    expected = client.profile(str(folder / "incoming" / "week-00.parquet"), reference=reference)
    _same_json(json.loads(expected.to_json()), json.loads(pulled))


def test_vision_dask_scheduler_is_checked_when_read():
    from vision_widgets.core.config import load_settings
    from vision_widgets.core.errors import ConfigurationError

    assert load_settings({"VISION_DASK_SCHEDULER": "local:2"}).dask_scheduler == "local:2"
    assert load_settings({}).dask_scheduler == ""
    with pytest.raises(ConfigurationError, match="not a Dask scheduler"):
        load_settings({"VISION_DASK_SCHEDULER": "scheduler:8786"})


def test_bad_values_found_by_a_task_fail_the_run_with_the_profilers_message(cluster, small, tmp_path):
    bad = small["frame"].assign(score=small["frame"]["score"] * 3)  # not a probability any more
    _write(small["frame"], tmp_path / "bad", 2)
    bad.iloc[:500].to_parquet(tmp_path / "bad" / "part-02.parquet", index=False)
    ref = client.profile(str(small["file"]), ROLES)
    with pytest.raises(InvalidInput, match="outside \\[0, 1\\]"):
        D.profile_parquet(tmp_path / "bad", reference=ref, dask=cluster)


def test_an_object_store_prefix_is_profiled_on_dask_like_the_local_file(cluster, small, moto_s3):
    """A folder of Parquet objects under an S3 prefix (moto, with authentication): read by the workers
    through the fsspec filesystem, the same profile as the local file."""
    import s3fs

    s3 = moto_s3.client()
    s3.create_bucket(Bucket="dask-data")
    for name in sorted(os.listdir(small[4])):
        s3.upload_file(str(small[4] / name), "dask-data", f"train/{name}")
    s3.put_object(Bucket="dask-data", Key="train/_SUCCESS", Body=b"")  # a marker file, skipped
    fs = s3fs.S3FileSystem(key=moto_s3.key_id, secret=moto_s3.secret, client_kwargs={
        "endpoint_url": moto_s3.endpoint, "region_name": moto_s3.region}, skip_instance_cache=True)
    on_dask = D.profile_parquet("s3://dask-data/train/", ROLES, dask=cluster, filesystem=fs)
    _assert_same(client.profile(str(small["file"]), ROLES), on_dask)
