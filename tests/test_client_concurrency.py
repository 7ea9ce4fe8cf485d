"""Chunked profiling is exact under thread overlap: one writer per column at any moment.

A reference profile buffers its first chunks (to place bin edges) and then adds
them all at once; a current profile adds each chunk as it is read. Both run the
columns on a thread pool. These tests make overlap as likely as it gets — many
tiny chunks, so hundreds of column tasks per profile, repeated over several
seeds — and require the result to equal the whole-frame profile *every* time.
A single difference is a lost update, never noise.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from test_client_merge import _frame, assert_same

from vision_widgets.client import Profile, Roles, profile

ROLES = Roles(target="y", prediction="p")
SEEDS = (0, 1, 2, 3, 4)
REPEATS = 60  # x 5 seeds = 300 profiles per case
ROWS = 600
TINY = 5      # rows per chunk: 120 chunks, so ~700 column tasks per profile


@pytest.fixture(scope="module", autouse=True)
def _two_or_more_threads():
    # profile() sizes its pool from os.cpu_count(); the race needs at least two workers.
    assert min(4, os.cpu_count() or 1) >= 2, "this machine would profile on one thread"


@pytest.mark.parametrize("seed", SEEDS)
def test_reference_from_tiny_chunks_equals_whole_frame(seed):
    df = _frame(np.random.default_rng(seed), ROWS)
    whole = profile(df, ROLES, chunk_rows=ROWS)
    for _ in range(REPEATS):
        assert_same(profile(df, ROLES, chunk_rows=TINY), whole)


@pytest.mark.parametrize("seed", SEEDS)
def test_current_from_tiny_chunks_equals_whole_frame(seed):
    ref = Profile.from_json(profile(_frame(np.random.default_rng(100 + seed), 3_000), ROLES).to_json())
    df = _frame(np.random.default_rng(seed), ROWS)
    whole = profile(df, reference=ref, chunk_rows=ROWS)
    for _ in range(REPEATS):
        assert_same(profile(df, reference=ref, chunk_rows=TINY), whole)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_files_from_tiny_chunks_equal_whole_frame(tmp_path, fmt):
    for seed in SEEDS[:3]:
        df = _frame(np.random.default_rng(seed), ROWS)
        path = tmp_path / f"data-{seed}.{fmt}"
        df.to_csv(path, index=False) if fmt == "csv" else df.to_parquet(path, index=False)
        whole_ref = profile(str(path), ROLES, chunk_rows=ROWS)
        ref = Profile.from_json(whole_ref.to_json())
        whole_cur = profile(str(path), reference=ref, chunk_rows=ROWS)
        for _ in range(REPEATS // 3):
            assert_same(profile(str(path), ROLES, chunk_rows=TINY), whole_ref)
            assert_same(profile(str(path), reference=ref, chunk_rows=TINY), whole_cur)
