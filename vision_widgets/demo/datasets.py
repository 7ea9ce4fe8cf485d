"""Deterministic demo data for the five personas' models (labelled demo data everywhere).

Each dataset has realistic features, a target drawn from a known logistic (or
softmax) model of those features, a model's prediction (the true score plus
noise, so performance is good but not perfect), timestamps over several weeks,
and drift built into the last weeks of production. Everything flows through the
real code paths: files on disk, the connector, profiling, registration, drift.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

DEMO_SEED = 20261127
TRAIN_START = pd.Timestamp("2026-06-01")
PROD_START = pd.Timestamp("2026-09-01")
PROD_WEEKS = 8
DRIFT_FROM_WEEK = 5  # weeks 5..8 of production carry the built-in drift


@dataclass(frozen=True)
class DemoModel:
    """One demo model: who owns it, what it predicts, and how its data is made."""

    name: str
    owner: str
    description: str
    task: str
    platform: str
    target: str
    prediction: str
    restricted: bool
    make: Callable[[np.random.Generator, int, bool], pd.DataFrame] = field(repr=False)
    exclude: tuple[str, ...] = ("record_id",)
    timestamp: str = "event_time"
    #: The last weeks of production whose labels have not arrived yet (the target left blank):
    #: their performance is estimated from the scores (CBPE), with no realised value.
    unlabelled_weeks: int = 0


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _binary_outcome(rng: np.random.Generator, logit: np.ndarray, target: str, prediction: str) -> dict:
    p = _sigmoid(logit)
    y = (rng.random(p.size) < p).astype(int)
    score = _sigmoid(logit + rng.normal(0, 0.6, p.size))
    return {target: y, prediction: np.round(score, 4)}


def _fraud(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    amount = rng.lognormal(3.6 + (0.45 if drifted else 0.0), 0.9, n)
    hour = rng.integers(0, 24, n)
    distance = rng.gamma(2.0, 8.0, n)
    tx_24h = rng.poisson(3, n)
    card_present = (rng.random(n) < 0.7).astype(int)
    cats = ["grocery", "electronics", "travel", "restaurants", "fuel", "online_retail"]
    weights = [0.3, 0.12, 0.08, 0.2, 0.15, 0.15]
    if drifted:  # a new kind of merchant appears in production
        cats, weights = cats + ["crypto_exchange"], [0.26, 0.12, 0.08, 0.18, 0.13, 0.15, 0.08]
    merchant = rng.choice(cats, n, p=weights)
    logit = (-5.6 + 0.55 * np.log(amount) - 0.9 * card_present + 0.02 * distance + 0.18 * tx_24h
             + 0.6 * ((hour < 5) | (hour > 22)) + 1.1 * np.isin(merchant, ["electronics", "crypto_exchange"]))
    return pd.DataFrame({
        "amount": np.round(amount, 2), "hour_of_day": hour, "distance_from_home_km": np.round(distance, 1),
        "transactions_24h": tx_24h, "card_present": card_present, "merchant_category": merchant,
        **_binary_outcome(rng, logit, "is_fraud", "fraud_score"),
    })


def _churn(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    tenure = rng.integers(1, 72, n)
    charges = rng.normal(70 + (12 if drifted else 0), 18, n).clip(15, 160)
    contract = rng.choice(["month-to-month", "one-year", "two-year"], n, p=[0.55, 0.25, 0.2])
    calls = rng.poisson(1.2 + (0.8 if drifted else 0), n)
    payment = rng.choice(["card", "bank_transfer", "electronic_check", "mailed_check"], n, p=[0.35, 0.25, 0.3, 0.1])
    usage = rng.gamma(3.0, 5.0, n)
    logit = (-1.0 - 0.04 * tenure + 0.02 * (charges - 70) + 0.35 * calls
             + 1.0 * (contract == "month-to-month") - 0.8 * (contract == "two-year")
             + 0.4 * (payment == "electronic_check") - 0.02 * usage)
    return pd.DataFrame({
        "tenure_months": tenure, "monthly_charges": np.round(charges, 2), "contract": contract,
        "support_calls_90d": calls, "payment_method": payment, "data_usage_gb": np.round(usage, 2),
        **_binary_outcome(rng, logit, "churned", "churn_probability"),
    })


def _incident(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    cpu = rng.beta(2, 5, n) * 100
    mem = rng.beta(3, 4, n) * 100
    err = rng.gamma(1.5, 0.4 + (0.3 if drifted else 0), n)
    latency = rng.lognormal(5.0 + (0.35 if drifted else 0), 0.4, n)
    deploys = rng.poisson(1.0, n)
    region = rng.choice(["eu-west", "us-east", "us-west", "ap-south"], n, p=[0.3, 0.35, 0.2, 0.15])
    tier = rng.choice(["gold", "silver", "bronze"], n, p=[0.2, 0.5, 0.3])
    logit = (-5.0 + 0.03 * cpu + 0.02 * mem + 0.9 * err + 0.004 * latency + 0.4 * deploys
             + 0.5 * (tier == "bronze"))
    return pd.DataFrame({
        "cpu_utilisation_pct": np.round(cpu, 1), "memory_utilisation_pct": np.round(mem, 1),
        "error_rate_pct": np.round(err, 3), "latency_p95_ms": np.round(latency, 1), "deploys_24h": deploys,
        "region": region, "service_tier": tier,
        **_binary_outcome(rng, logit, "incident_next_hour", "incident_risk"),
    })


def _leads(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    views = rng.poisson(6, n)
    minutes = rng.gamma(2.0, 3.0 - (1.0 if drifted else 0), n)
    opens = rng.poisson(2, n)
    size = rng.choice(["1-10", "11-50", "51-200", "201-1000", "1000+"], n, p=[0.3, 0.3, 0.2, 0.12, 0.08])
    industry = rng.choice(["finance", "retail", "health", "tech", "public"], n, p=[0.2, 0.25, 0.15, 0.3, 0.1])
    sources = ["organic", "paid_search", "referral", "event"]
    source_p = [0.25, 0.5, 0.15, 0.1] if drifted else [0.4, 0.3, 0.2, 0.1]
    source = rng.choice(sources, n, p=source_p)
    logit = (-3.0 + 0.12 * views + 0.15 * minutes + 0.3 * opens + 0.6 * np.isin(size, ["201-1000", "1000+"])
             + 0.5 * (source == "referral") - 0.3 * (source == "paid_search") + 0.3 * (industry == "tech"))
    return pd.DataFrame({
        "page_views": views, "minutes_on_site": np.round(minutes, 2), "email_opens": opens,
        "company_size": size, "industry": industry, "lead_source": source,
        **_binary_outcome(rng, logit, "converted", "lead_score"),
    })


def _retail(rng: np.random.Generator, n: int, drifted: bool) -> pd.DataFrame:
    classes = np.array(["grocery", "electronics", "apparel"])
    basket = rng.poisson(8 - (3 if drifted else 0), n) + 1
    total = rng.lognormal(3.5 + (0.3 if drifted else 0), 0.8, n)
    hour = rng.integers(7, 23, n)
    channel = rng.choice(["store", "online", "mobile"], n, p=[0.3, 0.35, 0.35] if drifted else [0.55, 0.3, 0.15])
    store_type = rng.choice(["hypermarket", "mall", "high_street"], n, p=[0.45, 0.3, 0.25])
    logits = np.column_stack([
        0.25 * basket - 0.4 * np.log(total),
        -2.0 + 0.6 * np.log(total) + 0.8 * (channel == "online"),
        -1.0 + 0.3 * np.log(total) + 0.9 * (store_type == "mall"),
    ])
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    y = (rng.random((n, 1)) > p.cumsum(axis=1)).sum(axis=1).clip(0, 2)
    noisy = logits + rng.normal(0, 0.7, logits.shape)
    return pd.DataFrame({
        "basket_size": basket, "total_amount": np.round(total, 2), "hour_of_day": hour,
        "channel": channel, "store_type": store_type,
        "category": classes[y], "predicted_category": classes[noisy.argmax(axis=1)],
    })


MODELS: tuple[DemoModel, ...] = (
    DemoModel("Fraud detection", "datascientist_user", "Scores card transactions for fraud (demo data).",
              "binary classification", "Databricks", "is_fraud", "fraud_score", False, _fraud),
    DemoModel("Customer churn", "productowner_user", "Predicts which subscribers will cancel (demo data).",
              "binary classification", "AWS SageMaker", "churned", "churn_probability", False, _churn),
    DemoModel("Incident prediction", "sre_user", "Predicts service incidents in the next hour (demo data).",
              "binary classification", "on-premises", "incident_next_hour", "incident_risk", False, _incident),
    DemoModel("Lead scoring", "mlengineer_user", "Ranks inbound sales leads by conversion odds (demo data).",
              "binary classification", "Azure ML", "converted", "lead_score", False, _leads, unlabelled_weeks=2),
    DemoModel("Retail transactions", "appowner_user", "Classifies retail baskets by category (demo data).",
              "multiclass classification", "on-premises", "category", "predicted_category", True, _retail),
)


def _with_time_and_ids(df: pd.DataFrame, rng: np.random.Generator, start: pd.Timestamp, weeks: int,
                       first_id: int) -> pd.DataFrame:
    seconds = np.sort(rng.integers(0, weeks * 7 * 86400, len(df)))
    out = df.copy()
    out.insert(0, "event_time", start + pd.to_timedelta(seconds, unit="s"))
    out.insert(0, "record_id", np.arange(first_id, first_id + len(df)))
    return out


def generate(model: DemoModel, train_rows: int = 20_000, weekly_rows: int = 3_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (training, production) frames of one demo model; same seed, same data."""
    rng = np.random.default_rng([DEMO_SEED, MODELS.index(model)])
    train = _with_time_and_ids(model.make(rng, train_rows, False), rng, TRAIN_START, 12, 1)
    weeks = []
    for week in range(PROD_WEEKS):
        part = model.make(rng, weekly_rows, week + 1 >= DRIFT_FROM_WEEK)
        part = _with_time_and_ids(part, rng, PROD_START + pd.Timedelta(weeks=week), 1, 10_000_000 + week * weekly_rows)
        if week >= PROD_WEEKS - model.unlabelled_weeks:  # labels not in yet: the target column is blank
            part[model.target] = pd.array([pd.NA] * len(part), dtype="Int64")
        weeks.append(part)
    return train, pd.concat(weeks, ignore_index=True)


def file_paths(folder: Path, model: DemoModel) -> tuple[Path, Path]:
    """Where ``write_files`` puts a model's (training, production) CSVs."""
    slug = model.name.lower().replace(" ", "_")
    return folder / f"{slug}_training.csv", folder / f"{slug}_production.csv"


def write_files(folder: Path, train_rows: int = 20_000, weekly_rows: int = 3_000) -> dict[str, tuple[Path, Path]]:
    """Write each model's training and production CSVs under ``folder``; returns their paths by model name."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, tuple[Path, Path]] = {}
    for model in MODELS:
        train, prod = generate(model, train_rows, weekly_rows)
        train_path, prod_path = file_paths(folder, model)
        train.to_csv(train_path, index=False)
        prod.to_csv(prod_path, index=False)
        paths[model.name] = (train_path, prod_path)
    return paths
