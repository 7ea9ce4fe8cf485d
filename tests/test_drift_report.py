"""The shareable drift report: one self-contained HTML file (no script, no outside reference, every text
escaped) and JSON with a schema version, with the same verdict; who may export it; bad windows and models
awaiting metrics; ``vision report`` writing the file atomically."""
from __future__ import annotations

import json
from html.parser import HTMLParser

import pandas as pd
import pytest
from helpers import ADMIN, OTHER_USER, USER, demo_spec, write_demo_files

from vision_widgets.cli import main
from vision_widgets.core.errors import InvalidInput, NotFound, PermissionDenied
from vision_widgets.core.stats.drift_summary import past_threshold
from vision_widgets.core.stats.drift import FeatureDrift
from vision_widgets.services import drift_report, drift_settings, registration
from vision_widgets.worker import Runner

MODEL = "Card fraud"
HOSTILE = "<img src=x onerror=alert(1)>"


class _Scan(HTMLParser):
    """Every tag, every attribute, and the visible text of a document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, k, v or "") for k, v in attrs)

    def handle_data(self, data):
        self.text.append(data)


def scan(html: bytes) -> _Scan:
    s = _Scan()
    s.feed(html.decode("utf-8"))
    return s


@pytest.fixture
def model(ctx, login, settings):
    files = write_demo_files(settings.home / "data")
    registration.register_model(ctx, login(USER), demo_spec(MODEL, *files))
    return MODEL


@pytest.fixture
def hostile_model(ctx, login, settings):
    """A model whose name, description and a feature's name are markup."""
    train, prod = write_demo_files(settings.home / "data", prefix="hostile")
    for path in (train, prod):
        pd.read_csv(path).rename(columns={"amount": HOSTILE}).to_csv(path, index=False)
    name = f"<b>{MODEL}</b>"
    registration.register_model(ctx, login(USER), demo_spec(name, train, prod, description=f"see {HOSTILE}"))
    return name


def test_the_html_is_one_self_contained_file_with_the_verdict_window_settings_and_time(ctx, login, model):
    html = drift_report.export_html(ctx, login(USER), model)
    data = json.loads(drift_report.export_json(ctx, login(USER), model))
    found = scan(html)
    assert "script" not in found.tags and b"<script" not in html.lower()
    refs = [(tag, k, v) for tag, k, v in found.attrs if k in ("src", "href", "action", "xlink:href", "srcset")]
    assert all(v.startswith("#") for _, _, v in refs), refs
    assert not any(tag in ("link", "img", "iframe", "object", "embed", "image", "use") for tag in found.tags)
    assert b"url(" not in html and b"@import" not in html, "no outside resource from the style either"
    csp = [v for tag, k, v in found.attrs if tag == "meta" and k == "content" and "default-src" in v]
    assert csp and "default-src 'none'" in csp[0]
    text = " ".join(found.text)
    assert data["verdict"]["text"] in text and data["verdict"]["text"].startswith(("Dataset drift:", "No dataset drift:"))
    assert MODEL in text and data["window"]["label"][:10] in text
    assert "Dataset drift when" in text and "at least 50% of the features drifted" in text, "the settings"
    assert "2024-05-01 12:00 UTC by datascientist_user" in text, "when it was made, and by whom"
    assert found.tags.count("svg") == 1 + len(data["top_features"]) and data["top_features"]


def test_every_untrusted_text_is_escaped(ctx, login, hostile_model):
    html = drift_report.export_html(ctx, login(USER), hostile_model)
    found = scan(html)
    assert "img" not in found.tags and "b" not in found.tags
    assert not any(k.startswith("on") for _, k, _ in found.attrs), "no event handler attribute"
    assert b"<img" not in html and b"&lt;img src=x onerror=alert(1)&gt;" in html
    text = " ".join(found.text)
    assert HOSTILE in text and f"see {HOSTILE}" in text and f"<b>{MODEL}</b>" in text, "shown as the characters"


def test_the_json_has_a_schema_version_and_the_same_content_as_data(ctx, login, model):
    data = json.loads(drift_report.export_json(ctx, login(USER), model))
    assert data["schema_version"] == drift_report.SCHEMA_VERSION == 1
    assert data["model"]["name"] == MODEL and data["window"]["latest"] is True
    assert data["settings"]["drift_share"] == 0.5 and data["generated_at"] == "2024-05-01T12:00:00+00:00"
    feats = data["features"]
    drifted = [f["drifted"] for f in feats]
    assert drifted == sorted(drifted, reverse=True), "drifted first"
    for group in (True, False):
        margins = [f["past_threshold"] for f in feats if f["drifted"] is group]
        assert margins == sorted(margins, reverse=True), "then by how far past the threshold"
    verdict = data["verdict"]
    assert verdict["drifted_features"] == sum(drifted) and verdict["features"] == len(feats)
    assert verdict["text"] == (f"{'Dataset drift' if verdict['dataset_drift'] else 'No dataset drift'}: "
                               f"{sum(drifted)} of {len(feats)} features drifted; dataset drift needs 50%")
    assert len(data["timeline"]) == data["window"]["windows_in_all"] > 1
    assert data["timeline"][-1]["window"] == data["window"]["label"]
    assert all(len(s) == len(data["timeline"]) for s in data["feature_series"].values())
    assert set(data["top_features"]) <= set(data["feature_series"]) and len(data["top_features"]) == 5


def test_a_window_can_be_chosen_and_an_unknown_one_is_refused(ctx, login, model):
    me = login(USER)
    first = json.loads(drift_report.export_json(ctx, me, model))["timeline"][0]
    chosen = json.loads(drift_report.export_json(ctx, me, model, window=first["window"]))
    assert chosen["window"]["label"] == first["window"] and chosen["window"]["latest"] is False
    assert chosen["verdict"]["drift_share"] == first["drift_share"]
    with pytest.raises(NotFound, match="has no window '1999-01-01'.*latest windows are"):
        drift_report.export_html(ctx, me, model, window="1999-01-01")


def test_whoever_may_see_the_model_may_export_it_and_no_one_else(ctx, login, model):
    assert drift_report.export_html(ctx, login(ADMIN), model)
    with pytest.raises(PermissionDenied):
        drift_report.export_html(ctx, login(OTHER_USER), model)
    with pytest.raises(NotFound):
        drift_report.export_json(ctx, login(USER), "no such model")


def test_a_model_awaiting_metrics_has_no_report_yet(ctx, login, register_restricted):
    register_restricted("Secret model")
    with pytest.raises(InvalidInput, match="awaiting metrics"):
        drift_report.export_html(ctx, login(USER), "Secret model")


def test_the_report_follows_the_settings_after_their_recompute(ctx, login, model):
    me = login(USER)
    job = drift_settings.save_settings(ctx, me, model, {"drift_share": 0.01, "thresholds": {"amount": 3.0}})
    Runner(ctx, "w1").run(job.id)
    data = json.loads(drift_report.export_json(ctx, me, model))
    assert data["verdict"]["dataset_drift"] and data["verdict"]["text"].endswith("dataset drift needs 1%")
    amount = next(f for f in data["features"] if f["feature"] == "amount")
    assert (amount["threshold"], amount["drifted"]) == (3.0, False)
    text = " ".join(scan(drift_report.export_html(ctx, me, model)).text)
    assert "amount: 3" in text and data["verdict"]["text"] in text


def test_past_threshold_compares_p_values_and_distances_on_one_scale():
    def f(stat, p, threshold, drifted=True):
        return FeatureDrift("x", "numeric", "m", stat, p, threshold, 0.0, drifted)

    assert past_threshold(f(0.5, None, 0.1)) == pytest.approx(5.0)  # 5× the distance threshold
    assert past_threshold(f(3.0, 0.05 ** 3, 0.05)) == pytest.approx(3.0)  # p = threshold³
    assert past_threshold(f(0.05, None, 0.1, False)) < 1 < past_threshold(f(0.2, None, 0.1))
    # the score drift() stored wins (it knows whether a band decided)
    assert past_threshold(FeatureDrift("x", "binary", "z", 6.0, 1e-9, 4.0, 0.0, True, None, 1.5)) == 1.5


def test_the_export_orders_features_as_the_page_does():
    # Wasserstein 0.3 against 0.1 is 3 thresholds out; KS p = 0.0025 against 0.05 is p = threshold², score 2.
    # The export used to sort on decades (0.48 vs 1.30) and put KS first; the page put Wasserstein first.
    from vision_widgets.core.stats.drift_summary import sorted_features
    from vision_widgets.services.drift_page import FeatureResult

    stored = [{"feature": "ks_feature", "type": "numeric", "method": "ks", "statistic": 0.2, "p_value": 0.0025,
               "threshold": 0.05, "psi": 0.0, "drifted": True, "note": None},
              {"feature": "w_feature", "type": "numeric", "method": "wasserstein", "statistic": 0.3, "p_value": None,
               "threshold": 0.1, "psi": 0.0, "drifted": True, "note": None}]
    export = [f.feature for f in sorted_features(drift_report._features(stored))]
    page = sorted((FeatureResult.from_dict(d) for d in stored), key=lambda r: (not r.drifted, -r.score, r.feature))
    assert export == [r.feature for r in page] == ["w_feature", "ks_feature"]
    assert [past_threshold(f) for f in drift_report._features(stored)] == pytest.approx([2.0, 3.0])


# -- the command line --------------------------------------------------------------------------------
@pytest.fixture
def cli_env(ctx, settings, monkeypatch):
    monkeypatch.setenv("VISION_HOME", str(settings.home))
    return settings


def test_vision_report_writes_html_or_json(ctx, login, model, cli_env, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", MODEL, "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"<!DOCTYPE html>") and b"<script" not in out.read_bytes()
    assert "wrote the HTML drift report" in capsys.readouterr().out
    first = json.loads(drift_report.export_json(ctx, login(USER), model))["timeline"][0]["window"]
    assert main(["report", MODEL, "--window", first, "-o", str(tmp_path / "r.json")]) == 0
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["schema_version"] == 1 and data["window"]["label"] == first
    assert data["generated_by"].startswith("cli"), "the operator made it"


@pytest.mark.parametrize("argv, words", [
    (["report", "No such model"], "There is no model named 'No such model'"),
    (["report", MODEL, "--window", "someday"], "has no window 'someday'"),
])
def test_vision_report_errors_say_why_and_leave_the_file_alone(model, cli_env, tmp_path, capsys, argv, words):
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "report.html"
    out.write_text("the previous report")
    assert main([*argv, "-o", str(out)]) == 2
    assert words in capsys.readouterr().err
    assert out.read_text() == "the previous report" and [p.name for p in folder.iterdir()] == ["report.html"]


def test_vision_report_into_a_folder_that_does_not_exist_says_so(model, cli_env, tmp_path, capsys):
    assert main(["report", MODEL, "-o", str(tmp_path / "nowhere" / "r.html")]) == 2
    assert "cannot write" in capsys.readouterr().err and not (tmp_path / "nowhere").exists()


def test_a_band_decided_feature_chart_draws_its_score_against_the_band_not_p_values_against_a_statistic():
    from vision_widgets.core.report.drift_html import _feature_chart

    def point(stat, p, drifted, score):
        return {"statistic": stat, "p_value": p, "threshold": 4.0, "method": "z", "drifted": drifted,
                "score": score, "band": True}

    report = {"timeline": [{"window": "2026-10-01"}, {"window": "2026-10-08"}],
              "feature_series": {"b": [point(1.0, 0.3, False, 0.25), point(6.0, 1e-9, True, 1.5)]}}
    svg = _feature_chart(report, "b", "#000")
    text = " ".join(scan(svg.encode()).text)
    assert "drift score" in text and "edge of the reference band" in text
    assert "p-value" not in text and "threshold 4" not in text, "a Z statistic's edge is no significance level"
