"""Business metrics from usage records, cost rates, production windows and performance: pure and vectorised.

The service (``services/business_metrics.py``) reads what the principal may see once into a
``MetricsSource`` (``prepare``: usage summed per model and day, each model-day priced with the rate
in force that day); ``compute(source, start, end, metric)`` then answers a date range from memory
with a few numpy/pandas operations, so changing the range on the page stays well under 200 ms for
50 models × 365 days (``benchmarks/bench_business_metrics.py``).

Rules (docs/decisions.md, "Business Metrics"):

- **Volume** comes from usage records for a model that has any; a model without usage records counts
  its production windows' rows on each window's first day. Both are kept apart (``volume_usage``,
  ``volume_windows``) so the page says which is which.
- **Cost** = predictions / 1000 × per-1k rate + compute hours × hourly rate, with the platform's rate in
  force on that day. A model-day with usage but no rate has an *unknown* cost: left out of the sums and
  counted in ``notes``, never priced at 0. Costs in different currencies are never added: every cost
  figure is per currency.
- **Utilisation** (CPU, memory, GPU share) is weighted by compute hours, over the records that give it.
- **Performance** per day is the mean over the models that have a value that day (a window's value is
  placed on its first day); realised where labels exist, estimated (CBPE) where they have not arrived.
  The "current" KPI is the mean of each model's latest value in the range; its change is the mean,
  over the models with a value in both ranges, of each one's latest value against its latest in the
  previous range of the same length (``performance_compared`` says how many).
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from vision_widgets.core.errors import InvalidInput

__all__ = [
    "DAILY_COLUMNS",
    "ESTIMATED",
    "HIGHER_IS_BETTER",
    "PRESETS",
    "REALISED",
    "USAGE_COLUMNS",
    "BusinessMetrics",
    "Kpis",
    "MetricsSource",
    "check_range",
    "compute",
    "daily_usage",
    "prepare",
    "preset_range",
]

#: The raw usage columns ``daily_usage`` reads (one row per usage record).
USAGE_COLUMNS = ("model_id", "at", "predictions", "compute_hours", "cpu_share", "memory_share", "gpu_share")
SHARES = ("cpu", "memory", "gpu")
#: The columns of usage summed per model and day (``daily_usage``, ``metrics_data.daily_usage_of``).
DAILY_COLUMNS = ("model_id", "day", "predictions", "compute_hours") + \
    tuple(f"{s}_{k}" for s in SHARES for k in ("weighted", "hours"))
#: Date-range presets: label -> days (the range ends today, inclusive).
PRESETS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90}
REALISED, ESTIMATED = "realised", "estimated"
#: Metrics where a higher value is better (errors, RMSE and MAE, are better lower).
HIGHER_IS_BETTER = {"accuracy": True, "roc_auc": True, "f1": True, "precision": True, "recall": True,
                    "rmse": False, "mae": False}
MAX_DAYS = 3 * 366


#: The days a ``datetime64[ns]`` column can hold; numpy's cast to it wraps silently past them.
_NS_FIRST, _NS_LAST = np.datetime64("1678-01-01", "D"), np.datetime64("2262-04-10", "D")


def _days(values) -> np.ndarray:
    """Naive UTC days (``datetime64[D]``) of timestamps or dates."""
    ts = pd.to_datetime(pd.Series(values), utc=True)
    return ts.dt.tz_localize(None).dt.floor("D").to_numpy(dtype="datetime64[D]")


def _ns_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``days`` as ``datetime64[ns]`` where they fit, the mask of those that fit).

    ``astype("datetime64[ns]")`` overflows without a word (2611-03-23 becomes a day of 2026):
    a day outside the nanosecond range is dropped here rather than counted on another day.
    """
    days = np.asarray(days, dtype="datetime64[D]")
    fits = (days >= _NS_FIRST) & (days <= _NS_LAST)
    return days[fits].astype("datetime64[ns]"), fits


def daily_usage(raw: pd.DataFrame) -> pd.DataFrame:
    """Usage records (``USAGE_COLUMNS``) summed per model and day, shares as hour-weighted sums.

    ``<share>_weighted`` is Σ share × hours over the records that give the share and
    ``<share>_hours`` the hours of those records: their ratio is the hour-weighted mean.
    """
    cols = list(DAILY_COLUMNS)
    if raw.empty:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "day" else "int64" if c == "model_id"
                                          else float) for c in cols})
    day, fits = _ns_days(_days(raw["at"]))
    raw = raw[fits]
    hours = raw["compute_hours"].astype(float).to_numpy()
    frame = {"model_id": raw["model_id"].to_numpy(), "day": day,
             "predictions": raw["predictions"].astype(float).to_numpy(), "compute_hours": hours}
    for s in SHARES:
        share = pd.to_numeric(raw[f"{s}_share"], errors="coerce").to_numpy(dtype=float)
        given = np.isfinite(share)
        frame[f"{s}_weighted"] = np.where(given, share * hours, 0.0)
        frame[f"{s}_hours"] = np.where(given, hours, 0.0)
    return pd.DataFrame(frame).groupby(["model_id", "day"], as_index=False, sort=True).sum()[cols]


@dataclass(frozen=True)
class MetricsSource:
    """What the principal may see, read once; ``compute`` answers any date range from it.

    ``models``: model_id, name, platform, lob, sub_lob, task. ``usage``: ``daily_usage`` priced by
    ``prepare`` (currency, cost; cost NaN where no rate applies). ``windows``: model_id, day, rows.
    ``performance``: model_id, day, metric, value, kind (``REALISED``/``ESTIMATED``).
    ``rates``: ``core.usage.rates.rates_frame``. ``notes``: what could not be read, in words.
    """

    models: pd.DataFrame
    usage: pd.DataFrame
    windows: pd.DataFrame
    performance: pd.DataFrame
    rates: pd.DataFrame
    notes: tuple[str, ...] = ()

    @property
    def metrics(self) -> tuple[str, ...]:
        """The performance metrics present, in ``HIGHER_IS_BETTER``'s order."""
        present = set(self.performance["metric"].unique()) if not self.performance.empty else set()
        return tuple(m for m in HIGHER_IS_BETTER if m in present)


def _price(usage: pd.DataFrame, models: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """Each model-day with its platform's rate in force that day: currency and cost (NaN: no rate)."""
    if usage.empty:
        return usage.assign(platform=pd.Series(dtype=object), currency=pd.Series(dtype=object),
                            cost=pd.Series(dtype=float))
    out = usage.merge(models[["model_id", "platform"]], on="model_id", how="left")
    out["platform"] = out["platform"].fillna("")
    out = out.sort_values("day", kind="stable").reset_index(drop=True)
    if rates.empty or out.empty:
        out["currency"], out["cost"] = "", np.nan
        return out.sort_values(["model_id", "day"]).reset_index(drop=True)
    r = rates.sort_values("effective_from").rename(columns={"effective_from": "day"})
    out = pd.merge_asof(out, r[["platform", "day", "currency", "per_1k", "per_hour"]], on="day", by="platform",
                        direction="backward")
    out["cost"] = out["predictions"] / 1000.0 * out["per_1k"] + out["compute_hours"] * out["per_hour"]
    out["currency"] = out["currency"].fillna("")
    return out.drop(columns=["per_1k", "per_hour"]).sort_values(["model_id", "day"]).reset_index(drop=True)


def prepare(models: pd.DataFrame, usage: pd.DataFrame, windows: pd.DataFrame, performance: pd.DataFrame,
            rates: pd.DataFrame, notes: tuple[str, ...] = ()) -> MetricsSource:
    """A ``MetricsSource``: ``usage`` is ``daily_usage``'s output, priced here once."""
    return MetricsSource(models.reset_index(drop=True), _price(usage, models, rates), windows.reset_index(drop=True),
                         performance.reset_index(drop=True), rates, tuple(notes))


def check_range(start: date, end: date) -> None:
    """``InvalidInput`` unless ``start`` ≤ ``end`` and the range is at most ``MAX_DAYS`` days."""
    if start is None or end is None:
        raise InvalidInput("Choose both a start and an end date.", field="start" if start is None else "end")
    if start > end:
        raise InvalidInput(f"The start date ({start.isoformat()}) is after the end date ({end.isoformat()}): "
                           "choose a start on or before the end.", field="start")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(f"Choose a range of at most {MAX_DAYS} days.", field="start")


@dataclass(frozen=True)
class Kpis:
    """The headline numbers of a range, and the same for the previous range of the same length."""

    predictions: float
    cost: dict[str, float]                  # currency -> total cost in the range (known costs only)
    previous_cost: dict[str, float]         # currency -> total in the previous range
    cost_per_1k: dict[str, float | None]    # currency -> cost per 1,000 predictions priced in it
    unknown_cost_days: int                  # model-days with usage but no rate (cost unknown)
    utilisation: dict[str, float | None]    # cpu/memory/gpu -> hour-weighted mean share
    compute_hours: float
    performance: float | None               # mean of each model's latest value in the range
    previous_performance: float | None      # the same in the previous range, over the models compared
    performance_models: int                 # models with a value in the range
    performance_estimated: int              # of which the latest value is estimated
    #: mean over the models with a value in both ranges of (latest now − latest before); None: no such model
    performance_change: float | None = None
    performance_compared: int = 0           # how many models the change is over

    def cost_change(self, currency: str) -> float | None:
        """Relative change of the cost in ``currency`` against the previous range (None: nothing before)."""
        before = self.previous_cost.get(currency)
        if not before:
            return None
        return self.cost.get(currency, 0.0) / before - 1.0


@dataclass(frozen=True)
class BusinessMetrics:
    """Per-day series of one date range (arrays of one value per day of ``days``) and its KPIs."""

    start: date
    end: date
    days: np.ndarray                        # datetime64[D], start..end
    models: tuple[str, ...]
    metric: str
    volume_usage: np.ndarray                # predictions from usage records (NaN: no record that day)
    volume_windows: np.ndarray              # rows of production windows of models without usage records
    volume_sources: dict[str, str]          # model -> "usage records" | "production windows" | "no data"
    cost: dict[str, np.ndarray]             # currency -> cost per day (NaN: nothing priced that day)
    compute_hours: np.ndarray
    utilisation: dict[str, np.ndarray]      # cpu/memory/gpu -> hour-weighted share per day (NaN: unknown)
    realised: np.ndarray                    # mean realised ``metric`` per day (NaN: none)
    estimated: np.ndarray                   # mean estimated ``metric`` per day (NaN: none)
    kpis: Kpis
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        """Nothing at all in the range: no usage, no production window, no performance."""
        return not (np.isfinite(self.volume_usage).any() or np.isfinite(self.volume_windows).any()
                    or np.isfinite(self.realised).any() or np.isfinite(self.estimated).any())

    @property
    def volume(self) -> np.ndarray:
        """Predictions per day, both sources together (NaN where neither has data)."""
        both = np.vstack([self.volume_usage, self.volume_windows])
        return np.where(np.isfinite(both).any(axis=0), np.nansum(both, axis=0), np.nan)

    def to_frame(self) -> pd.DataFrame:
        """One row per day: the numbers the charts show (what the table and the CSV hold)."""
        out = pd.DataFrame({"date": pd.to_datetime(self.days).strftime("%Y-%m-%d"),
                            "predictions (usage records)": self.volume_usage,
                            "predictions (production windows)": self.volume_windows})
        for cur in sorted(self.cost):
            out[f"cost ({cur})"] = self.cost[cur]
        out["compute hours"] = self.compute_hours
        for s in SHARES:
            out[f"{s} share"] = self.utilisation[s]
        out[f"{self.metric} (realised)"] = self.realised
        out[f"{self.metric} (estimated)"] = self.estimated
        return out

    def to_csv(self) -> bytes:
        """``to_frame`` as CSV (empty cells where there is no value), every digit kept.

        Counts (the prediction columns, whole numbers) are written as integers (``12345678``, never
        ``1.23457e+07``); other numbers with 15 significant digits, all that a double holds reliably
        (a cost of 1234567.891 stays that, and 0.1 + 0.2 is written 0.3).
        """
        frame = self.to_frame()
        for col in frame.columns:
            values = frame[col]
            if col.startswith("predictions") and values.dtype.kind == "f":
                finite = values.dropna()
                if (finite == finite.round()).all() and (finite.abs() < 2**53).all():
                    frame[col] = values.astype("Int64")
        buf = io.StringIO()
        frame.to_csv(buf, index=False, float_format="%.15g")
        return buf.getvalue().encode("utf-8")


def _index(days: np.ndarray, start: np.datetime64) -> np.ndarray:
    return (days.astype("datetime64[D]") - start).astype(np.int64)


def _per_day(n: int, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sum ``values`` into ``n`` day slots (NaN where no value fell)."""
    out = np.bincount(idx, weights=values, minlength=n)[:n].astype(float)
    seen = np.bincount(idx, minlength=n)[:n] > 0
    return np.where(seen, out, np.nan)


def _between(frame: pd.DataFrame, lo: np.datetime64, hi: np.datetime64) -> pd.DataFrame:
    if frame.empty:
        return frame
    d = frame["day"].to_numpy(dtype="datetime64[D]")
    return frame[(d >= lo) & (d <= hi)]


def _latest(perf: pd.DataFrame) -> pd.DataFrame:
    """Each model's latest value (one row per model, indexed by model_id; realised before estimated)."""
    return perf.sort_values(["model_id", "day", "kind"]).groupby("model_id").tail(1).set_index("model_id")


def _mean(values: pd.Series) -> float | None:
    return float(values.mean()) if len(values) else None


def compute(source: MetricsSource, start: date, end: date, metric: str = "accuracy") -> BusinessMetrics:
    """The series and KPIs of ``start``..``end`` (inclusive) for every model of ``source``."""
    check_range(start, end)
    lo, hi = np.datetime64(start, "D"), np.datetime64(end, "D")
    n = int((hi - lo).astype(int)) + 1
    days = np.arange(lo, hi + 1, dtype="datetime64[D]")
    length = np.timedelta64(n, "D")
    prev_lo, prev_hi = lo - length, lo - np.timedelta64(1, "D")

    with_usage = set(source.usage["model_id"].unique()) if not source.usage.empty else set()
    usage = _between(source.usage, lo, hi)
    prev_usage = _between(source.usage, prev_lo, prev_hi)
    idx = _index(usage["day"].to_numpy(dtype="datetime64[D]"), lo)
    volume_usage = _per_day(n, idx, usage["predictions"].to_numpy(dtype=float))
    hours = usage["compute_hours"].to_numpy(dtype=float)
    compute_hours = _per_day(n, idx, hours)

    win = source.windows
    if not win.empty and with_usage:
        win = win[~win["model_id"].isin(with_usage)]
    win = _between(win, lo, hi)
    volume_windows = _per_day(n, _index(win["day"].to_numpy(dtype="datetime64[D]"), lo),
                              win["rows"].to_numpy(dtype=float))

    # -- cost, per currency; unknown (no rate) is counted, never priced at 0 --
    cost: dict[str, np.ndarray] = {}
    totals: dict[str, float] = {}
    per_1k: dict[str, float | None] = {}
    priced = usage["cost"].notna().to_numpy() if not usage.empty else np.zeros(0, dtype=bool)
    currencies = usage["currency"].to_numpy() if not usage.empty else np.zeros(0, dtype=object)
    for cur in sorted(set(currencies[priced])):
        mine = priced & (currencies == cur)
        cost[cur] = _per_day(n, idx[mine], usage["cost"].to_numpy(dtype=float)[mine])
        totals[cur] = float(np.nansum(cost[cur]))
        predictions = float(usage["predictions"].to_numpy(dtype=float)[mine].sum())
        per_1k[cur] = totals[cur] / predictions * 1000.0 if predictions > 0 else None
    previous: dict[str, float] = {}
    if not prev_usage.empty:
        known = prev_usage[prev_usage["cost"].notna()]
        previous = {str(k): float(v) for k, v in known.groupby("currency")["cost"].sum().items()}
    unknown = usage[~priced] if not usage.empty else usage
    notes: list[str] = []
    if len(unknown):
        names = dict(zip(source.models["model_id"], source.models["name"]))
        platforms = dict(zip(source.models["model_id"], source.models["platform"]))
        for pid, part in unknown.groupby(unknown["model_id"].map(platforms).fillna("")):
            models = sorted({names.get(m, "?") for m in part["model_id"]})
            first = pd.Timestamp(part["day"].min()).date().isoformat()
            notes.append(f"No cost rate for platform {pid or '(none)'} on {len(part)} model-day(s) from {first} "
                         f"({', '.join(models)}): their cost is unknown and left out of the totals.")

    # -- utilisation, weighted by compute hours --
    utilisation: dict[str, np.ndarray] = {}
    average: dict[str, float | None] = {}
    for s in SHARES:
        w_ = usage[f"{s}_weighted"].to_numpy(dtype=float)
        h_ = usage[f"{s}_hours"].to_numpy(dtype=float)
        num, den = np.bincount(idx, weights=w_, minlength=n)[:n], np.bincount(idx, weights=h_, minlength=n)[:n]
        with np.errstate(invalid="ignore", divide="ignore"):
            utilisation[s] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        average[s] = float(w_.sum() / h_.sum()) if h_.sum() > 0 else None

    # -- performance --
    perf_all = source.performance[source.performance["metric"] == metric] if not source.performance.empty \
        else source.performance
    perf = _between(perf_all, lo, hi)
    pidx = _index(perf["day"].to_numpy(dtype="datetime64[D]"), lo) if not perf.empty else np.zeros(0, dtype=np.int64)
    curves = {}
    for kind in (REALISED, ESTIMATED):
        mine = (perf["kind"] == kind).to_numpy() if not perf.empty else np.zeros(0, dtype=bool)
        total = _per_day(n, pidx[mine], perf["value"].to_numpy(dtype=float)[mine])
        count = np.bincount(pidx[mine], minlength=n)[:n]
        curves[kind] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    # the change compares like with like: only models with a value in both ranges (a model first
    # monitored in this range would otherwise move the mean by its level, not by any change)
    now_latest, before_latest = _latest(perf), _latest(_between(perf_all, prev_lo, prev_hi))
    both = now_latest.index.intersection(before_latest.index)
    current, before = _mean(now_latest["value"]), _mean(before_latest.loc[both, "value"])
    change = _mean(now_latest.loc[both, "value"] - before_latest.loc[both, "value"])

    kpis = Kpis(
        predictions=float(np.nansum(volume_usage) + np.nansum(volume_windows)), cost=totals, previous_cost=previous,
        cost_per_1k=per_1k, unknown_cost_days=len(unknown), utilisation=average,
        compute_hours=float(hours.sum()), performance=current, previous_performance=before,
        performance_models=len(now_latest), performance_estimated=int((now_latest["kind"] == ESTIMATED).sum()),
        performance_change=change, performance_compared=len(both))
    names = dict(zip(source.models["model_id"], source.models["name"]))
    with_windows = set(source.windows["model_id"].unique()) if not source.windows.empty else set()
    sources = {names[m]: ("usage records" if m in with_usage else "production windows" if m in with_windows
                          else "no data") for m in source.models["model_id"]}
    return BusinessMetrics(
        start=start, end=end, days=days, models=tuple(source.models["name"]), metric=metric,
        volume_usage=volume_usage, volume_windows=volume_windows, volume_sources=sources, cost=cost,
        compute_hours=compute_hours, utilisation=utilisation, realised=curves[REALISED], estimated=curves[ESTIMATED],
        kpis=kpis, notes=tuple(notes) + tuple(source.notes))


def preset_range(days: int, today: date) -> tuple[date, date]:
    """The range a preset means: the last ``days`` days up to and including ``today``."""
    return today - timedelta(days=days - 1), today


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
