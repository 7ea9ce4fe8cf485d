"""LLM Chat benchmark: our overhead from "Ask" to the first streamed token, and the context's size.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_llm.py [--runs 20] [--write docs/performance.md]

A binary classifier with 100 features (70 numeric, 30 categorical), trained on 20,000 rows and with
12 weekly production windows (drift growing in a tenth of the features), profiled and tested through
``client.profile`` and ``drift()`` and stored as the app stores them. The loopback OpenAI-compatible
test server (tests/support/openai_server.py) answers at once, so what is timed is Vision AI's own
work: the permission checks, reading the model's aggregates through the services, building the
context within its token budget, writing the prompt to the log, the HTTP request and the first SSE
chunk. Median (and 90th percentile) of ``--runs``, each a fresh question (nothing cached between
runs). The context's size is given in estimated tokens (~4 characters a token), within the default
budget and without one. Figures only; nothing is asserted. ``--write`` replaces the
"## LLM Chat (issue 13)" section.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from perf_doc import write_section  # noqa: E402

from vision_widgets import client  # noqa: E402
from vision_widgets.core.catalog import records  # noqa: E402
from vision_widgets.core.config import load_settings  # noqa: E402
from vision_widgets.core.context import Context  # noqa: E402
from vision_widgets.core.identity import auth  # noqa: E402
from vision_widgets.core.stats.drift import drift  # noqa: E402
from vision_widgets.demo import sample_accounts  # noqa: E402
from vision_widgets.services.profiling import store_batch  # noqa: E402

SECTION = "## LLM Chat (issue 13)"
FEATURES, NUMERIC, WEEKS, TRAIN_ROWS, WEEK_ROWS = 100, 70, 12, 20_000, 2_000
OWNER, PASSWORD = "datascientist_user", "ds_user123"
NAME = "Bench LLM"
CATEGORIES = [f"c{i}" for i in range(8)]


def frame(rng: np.random.Generator, n: int, shift: float, start: pd.Timestamp, days: int) -> pd.DataFrame:
    cols: dict[str, object] = {}
    for i in range(NUMERIC):
        cols[f"num_{i:02d}"] = rng.normal(shift if i < 7 else 0.0, 1.0 + 0.01 * i, n)
    for i in range(FEATURES - NUMERIC):
        p = np.full(len(CATEGORIES), 1.0)
        if i < 3 and shift:
            p[0] += 4 * shift
        cols[f"cat_{i:02d}"] = rng.choice(CATEGORIES, n, p=p / p.sum())
    out = pd.DataFrame(cols)
    score = 1 / (1 + np.exp(-(out["num_00"] + out["num_01"] - out["num_02"])))
    out["score"] = score
    out["y"] = (rng.uniform(size=n) < score).astype(int)
    out.insert(0, "ts", start + pd.to_timedelta(np.sort(rng.integers(0, days * 86400, n)), unit="s"))
    return out


def store_model(ctx: Context) -> None:
    rng = np.random.default_rng(13)
    roles = client.Roles(target="y", prediction="score", timestamp="ts")
    reference = client.profile(frame(rng, TRAIN_ROWS, 0.0, pd.Timestamp("2026-01-01"), 90), roles, k=10)
    start = pd.Timestamp("2026-04-06")
    prod = pd.concat([frame(rng, WEEK_ROWS, max(0.0, (w - 7) / 4), start + pd.Timedelta(weeks=w), 7)
                      for w in range(WEEKS)], ignore_index=True)
    now = pd.Timestamp("2026-07-01", tz="UTC").to_pydatetime()
    with ctx.store.write() as conn:
        record = records.insert(conn, name=NAME, description="benchmark", task="binary classification",
                                platform="other", connector="local", connector_details={}, owner=OWNER, lob="Retail",
                                sub_lob="", roles={"timestamp": "ts", "target": "y", "prediction": "score"},
                                restricted=False, status="active", drift_settings={"window": "1W"}, created_by=OWNER,
                                now=now)
        records.add_profile(conn, record.id, "reference", "training", "server", reference.rows,
                            reference.to_json(), now)
    production = client.Profile.from_json(client.profile(prod, reference=reference, k=10, window="1W").to_json())
    report = drift(reference, production)
    with ctx.store.write() as conn:
        store_batch(conn, records.get(conn, NAME), production, report, "12 weeks", "server", now)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from tests.support.openai_server import answer, running_openai_server

    from vision_widgets.core.llm.context import build
    from vision_widgets.services import drift_page, estimation, llm_chat
    from vision_widgets.services.llm_chat import Delta

    with tempfile.TemporaryDirectory(prefix="vision-bench-llm-") as tmp, running_openai_server() as server:
        settings = load_settings({"VISION_HOME": str(Path(tmp) / "home"), "VISION_USERS_FILE": str(REPO / "users.json"),
                                  "OPENAI_BASE_URL": server.url, "VISION_LLM_MODEL": "test-model"})
        ctx = Context.open(settings, upgrade=True)
        sample_accounts.load_users(ctx, REPO / "users.json")
        t0 = time.perf_counter()
        store_model(ctx)
        print(f"stored the model in {time.perf_counter() - t0:.1f} s", flush=True)
        principal = auth.login(ctx, OWNER, PASSWORD).principal
        server.default = answer("Start with num_00.", pieces=4)

        first, context_ms = [], []
        for i in range(args.runs + 1):  # the first run imports the openai package: not counted
            t = time.perf_counter()
            events = llm_chat.ask_about_model(ctx, principal, NAME, f"Which features should I look at first? ({i})")
            for event in events:
                if isinstance(event, Delta):
                    elapsed = (time.perf_counter() - t) * 1000
                    break
            events.close()
            t = time.perf_counter()
            overview = drift_page.drift_overview(ctx, principal, NAME)
            perf = estimation.performance_over_time(ctx, principal, NAME)
            built = build(overview, perf, settings.llm_context_tokens)
            if i:
                first.append(elapsed)
                context_ms.append((time.perf_counter() - t) * 1000)
        unbounded = build(overview, perf, 10**9, listed=10**6)
        parts = {}
        for what, call in (("Drift overview", lambda: drift_page.drift_overview(ctx, principal, NAME)),
                           ("estimation", lambda: estimation.performance_over_time(ctx, principal, NAME)),
                           ("context", lambda: build(overview, perf, settings.llm_context_tokens))):
            t = time.perf_counter()
            call()
            parts[what] = (time.perf_counter() - t) * 1000
        print("one run, by step:", {k: f"{v:.0f} ms" for k, v in parts.items()})
        ctx.store.dispose()

    def stat(xs: list[float]) -> str:
        xs = sorted(xs)
        return f"{statistics.median(xs):.0f} ms ({xs[int(0.9 * (len(xs) - 1))]:.0f})"

    text = f"""{SECTION}

`benchmarks/bench_llm.py`: a binary classifier with {FEATURES} features ({NUMERIC} numeric,
{FEATURES - NUMERIC} categorical), {TRAIN_ROWS:,} training rows and {WEEKS} weekly production windows
(drift growing in a tenth of the features), stored as the app stores them. The loopback
OpenAI-compatible test server answers at once, so the time is our own overhead. Median of {args.runs}
(90th percentile in brackets).

| measure | value |
|---|---|
| "Ask" to the first streamed token (permission checks, the model's aggregates read through the services, the context built, the prompt logged, the request, the first SSE chunk) | {stat(first)} |
| of which reading the aggregates and building the context | {stat(context_ms)} |
| context sent, default budget (`VISION_LLM_CONTEXT_TOKENS` = {settings.llm_context_tokens}) | {built.tokens:,} tokens, {len(built.facts)} facts |
| the same context without a budget or a cap on features listed | {unbounded.tokens:,} tokens, {len(unbounded.facts)} facts |

Tokens are estimated at ~4 characters a token (no tokenizer is downloaded). Most of the overhead is
reading the model through the same services as the Drift page (the stored drift reports, and the
performance estimated from the stored profiles) — the same work as opening that page;
the HTTP round trip to a local server is a few milliseconds. The budget drops the features that did not
drift first, then the surrogate's terms and older windows, so a model with {FEATURES} features fits.
"""
    print(text)
    if args.write:
        write_section(args.write, SECTION, text)


if __name__ == "__main__":
    main()
