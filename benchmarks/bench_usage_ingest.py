"""Usage ingestion through the API: records per second (issue 12).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_usage_ingest.py                      # 100,000 records, batches of 1,000
    .venv/bin/python benchmarks/bench_usage_ingest.py --records 20000      # a quick look
    .venv/bin/python benchmarks/bench_usage_ingest.py --write              # figures into docs/performance.md

A fresh SQLite database in a temporary VISION_HOME, one model, one API key; the API runs in-process
on loopback (the tornado application of ``server.api_handlers``, as tests/test_api.py runs it), and
one client sends ``--records`` hourly records as JSON lines in ``--batch``-record requests over a
kept-alive connection, one request after the other. Timed: from the first request sent to the last
answer read (parse, validate, the idempotency look-up and the insert, one transaction per request).
Then the same records again (every one already stored: the re-send path), and the same records as one
CSV through ``services.usage.import_csv`` (the page's and the CLI's path, no HTTP). ``--repeat``
runs (default 3), each on a fresh model; the median run is reported (the machine is shared).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))

from perf_doc import write_section

HEADING = "## Usage ingestion (issue 12)"
MODEL = "Usage benchmark model"


def records(count: int, start: datetime) -> list[dict]:
    """``count`` hourly records (deterministic)."""
    out = []
    for i in range(count):
        out.append({"timestamp": (start + timedelta(hours=i)).isoformat(), "predictions": 1000 + (i * 37) % 500,
                    "compute_hours": round(0.5 + (i % 7) * 0.1, 3), "cpu_share": round((i % 90) / 100 + 0.05, 3),
                    "memory_share": 0.5, "gpu_share": None})
    return out


def post_all(port: int, key: str, batches: list[bytes], model: str) -> tuple[float, list[float], list[dict]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    path = f"/vision/api/models/{quote(model, safe='')}/usage"
    headers = {"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {key}"}
    each, answers = [], []
    started = time.perf_counter()
    for body in batches:
        t0 = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        answer = json.loads(resp.read())
        if resp.status not in (200, 201):
            raise SystemExit(f"the API answered {resp.status}: {answer}")
        each.append(time.perf_counter() - t0)
        answers.append(answer)
    total = time.perf_counter() - started
    conn.close()
    return total, each, answers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the median run is reported")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="vision-bench-usage-"))
    os.environ["VISION_HOME"] = str(home)
    from helpers import demo_spec
    from test_api import Api

    from vision_widgets.core.config import load_settings
    from vision_widgets.core.context import Context
    from vision_widgets.core.identity import sessions
    from vision_widgets.demo import sample_accounts
    from vision_widgets.services import api_keys, registration, usage
    from vision_widgets.services.sessions import operator

    ctx = Context.open(load_settings({"VISION_HOME": str(home)}), upgrade=True)
    sample_accounts.load_users(ctx)
    owner = sessions.operator_session(ctx, "datascientist_user")
    key = api_keys.issue(ctx, operator("bench"), "benchmark")[0]
    data = records(args.records, datetime(2020, 1, 1, tzinfo=UTC))
    lines = [json.dumps(r) for r in data]
    batches = ["\n".join(lines[i:i + args.batch]).encode() for i in range(0, len(lines), args.batch)]
    size = sum(len(b) for b in batches)
    csv = ("timestamp,predictions,compute_hours,cpu_share,memory_share,gpu_share\n" + "".join(
        f"{r['timestamp']},{r['predictions']},{r['compute_hours']},{r['cpu_share']},{r['memory_share']},\n"
        for r in data)).encode()

    runs: dict[str, list[tuple[float, list[float]]]] = {"new": [], "again": [], "csv": []}
    api = Api(ctx)
    try:
        for run in range(args.repeat):  # each run on a model of its own: its records are new to it
            name = f"{MODEL} {run + 1}"
            registration.register_model(ctx, owner, demo_spec(name, restricted=True))
            total, each, answers = post_all(api.port, key, batches, name)
            assert sum(a["stored"] for a in answers) == args.records, "not every record was stored"
            runs["new"].append((total, each))
            total, each, answers = post_all(api.port, key, batches, name)
            assert sum(a["unchanged"] for a in answers) == args.records
            runs["again"].append((total, each))
            registration.register_model(ctx, owner, demo_spec(name + " (CSV)", restricted=True))
            t0 = time.perf_counter()
            done = usage.import_csv(ctx, operator("bench"), name + " (CSV)", csv, source="cli")
            runs["csv"].append((time.perf_counter() - t0, []))
            assert done.stored == args.records
    finally:
        api.stop()

    def median_run(kind: str) -> tuple[float, list[float]]:
        ordered = sorted(runs[kind], key=lambda r: r[0])
        return ordered[len(ordered) // 2]

    first, each_first = median_run("new")
    again, each_again = median_run("again")
    csv_time = median_run("csv")[0]

    rows = [
        ("API, new records (JSON lines)", first, each_first),
        ("API, the same records again (all unchanged)", again, each_again),
    ]
    print(f"median of {args.repeat} runs; all totals: " + "; ".join(
        f"{k} " + ", ".join(f"{t:.2f} s" for t, _ in v) for k, v in runs.items()))
    print(f"{args.records:,} records in {len(batches)} requests of {args.batch:,} ({size / len(batches) / 1024:.0f} KiB "
          "each), SQLite")
    for what, total, each in rows:
        print(f"{what}: {total:.2f} s, {args.records / total:,.0f} records/s, "
              f"median request {statistics.median(each) * 1000:.0f} ms")
    print(f"CSV through services.usage.import_csv (one file, {len(csv) / 1024 / 1024:.1f} MiB): {csv_time:.2f} s, "
          f"{args.records / csv_time:,.0f} records/s")

    if args.write:
        load = os.getloadavg()[0]
        table = "\n".join(
            f"| {what} | {total:.2f} s | {args.records / total:,.0f} | {statistics.median(each) * 1000:.0f} ms |"
            for what, total, each in rows)
        text = f"""{HEADING}

Written by `benchmarks/bench_usage_ingest.py --write` (2 cores shared with other sessions, Python
{platform.python_version()}, SQLite; load average {load:.1f}; the median of {args.repeat} runs by total time). {args.records:,} hourly usage records for one
model sent to `POST /vision/api/models/{{name}}/usage` as JSON lines, {len(batches)} requests of {args.batch:,} records
({size / len(batches) / 1024:.0f} KiB each) one after the other over one kept-alive connection, with an API key; the
API in-process on loopback as tests/test_api.py runs it. Each request is parsed, validated whole, checked against
the records already stored and inserted in one transaction.

| what | total | records/s | median request |
|---|---:|---:|---:|
{table}
| the same records as one CSV through `services.usage.import_csv` (no HTTP) | {csv_time:.2f} s | {args.records / csv_time:,.0f} | |

Every run's total (new, re-send, CSV): {"; ".join(", ".join(f"{t:.1f} s" for t, _ in v) for v in runs.values())} —
the spread is the shared machine's, not the code's.

A daily or hourly usage feed is a few records per model per request, so the API is far from its limit; the
limits that bind first are the body size (`VISION_UPLOAD_LIMIT`, 10 MiB by default: about 70,000 records
of this size) and 100,000 records per request or file.
"""
        write_section(ROOT / "docs" / "performance.md", HEADING, text)
        print("written to docs/performance.md")
    ctx.store.dispose()


if __name__ == "__main__":
    main()
