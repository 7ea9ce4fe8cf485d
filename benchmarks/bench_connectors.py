"""Profiling through every connector type vs the local Parquet file (issue 11).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_connectors.py                  # 5,000,000 rows, every source
    .venv/bin/python benchmarks/bench_connectors.py --rows 200000     # a quick look
    .venv/bin/python benchmarks/bench_connectors.py --write          # figures into docs/performance.md

The data (generated once per run into a temporary folder, from a fixed seed): ``--rows`` rows of
10 numeric features (floats, one integer, one with 5 % missing), 3 categorical (text) features, a
binary target and a score — the mix of a model's data. The same rows are written as a local
Parquet file (the baseline), a CSV file, a folder of 10 Parquet files, a local Delta table, a table
in SQLite and in a throw-away PostgreSQL (tests/support/postgres.py), a Parquet object in moto's S3
server and in Azurite, all on loopback.

Each source is profiled (a reference profile, target and score named) by ``client.profile`` over
what the connector's ``open`` returns, in a CHILD process of its own, so its peak resident memory
(``ru_maxrss``, imports included) is the profiling's alone; servers (moto, Azurite, PostgreSQL) run
outside it. Reported: seconds, rows per second, the ratio of time to the local Parquet file's, the
peak RSS (the aim: under 1 GiB whatever the source), and whether the profile is identical to the
local Parquet file's (``to_dict`` equal).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

CHUNK = 500_000
ROLES = {"target": "churned", "prediction": "score"}
GIB = 1024 ** 3


# --- data --------------------------------------------------------------------------------------


def chunks(rows: int, seed: int = 11):
    """The rows, ``CHUNK`` at a time (deterministic: the same seed gives the same data)."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < rows:
        n = min(CHUNK, rows - done)
        cols: dict[str, object] = {}
        for i in range(9):
            cols[f"x{i}"] = rng.normal(i, 1 + i / 3, n)
        cols["x2"][rng.random(n) < 0.05] = np.nan
        cols["age"] = rng.integers(18, 90, n).astype("int64")
        cols["plan"] = rng.choice(np.array(["basic", "plus", "pro", "team"]), n, p=[0.4, 0.3, 0.2, 0.1])
        cols["region"] = rng.choice(np.array([f"r{i:02d}" for i in range(20)]), n)
        cols["channel"] = rng.choice(np.array(["web", "store", "phone"]), n)
        score = 1 / (1 + np.exp(-(0.5 * cols["x0"] - 0.02 * (cols["age"] - 50) + rng.normal(0, 1, n))))
        cols["churned"] = (rng.random(n) < score).astype("int64")
        cols["score"] = score
        yield pd.DataFrame(cols)
        done += n


def write_sources(folder: Path, rows: int) -> dict[str, Path]:
    """Local files of the data: Parquet, CSV, a folder of Parquet parts; returns their paths."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = folder / "data"
    (data / "parts").mkdir(parents=True)
    parquet, csv = data / "bench.parquet", data / "bench.csv"
    writer = None
    part_rows = max(1, rows // 10)
    part, in_part, part_writer = 0, 0, None
    with open(csv, "w", encoding="utf-8") as fh:
        for i, df in enumerate(chunks(rows)):
            table = pa.Table.from_pandas(df, preserve_index=False)
            writer = writer or pq.ParquetWriter(parquet, table.schema)
            writer.write_table(table, row_group_size=128 * 1024)
            df.to_csv(fh, index=False, header=i == 0)
            start = 0
            while start < len(df):
                if part_writer is None:
                    part_writer = pq.ParquetWriter(data / "parts" / f"part-{part:02d}.parquet", table.schema)
                take = min(part_rows - in_part, len(df) - start)
                part_writer.write_table(table.slice(start, take))
                start += take
                in_part += take
                if in_part >= part_rows:
                    part_writer.close()
                    part_writer, in_part, part = None, 0, part + 1
    writer.close()
    if part_writer is not None:
        part_writer.close()
    return {"parquet": parquet, "csv": csv, "parts": data / "parts"}


def load_sqlite(path: Path, rows: int) -> None:
    import sqlite3

    con = sqlite3.connect(path)
    first = True
    for df in chunks(rows):
        if first:
            cols = ", ".join(f'"{c}" {"TEXT" if df[c].dtype == object or str(df[c].dtype).startswith("str") else ("INTEGER" if df[c].dtype.kind == "i" else "REAL")}'
                             for c in df.columns)
            con.execute(f"CREATE TABLE bench ({cols})")
            first = False
        marks = ", ".join("?" * len(df.columns))
        con.executemany(f"INSERT INTO bench VALUES ({marks})",
                        df.astype(object).where(df.notna(), None).itertuples(index=False, name=None))
    con.commit()
    con.close()


def load_postgres(url: str, csv: Path, sample: pd.DataFrame) -> None:
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    types = {c: ("TEXT" if sample[c].dtype.kind in "OUS" or str(sample[c].dtype).startswith("str")
                 else ("BIGINT" if sample[c].dtype.kind == "i" else "DOUBLE PRECISION")) for c in sample.columns}
    with psycopg.connect(conninfo) as conn:
        conn.execute(f"CREATE TABLE bench ({', '.join(f'{c} {t}' for c, t in types.items())})")
        with conn.cursor() as cur, cur.copy("COPY bench FROM STDIN WITH (FORMAT csv, HEADER true)") as copy, \
                open(csv, "rb") as fh:
            while block := fh.read(1 << 20):
                copy.write(block)
        conn.execute("ANALYZE bench")


# --- one measurement, in a child process -----------------------------------------------------------


def _peak_rss() -> int:
    """This process's peak resident memory in bytes (``VmHWM``: unlike ``ru_maxrss`` it starts afresh
    at ``exec``, so it is the child's own, not the parent's at the fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(spec: dict) -> dict:
    """Open ``spec``'s source through its connector type and profile it (run inside the child)."""
    from vision_widgets import client
    from vision_widgets.core import connectors
    from vision_widgets.core.config import load_settings

    settings = load_settings(spec["env"])
    started, cpu = time.perf_counter(), _cpu()
    conn = connectors.type_of(spec["type"]).connect(settings, spec["config"], spec["secrets"])
    data = conn.open(spec["reference"])
    prof = client.profile(data, roles=client.Roles(**ROLES))
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    conn.close()
    Path(spec["out"]).write_text(json.dumps(prof.to_dict(), sort_keys=True), encoding="utf-8")
    return {"seconds": seconds, "cpu": cpu, "rows": prof.rows, "peak_rss": _peak_rss()}


def same_profile(a: object, b: object, rel: float = 1e-9) -> str:
    """"identical", "rounding" (every count equal; floats within ``rel``: a mean summed over other
    chunk boundaries differs in its last bits) or "different"."""
    def walk(x: object, y: object) -> bool:
        if isinstance(x, dict) and isinstance(y, dict):
            return x.keys() == y.keys() and all(walk(x[k], y[k]) for k in x)
        if isinstance(x, list) and isinstance(y, list):
            return len(x) == len(y) and all(walk(i, j) for i, j in zip(x, y))
        if isinstance(x, float) and isinstance(y, float):
            return x == y or abs(x - y) <= rel * max(abs(x), abs(y))
        return x == y

    if a == b:
        return "identical"
    return "rounding" if walk(a, b) else "different"


def run_child(spec: dict, out: Path) -> dict:
    spec = {**spec, "out": str(out)}
    proc = subprocess.run([sys.executable, __file__, "--measure", json.dumps(spec)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=3600)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- the run -----------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--only", default="", help="comma-separated source names (default: all)")
    ap.add_argument("--write", action="store_true", help="write the figures into docs/performance.md")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(json.loads(args.measure))))
        return 0

    from deltalake import write_deltalake

    from tests.support.object_stores import AZURITE_ACCOUNT, AZURITE_KEY, azurite_binary
    from tests.support.postgres import pg_bin_dir, start_cluster
    from tests.support.server_process import free_port

    only = {s for s in args.only.split(",") if s}
    tmp = Path(tempfile.mkdtemp(prefix="vision-bench-conn-"))
    cleanup: list = []
    results: list[tuple[str, dict]] = []
    try:
        t0 = time.perf_counter()
        paths = write_sources(tmp, args.rows)
        print(f"data: {args.rows:,} rows written in {time.perf_counter() - t0:.1f} s "
              f"(Parquet {paths['parquet'].stat().st_size / 1e6:.0f} MB, CSV {paths['csv'].stat().st_size / 1e6:.0f} MB)",
              flush=True)
        env = {"VISION_HOME": str(tmp / "home"), "VISION_DATA_ROOTS": str(tmp / "data"),
               "VISION_USERS_FILE": str(ROOT / "users.json")}
        sample = next(chunks(min(args.rows, 1000)))
        sources: list[tuple[str, dict]] = [
            ("local Parquet file (baseline)", {"type": "local", "config": {}, "secrets": {}, "reference": "data/bench.parquet"}),
            ("local CSV file", {"type": "local", "config": {}, "secrets": {}, "reference": "data/bench.csv"}),
            ("local folder of 10 Parquet files", {"type": "local", "config": {}, "secrets": {}, "reference": "data/parts"}),
        ]

        def wanted(name: str) -> bool:
            return not only or any(o in name for o in only) or "baseline" in name

        if wanted("delta"):
            import pyarrow as pa

            write_deltalake(str(tmp / "data" / "lake" / "bench"),
                            pa.RecordBatchReader.from_batches(_arrow_schema(), _arrow_batches(args.rows)))
            sources.append(("delta, local table", {"type": "delta", "config": {"location": "data/lake"}, "secrets": {},
                                                   "reference": "bench"}))
        if wanted("sqlite"):
            t = time.perf_counter()
            load_sqlite(tmp / "bench.db", args.rows)
            print(f"sqlite loaded in {time.perf_counter() - t:.1f} s", flush=True)
            sources.append(("sql, SQLite table", {"type": "sql", "config": {}, "secrets": {"url": f"sqlite:///{tmp / 'bench.db'}"},
                                                  "reference": "bench"}))
        if wanted("postgres") and pg_bin_dir() is not None:
            cluster = start_cluster()
            cleanup.append(cluster.stop)
            url = cluster.new_database()
            t = time.perf_counter()
            load_postgres(url, paths["csv"], sample)
            print(f"postgresql loaded in {time.perf_counter() - t:.1f} s", flush=True)
            sources.append(("sql, PostgreSQL table", {"type": "sql", "config": {}, "secrets": {"url": url},
                                                      "reference": "bench"}))
        if wanted("s3"):
            s3 = _start_moto(free_port)
            cleanup.append(s3["stop"])
            s3["client"].create_bucket(Bucket="bench")
            s3["client"].upload_file(str(paths["parquet"]), "bench", "data/bench.parquet")
            sources.append(("s3 (moto), Parquet object", {"type": "s3", "config": {
                "bucket": "bench", "endpoint_url": s3["endpoint"], "region": "us-east-1", "access_key_id": "bench"},
                "secrets": {"secret_access_key": "bench"}, "reference": "data/bench.parquet"}))
        if wanted("azure") and azurite_binary().exists():
            az = _start_azurite(tmp, free_port, azurite_binary())
            cleanup.append(az["stop"])
            from azure.storage.blob import BlobServiceClient

            service = BlobServiceClient.from_connection_string(
                f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
                f"BlobEndpoint={az['endpoint']};")
            box = service.create_container("bench")
            with open(paths["parquet"], "rb") as fh:
                box.upload_blob("data/bench.parquet", fh, overwrite=True, max_concurrency=2)
            sources.append(("azure_blob (Azurite), Parquet blob", {"type": "azure_blob", "config": {
                "account_name": AZURITE_ACCOUNT, "container": "bench", "endpoint": az["endpoint"], "timeout": 60},
                "secrets": {"account_key": AZURITE_KEY}, "reference": "data/bench.parquet"}))

        baseline_body = None
        base_seconds = base_cpu = None
        for name, spec in sources:
            if not wanted(name):
                continue
            out = tmp / f"profile-{len(results)}.json"
            r = run_child({**spec, "env": env}, out)
            if "error" not in r:
                body = json.loads(out.read_text(encoding="utf-8"))
                if baseline_body is None:
                    baseline_body, base_seconds, base_cpu = body, r["seconds"], r["cpu"]
                r["same"] = same_profile(body, baseline_body)
                r["ratio"] = r["seconds"] / base_seconds
                r["cpu_ratio"] = r["cpu"] / base_cpu
            results.append((name, r))
            print(_line(name, r), flush=True)
    finally:
        for stop in reversed(cleanup):
            try:
                stop()
            except Exception:  # noqa: BLE001 - best effort at the end of a benchmark
                pass
        shutil.rmtree(tmp, ignore_errors=True)
    if args.write:
        from perf_doc import write_section

        write_section(ROOT / "docs" / "performance.md", "## Connectors (issue 11)", _section(args.rows, results))
        print("docs/performance.md: section 'Connectors (issue 11)' written")
    return 0 if all("error" not in r and r["peak_rss"] < GIB for _, r in results) else 1


def _arrow_schema():
    import pyarrow as pa

    return pa.Table.from_pandas(next(chunks(10)), preserve_index=False).schema


def _arrow_batches(rows: int):
    import pyarrow as pa

    for df in chunks(rows):
        yield from pa.Table.from_pandas(df, preserve_index=False).to_batches()


def _start_moto(free_port) -> dict:
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                          aws_secret_access_key="bench")
    return {"endpoint": endpoint, "client": client, "stop": server.stop}


def _start_azurite(tmp: Path, free_port, binary: Path) -> dict:
    import socket

    from tests.support.server_process import stop_process

    port = free_port()
    folder = tmp / "azurite"
    folder.mkdir()
    proc = subprocess.Popen([str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(folder),
                             "--silent", "--skipApiVersionCheck", "--loose"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)

    return {"endpoint": f"http://127.0.0.1:{port}/devstoreaccount1", "stop": lambda: stop_process(proc, grace=10)}


def _line(name: str, r: dict) -> str:
    if "error" in r:
        return f"{name:40s} FAILED: {r['error']}"
    return (f"{name:40s} {r['seconds']:8.2f} s  {r['rows'] / r['seconds']:>12,.0f} rows/s  ×{r['ratio']:.2f}  "
            f"CPU {r['cpu']:.2f} s ×{r['cpu_ratio']:.2f}  peak RSS {r['peak_rss'] / 2 ** 20:,.0f} MiB  profile: {r['same']}")


def _section(rows: int, results: list[tuple[str, dict]]) -> str:
    import pyarrow

    lines = [
        "## Connectors (issue 11)", "",
        f"Written by `benchmarks/bench_connectors.py --rows {rows} --write` ({os.cpu_count()} cores, "
        f"Python {platform.python_version()}, pyarrow {pyarrow.__version__}; load average "
        f"{os.getloadavg()[0]:.1f} at the end; one run). **The machine is shared with other sessions: absolute "
        "times are noisy; the ratios to the local Parquet file, measured in the same run, are the figures.** "
        f"{rows:,} rows × 10 numeric + 3 categorical features, a binary target and a score, profiled as a "
        "reference by `client.profile` over what each connector's `open` returns, each in a child process of its "
        "own (its peak RSS is the profiling's alone, imports included; moto, Azurite and PostgreSQL run outside "
        "it, on loopback).", "",
        "| source | seconds | rows/s | time ÷ local Parquet | CPU s (profiling process) | CPU ÷ local Parquet | peak RSS | profile vs local Parquet's |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results:
        if "error" in r:
            lines.append(f"| {name} | failed: {r['error']} | | | | | | |")
            continue
        lines.append(f"| {name} | {r['seconds']:.2f} | {r['rows'] / r['seconds']:,.0f} | {r['ratio']:.2f}× | "
                     f"{r['cpu']:.2f} | {r['cpu_ratio']:.2f}× | {r['peak_rss'] / 2 ** 20:,.0f} MiB | {r['same']} |")
    worst = max((r["peak_rss"] for _, r in results if "error" not in r), default=0)
    lines += ["", f"Peak memory: the largest is {worst / 2 ** 20:,.0f} MiB — "
              + ("**under 1 GiB for every source.**" if worst < GIB else "**over 1 GiB: the aim is missed.**"),
              "", NOTES]
    return "\n".join(lines) + "\n"


NOTES = """Reading the table:

- *Profile vs local Parquet's*: "identical" = `to_dict` equal; "rounding" = every count, histogram and
  category equal, means and variances within 1e-9 relative (they are summed over other chunk
  boundaries: the file's row groups are 131,072 rows, a stream is regrouped into the profiler's
  262,144-row chunks); "different" would mean other rows or another order.
- Object stores and Delta read Parquet through `pyarrow.dataset` with little read-ahead (two batches
  of one file) and no pre-buffering: Arrow's defaults held 1.2–1.5 GiB at 5 M rows (whole row groups
  fetched ahead over S3 and Azure; deltalake's own file handler read whole files into memory).
- SQL sources are row-based: the driver makes a Python object per value (75 M here) and
  `pyarrow.array` turns each column back into Arrow. That, not the database, is the cost (CPU of the
  profiling process ≈ its wall time); an Arrow-native driver (ADBC) would remove it, at the price of
  one more dependency per database.
- moto and Azurite are emulators on loopback: no network latency, but their own CPU competes with the
  profiling on the same two cores (the CPU column counts only the profiling process)."""


if __name__ == "__main__":
    sys.exit(main())
