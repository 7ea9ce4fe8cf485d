"""Calibration of the drift verdicts (issue 8): false-positive rate and power, profile-based.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_calibration.py --fast            # < 1 min, what tests/test_calibration.py runs
    .venv/bin/python benchmarks/bench_calibration.py                   # default (make bench), a few minutes
    .venv/bin/python benchmarks/bench_calibration.py --reps 1000 --big-reps 100 --power-reps 200 \\
        --evidently-python /tmp/ev/bin/python --write                  # the full run, figures into docs/statistics.md

False positives: reference and current are drawn from the *same* distribution, each profiled with
``client.profile`` (the current against the reference) and pooled through JSON as the product
publishes them (``Profile.from_json(p.to_json())``), then ``drift`` decides. One repetition is one
column, so one ``profile`` and one ``drift`` call test every repetition. For every configuration the
rate is reported for the method ``drift`` chooses by default (``choose_method``) and for every other
method of that type forced through ``DriftSettings(type_methods=...)``. The Monte-Carlo error is
``sqrt(α(1-α)/R)`` at the nominal α = 0.05 (the binomial error of the rate if the method were exactly
calibrated), and a rate above ``α + 3·MC error`` is marked. For the distance methods (Wasserstein,
Jensen–Shannon, PSI) there is no level by construction; the same 5 % false-alarm budget is applied to
them, and PSI — reported beside every method, never the default verdict — is shown but not judged.

Power: the smallest mean shift (in σ of the reference, on ``SHIFTS``) that the test flags in ≥ 95 %
of repetitions, for our profile-based default and forced tests, scipy on the raw data
(``ks_2samp``, ``wasserstein_distance`` / reference std ≥ 0.1, ``chi2_contingency``, Jensen–Shannon
≥ 0.1) and Evidently's ``DataDriftPreset`` (run in its own interpreter, ``--evidently-python``; never
a project dependency). A categorical shift moves a standard-normal latent by δσ before it is cut into
equally likely categories (``calib_data.sample``).

Everything is drawn from fixed seeds (``--seed``): the same command gives the same figures.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from calib_data import sample  # noqa: E402
from perf_doc import write_section  # noqa: E402

from vision_widgets.client import Profile, profile  # noqa: E402
from vision_widgets.core.stats.drift import DriftSettings, choose_method, drift  # noqa: E402
from vision_widgets.core.stats.drift_methods import get_method  # noqa: E402

ALPHA = 0.05
METHODS = {"numeric": ("ks", "wasserstein", "psi"),
           "categorical": ("chisquare", "jensenshannon", "psi"),
           "binary": ("z", "psi")}
SHIFTS = (0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5)
DETECT = 0.95
#: Rows per category below which the privacy guard (k = 10) pools nearly every value on a side.
POOLED_BELOW = 10
EV_INSTALL = 'python -m venv /tmp/ev && /tmp/ev/bin/pip install "evidently==0.7.*" "pandas<3" scipy'


@dataclass(frozen=True)
class Config:
    """What the benchmark runs; ``FAST`` and ``DEFAULT`` below, every field a CLI option."""

    sizes: tuple[int, ...] = (1_000, 10_000, 1_000_000)
    categories: tuple[int, ...] = (2, 5, 50, 500)
    reps: int = 200
    big_reps: int = 20          # repetitions for n > 100,000
    power_sizes: tuple[int, ...] = (10_000, 100_000)
    power_reps: int = 100
    power_categories: int = 5
    seed: int = 8


FAST = Config(sizes=(1_000, 10_000), categories=(2, 5, 50, 500), reps=100, power_sizes=(10_000,), power_reps=40)
DEFAULT = Config()


@dataclass(frozen=True)
class Rate:
    """The false-positive rate of one method on one same-distribution configuration."""

    kind: str
    n: int
    categories: int
    method: str
    default: bool      # the method drift() chooses here
    judged: bool       # has a nominal level to be held to (PSI: reported only)
    reps: int
    flagged: int

    @property
    def rate(self) -> float:
        return self.flagged / self.reps

    @property
    def mc_error(self) -> float:
        return math.sqrt(ALPHA * (1 - ALPHA) / self.reps)

    @property
    def bound(self) -> float:
        return ALPHA + 3 * self.mc_error

    @property
    def exceeds(self) -> bool:
        return self.rate > self.bound

    @property
    def key(self) -> str:
        return f"{self.kind}-n{self.n}" + (f"-k{self.categories}" if self.categories else "") + f"-{self.method}"


# ---------------------------------------------------------------------------------------------
# Profiles of a block, as the product publishes them
# ---------------------------------------------------------------------------------------------


def _frame(block: np.ndarray, kind: str, categories: int) -> pd.DataFrame:
    names = [f"r{j:03d}" for j in range(block.shape[1])]
    if kind == "categorical":
        labels = [f"v{i:03d}" for i in range(categories)]
        return pd.DataFrame({c: pd.Categorical.from_codes(block[:, j], categories=labels) for j, c in enumerate(names)})
    return pd.DataFrame(block, columns=names)


def _profiles(ref_block: np.ndarray, cur_block: np.ndarray, kind: str, categories: int,
              ref: Profile | None = None) -> tuple[Profile, Profile]:
    """Reference and current profiles, both pooled through JSON (the published form)."""
    if ref is None:
        ref = Profile.from_json(profile(_frame(ref_block, kind, categories)).to_json())
    cur = Profile.from_json(profile(_frame(cur_block, kind, categories), reference=ref).to_json())
    return ref, cur


def _flagged(ref: Profile, cur: Profile, kind: str, method: str | None) -> np.ndarray:
    settings = DriftSettings(type_methods={kind: method}) if method else DriftSettings()
    return np.array([f.drifted for f in drift(ref, cur, settings).features])


# ---------------------------------------------------------------------------------------------
# False positives
# ---------------------------------------------------------------------------------------------


def _configs(cfg: Config) -> list[tuple[str, int, int]]:
    out = []
    for n in cfg.sizes:
        out.append(("numeric", n, 0))
        out.extend(("categorical", n, k) for k in cfg.categories)
        out.append(("binary", n, 0))
    return out


def false_positive_rates(cfg: Config = FAST, progress=None) -> list[Rate]:
    """Every method's false-positive rate on every same-distribution configuration of ``cfg``."""
    rates = []
    for kind, n, k in _configs(cfg):
        reps = cfg.reps if n <= 100_000 else cfg.big_reps
        ref, cur = _profiles(sample(kind, n, reps, cfg.seed, 0, k), sample(kind, n, reps, cfg.seed, 1, k), kind, k)
        default = choose_method(kind, n, "", DriftSettings())
        for m in METHODS[kind]:
            flagged = int(_flagged(ref, cur, kind, m).sum())
            rates.append(Rate(kind, n, k, m, m == default, m != "psi", reps, flagged))
        if progress:
            progress(f"fp {kind} n={n:,} k={k}: " + ", ".join(f"{r.method} {r.rate:.3f}" for r in rates[-len(METHODS[kind]):]))
    return rates


# ---------------------------------------------------------------------------------------------
# Power
# ---------------------------------------------------------------------------------------------


def _scipy_rates(kind: str, a: np.ndarray, b: np.ndarray, k: int) -> dict[str, float]:
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    reps = a.shape[1]
    if kind == "numeric":
        ks = sum(stats.ks_2samp(a[:, j], b[:, j]).pvalue < ALPHA for j in range(reps))
        w = sum(stats.wasserstein_distance(a[:, j], b[:, j]) / a[:, j].std() >= 0.1 for j in range(reps))
        return {"scipy ks_2samp": ks / reps, "scipy wasserstein/σ ≥ 0.1": w / reps}
    chi = js = 0
    for j in range(reps):
        ca, cb = np.bincount(a[:, j], minlength=k), np.bincount(b[:, j], minlength=k)
        keep = (ca + cb) > 0
        chi += stats.chi2_contingency(np.vstack([ca[keep], cb[keep]]), correction=False).pvalue < ALPHA
        js += jensenshannon(ca / ca.sum(), cb / cb.sum()) >= 0.1
    return {"scipy chi2_contingency": chi / reps, "scipy jensenshannon ≥ 0.1": js / reps}


def _evidently(python: str, kind: str, n: int, reps: int, seed: int, k: int, shifts) -> dict[float, float] | str:
    job = json.dumps({"kind": kind, "n": n, "reps": reps, "seed": seed, "categories": k, "shifts": sorted(shifts),
                      "stop_at": DETECT})
    try:
        out = subprocess.run([python, str(HERE / "calib_evidently.py"), job], capture_output=True, text=True,
                             check=True, timeout=3600)
    except (OSError, subprocess.SubprocessError) as exc:
        err = getattr(exc, "stderr", "") or str(exc)
        return "not run (" + err.strip().splitlines()[-1][:120] + ")"
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return {float(s): v["rate"] for s, v in res.items()}


def power(cfg: Config = FAST, evidently_python: str | None = None, progress=None) -> list[dict[str, object]]:
    """Per (kind, n, test): the detection rate at every shift and the smallest shift detected ≥ 95 %."""
    out = []
    for kind, k in (("numeric", 0), ("categorical", cfg.power_categories)):
        for n in cfg.power_sizes:
            reps = cfg.power_reps
            a = sample(kind, n, reps, cfg.seed + 1, 0, k)
            ref = None
            default = choose_method(kind, n, "", DriftSettings())
            forced = "ks" if kind == "numeric" else "chisquare"
            curves: dict[str, dict[float, float]] = {}
            for s in SHIFTS:
                b = sample(kind, n, reps, cfg.seed + 1, 1, k, shift=s)
                ref, cur = _profiles(a, b, kind, k, ref)
                row = {f"ours {default} (default)": float(_flagged(ref, cur, kind, None).mean())}
                if forced != default:
                    row[f"ours {forced}"] = float(_flagged(ref, cur, kind, forced).mean())
                row.update(_scipy_rates(kind, a, b, k))
                for name, r in row.items():
                    curves.setdefault(name, {})[s] = r
                if all(r >= DETECT for r in row.values()):
                    break  # every test detects this shift; larger shifts only more so
            if evidently_python:
                ev = _evidently(evidently_python, kind, n, reps, cfg.seed + 1, k, SHIFTS)
                curves["Evidently DataDriftPreset"] = ev if isinstance(ev, dict) else {}
                ev_note = None if isinstance(ev, dict) else ev
            else:
                ev_note = "not run (no --evidently-python)"
            for name, curve in curves.items():
                hit = [s for s in sorted(curve) if curve[s] >= DETECT]
                out.append({"kind": kind, "n": n, "categories": k, "test": name, "reps": reps,
                            "min_shift": hit[0] if hit else None, "curve": curve})
            if ev_note:
                out.append({"kind": kind, "n": n, "categories": k, "test": "Evidently DataDriftPreset", "reps": reps,
                            "min_shift": None, "curve": {}, "note": ev_note})
            if progress:
                progress(f"power {kind} n={n:,}: " + ", ".join(f"{r['test']} {r['min_shift']}" for r in out if r["n"] == n and r["kind"] == kind))
    return out


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def _markdown(cfg: Config, rates: list[Rate], pw: list[dict[str, object]], seconds: float, cmd: str) -> str:
    lines = ["## Calibration (issue 8)", "",
             f"Written by `benchmarks/bench_calibration.py` (`{cmd}`, {seconds:.0f} s, seed {cfg.seed}, "
             f"{os.cpu_count()}-core machine shared with other sessions). Profiles are pooled through JSON "
             "as the product publishes them; one repetition is one column. Numeric: N(0, 1); categorical: "
             "equally likely values; binary: P(yes) = 0.3.", "",
             "Runs: `make bench` runs the default (sizes 1k/10k/1M, R = 200, 1M: R = 20, power R = 100 at 10k/100k; "
             "a few minutes; Evidently only with `--evidently-python`, ~10 min with it); `--fast` is what "
             "tests/test_calibration.py runs; the full run: `--reps 1000 --big-reps 100 --power-reps 200 "
             "--evidently-python /tmp/ev/bin/python --write`.", "",
             f"**False-positive rate** on same-distribution pairs (α = {ALPHA}). ± is the Monte-Carlo error at "
             f"the nominal rate, √(α(1−α)/R); **⚠** marks a rate above α + 3·MC error. R = {cfg.reps} "
             f"repetitions (n > 100,000: R = {cfg.big_reps}). ★ = the method `drift()` chooses by default. "
             "Distance methods have no level by construction; they are held to the same 5 % budget. PSI "
             "(reported beside every method, never the default verdict) is shown, not judged.", "",
             "| type | n | categories | method | flagged / R | rate ± MC | bound |", "|---|---|---|---|---|---|---|"]
    for r in rates:
        mark = " ⚠" if r.exceeds and r.judged else (" (over)" if r.exceeds else "")
        if r.kind == "categorical" and r.n / r.categories < POOLED_BELOW:
            mark += " (≈ every value below k rows: pooled into one, nothing to test)"
        lines.append(f"| {r.kind} | {r.n:,} | {r.categories or '–'} | {r.method}{' ★' if r.default else ''} | "
                     f"{r.flagged}/{r.reps} | {r.rate:.3f} ± {r.mc_error:.3f}{mark} | {r.bound:.3f} |")
    bad = [r.key for r in rates if r.judged and r.exceeds]
    lines += ["", "Miscalibrated (judged, above the bound): " + (", ".join(f"`{b}`" for b in bad) if bad else "none") + ".", ""]
    lines += [f"**Power**: the smallest mean shift (σ of the reference; grid {', '.join(map(str, SHIFTS))}) "
              f"flagged in ≥ {DETECT:.0%} of R = {cfg.power_reps} repetitions (categorical: {cfg.power_categories} "
              "equally likely values cut from a shifted normal latent). Our tests read two pooled profiles; scipy "
              "reads the raw rows. “> 0.5” = not reached on the grid. The grid stops once every in-process test "
              "detects a shift.", "", "| type | n | test | smallest shift detected |", "|---|---|---|---|"]
    for p in pw:
        val = p.get("note") or (f"{p['min_shift']} σ" if p["min_shift"] is not None else
                                f"> {max(p['curve'])} σ (largest tried)" if p["curve"] else "–")
        lines.append(f"| {p['kind']} | {p['n']:,} | {p['test']} | {val} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fast", action="store_true", help="small sizes (n ≤ 10k, 100 repetitions): < 1 min")
    ap.add_argument("--sizes", type=int, nargs="*")
    ap.add_argument("--categories", type=int, nargs="*")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--big-reps", type=int)
    ap.add_argument("--power-sizes", type=int, nargs="*")
    ap.add_argument("--power-reps", type=int)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--no-power", action="store_true")
    ap.add_argument("--evidently-python", help="an interpreter with evidently==0.7.* (its own venv)")
    ap.add_argument("--write", action="store_true", help="rewrite the Calibration section of docs/statistics.md")
    args = ap.parse_args(argv)
    cfg = FAST if args.fast else DEFAULT
    over = {f: getattr(args, f) for f in ("sizes", "categories", "reps", "big_reps", "power_sizes", "power_reps", "seed")
            if getattr(args, f) is not None}
    cfg = Config(**{**asdict(cfg), **{k: tuple(v) if isinstance(v, list) else v for k, v in over.items()}})
    ev = args.evidently_python
    if ev is None:
        try:
            import evidently  # noqa: F401
            ev = sys.executable
        except ImportError:
            print(f"Evidently is not installed here (it is never a project dependency). For its column: {EV_INSTALL}\n"
                  "then pass --evidently-python /tmp/ev/bin/python.", flush=True)
    t0 = time.perf_counter()
    rates = false_positive_rates(cfg, progress=lambda s: print(s, flush=True))
    pw = [] if args.no_power else power(cfg, ev, progress=lambda s: print(s, flush=True))
    seconds = time.perf_counter() - t0
    cmd = "bench_calibration.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = _markdown(cfg, rates, pw, seconds, cmd.strip())
    print(text)
    if args.write:
        write_section(ROOT / "docs" / "statistics.md", "## Calibration (issue 8)", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
