"""The Drift page driven headlessly: model, window and feature changes feed the table and the charts the
right data; admins filter by line of business; empty states say why in a sentence."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import ADMIN, OTHER_USER, USER, demo_spec, log_in_through_the_form, write_demo_files

from vision_widgets.app import PAGES
from vision_widgets.services import registration
from vision_widgets.services.drift_page import SCORE_CAP, drift_overview
from vision_widgets.views.drift import DriftView


@pytest.fixture
def models(ctx, login, settings):
    """USER's fraud model (weekly windows) and OTHER_USER's churn model; a restricted one awaiting metrics."""
    folder = settings.home / "data"
    train, prod = write_demo_files(folder, weekly_rows=600)
    registration.register_model(ctx, login(USER), demo_spec("Fraud detection", train, prod))
    train2, prod2 = write_demo_files(folder, "Customer churn", "churn", weekly_rows=300)
    registration.register_model(ctx, login(OTHER_USER), demo_spec("Customer churn", train2, prod2,
                                                                   model_name="Customer churn"))
    registration.register_model(ctx, login(USER), demo_spec("Secret model", restricted=True))


def open_drift(app, username):
    log_in_through_the_form(app, username)
    app.open_page("drift")
    assert isinstance(app.view, DriftView)
    return app.view


def click_feature(view, name):
    """Click the feature's row as the browser does: the grid's cell-click message."""
    row = [r[0] for r in view.table.rows].index(name)
    view.table.grid._handle_custom_msg({
        "event_type": "cell-click", "region": "body", "column": "Feature", "column_index": 0, "row": row,
        "primary_key_row": row, "cell_value": name}, [])


def test_drift_is_a_page_for_every_account():
    page = next(p for p in PAGES if p.key == "drift")
    assert page.title == "Drift" and page.purpose and page.icon and page.group == "Models"


def test_the_page_opens_on_the_latest_window_with_the_verdict_and_the_drifted_features_first(app, ctx, login, models):
    view = open_drift(app, USER)
    assert view.model.options == ("Fraud detection", "Secret model")  # only the user's own models
    assert view.model.value == "Fraud detection"
    data = drift_overview(ctx, login(USER), "Fraud detection")
    latest = data.windows[-1]
    assert view.window.value == latest.index
    assert view.verdict.value.endswith(f"in window {latest.label}: {len(latest.drifted)} of 6 features drifted")
    assert "dataset drift needs 50%" in view.verdict_note.text and "Latest production data arrived" in view.verdict_note.text
    flags = [r[7] for r in view.table.rows]
    assert flags == sorted(flags, reverse=True)  # "yes" before "no"
    assert {r[0] for r in view.table.rows if r[7] == "yes"} >= {"amount"}
    # the top row is selected and drawn
    assert view.feature == view.table.rows[0][0]
    assert view.distribution.figure.title == f"{view.feature}: training vs {latest.label}"
    # not hidden: no lob filter for a user
    assert view.lob not in view.pickers.children


def test_the_over_time_charts_get_one_point_per_window_and_one_line_per_top_feature(app, ctx, login, models):
    view = open_drift(app, USER)
    data = drift_overview(ctx, login(USER), "Fraud detection")
    labels = [w.label for w in data.windows]
    assert list(view.over_time.lines.x) == labels
    assert list(view.over_time.lines.labels) == list(data.top_features(5))
    assert view.over_time.lines.y.shape == (5, len(labels))
    amount = list(view.drawn.value).index("amount")
    expected = np.minimum([data.series("amount").scores], SCORE_CAP)[0]
    assert np.allclose(view.over_time.lines.y[amount], expected)
    assert list(view.over_time.threshold.y) == [1.0] * len(labels)
    # a ring on each window where a drawn feature drifted
    rings = sum(sum(data.series(f).drifted) for f in view.drawn.value)
    assert len(view.over_time.flagged.x) == rings and view.over_time.flagged.visible
    # the share chart: every window's share against the dataset threshold
    assert list(view.shares.line.x) == labels
    assert np.allclose(view.shares.line.y, [w.drift_share for w in data.windows])
    assert list(view.shares.threshold.y) == [0.5] * len(labels)
    # choosing which features are drawn redraws the lines
    view.drawn.value = ("hour_of_day",)
    assert list(view.over_time.lines.labels) == ["hour_of_day"]
    assert np.allclose(view.over_time.lines.y, np.minimum(data.series("hour_of_day").scores, SCORE_CAP))


def test_a_window_change_feeds_the_table_the_verdict_and_the_distribution_of_that_window(app, ctx, login, models):
    view = open_drift(app, USER)
    data = drift_overview(ctx, login(USER), "Fraud detection")
    early = data.windows[1]
    before = view.distribution.areas["production"].y.copy()
    view.window.value = early.index
    assert early.label in view.verdict.value
    assert [r[0] for r in view.table.rows] == [f.feature for f in early.sorted_features()]
    assert view.kpis["rows"].figure == f"{early.rows:,}"
    assert view.distribution.figure.title.endswith(f"training vs {early.label}")
    assert not np.array_equal(view.distribution.areas["production"].y, before)
    # the over-time charts do not change with the window
    assert list(view.over_time.lines.x) == [w.label for w in data.windows]


def test_clicking_a_feature_row_shows_its_distribution_and_statistics(app, models):
    view = open_drift(app, USER)
    view.window.value = len(view.window.options) - 2  # a late, drifted week
    click_feature(view, "merchant_category")
    assert view.feature == "merchant_category"
    assert view.feature_title.value.startswith("merchant_category — drifted")
    assert view.distribution.kind == "categorical"
    bars = list(view.distribution.bars.x)
    assert "(other)" in bars and "grocery" in bars
    assert "Only in this window, not in training: (other)" in view.feature_note.text
    assert "Most frequent" in view.feature_stats.value
    click_feature(view, "amount")
    assert view.distribution.kind == "numeric"
    assert view.distribution.figure.title.startswith("amount: training vs")
    assert "Mean" in view.feature_stats.value


def test_target_and_prediction_shift_are_shown_apart(app, models):
    view = open_drift(app, USER)
    html = view.shift_table.value
    assert "Target (label shift)" in html and "is_fraud" in html
    assert "Prediction (prediction shift)" in html and "fraud_score" in html
    assert view.kpis["target"].figure in ("yes", "no")


def test_switching_model_loads_the_other_model(app, ctx, login, models):
    view = open_drift(app, ADMIN)
    view.model.value = "Customer churn"
    churn = drift_overview(ctx, login(ADMIN), "Customer churn")
    assert view.state.selected_model == "Customer churn"
    assert [r[0] for r in view.table.rows] == [f.feature for f in churn.windows[-1].sorted_features()]
    assert view.drawn.options == churn.features and view.drawn.value == churn.top_features()
    assert list(view.over_time.lines.x) == [w.label for w in churn.windows]
    assert view.feature in churn.features and view.distribution.figure.title.startswith(view.feature)


def test_an_admin_filters_models_by_line_of_business(app, ctx, login, models):
    view = open_drift(app, ADMIN)
    assert view.lob in view.pickers.children
    assert set(view.model.options) == {"Fraud detection", "Customer churn", "Secret model"}
    lobs = [o for o in view.lob.options if o != view.lob.options[0]]
    assert lobs
    from vision_widgets.services import catalog

    lob = lobs[0]
    expected = {s.model.name for s in catalog.list_models(ctx, login(ADMIN), lob=lob)}
    view.lob.value = lob
    assert set(view.model.options) == expected


def test_a_model_awaiting_metrics_gets_a_sentence_not_an_empty_chart(app, models):
    view = open_drift(app, USER)
    view.model.value = "Secret model"
    assert view.empty.layout.display == "flex" and "awaiting metrics" in view.empty.text
    assert view.sections.layout.display == "none"
    assert view.window.layout.display == "none"
    # back to a model with data: the sections and charts come back with that model's data
    view.model.value = "Fraud detection"
    assert view.sections.layout.display == "flex" and view.empty.layout.display == "none"
    assert list(view.over_time.lines.labels)[:2] == ["amount", "merchant_category"]


def test_a_deep_link_model_is_the_one_shown(app, models):
    app.state.selected_model = "Secret model"
    view = open_drift(app, USER)
    assert view.model.value == "Secret model" and "awaiting metrics" in view.empty.text


def test_a_user_without_models_is_told_what_to_do(app, ctx):
    view = open_drift(app, OTHER_USER)
    assert view.model.options == ()
    assert "No models to show here yet" in view.empty.text and view.sections.layout.display == "none"


def test_a_model_name_is_never_markup(app, ctx, login, settings):
    name = "<img src=x onerror=alert(1)>"
    registration.register_model(ctx, login(USER), demo_spec(name, restricted=True))
    view = open_drift(app, USER)
    view.model.value = name
    assert "<img" not in view.empty.value and "&lt;img" in view.empty.value


# -- settings (owner or admin) ------------------------------------------------------------------


def test_only_the_owner_or_an_admin_gets_the_settings_panel(app, ctx, login, models):
    view = open_drift(app, USER)
    assert view.settings.layout.display != "none" and view.settings_panel is None  # folded: not built yet
    view.settings.selected_index = 0
    assert view.settings_panel is not None and view.settings_panel.model == "Fraud detection"
    view.model.value = "Secret model"  # awaiting metrics: nothing to set yet
    assert view.settings_panel is None and view.settings.layout.display == "none"


def test_a_threshold_saved_from_the_panel_recomputes_and_changes_the_verdict(app, ctx, login, models):
    from vision_widgets.core.jobs.records import DONE
    from vision_widgets.services import jobs
    from vision_widgets.worker import Runner

    view = open_drift(app, USER)
    before = view.verdict.value
    assert before.startswith("Dataset drift"), before
    view.settings.selected_index = 0
    panel = view.settings_panel
    panel.thresholds["wasserstein"].value = "5"  # no numeric feature moves five standard deviations
    panel.save.click()
    assert panel.status.value.startswith("Saved. Recomputing"), panel.status.value
    job = jobs.list_jobs(ctx, login(USER), kind=jobs.RECOMPUTE_DRIFT)[0]
    panel._stop.set()  # the test looks at the job itself, after running it here
    Runner(ctx, "test-worker").run(job.id)
    assert jobs.get_job(ctx, login(USER), job.id).state == DONE
    assert panel.check(job.id)
    assert view.verdict.value.startswith("No dataset drift in window"), view.verdict.value
    assert all(r[6] == "5" and r[7] == "no" for r in view.table.rows if r[2] == "wasserstein")
    assert view.settings_panel is panel and "stored reports recomputed" in panel.status.value
    assert panel.progress.layout.visibility == "hidden"


def test_a_threshold_outside_its_domain_is_refused_with_a_reason_and_nothing_changes(app, ctx, login, models):
    view = open_drift(app, USER)
    view.settings.selected_index = 0
    panel = view.settings_panel
    panel.thresholds["ks"].value = "1.5"
    panel.save.click()
    assert panel.status.kind == "error" and "significance level" in panel.status.value
    from vision_widgets.services import jobs

    assert jobs.list_jobs(ctx, login(USER), kind=jobs.RECOMPUTE_DRIFT) == []


def test_estimated_performance_is_computed_when_its_tab_opens_and_fed_per_window(app, ctx, login, models):
    from vision_widgets.services import estimation

    view = open_drift(app, USER)
    assert view.performance is None and view._performance_box.children == ()  # not before it is wanted
    view.time_tabs.selected_index = 1
    perf = estimation.performance_over_time(ctx, login(USER), "Fraud detection")
    assert not perf.reason
    chart = view.performance_chart
    assert view._performance_box.children == (chart.widget,)
    assert list(chart.estimated.x) == [w.label for w in view.data.windows]
    assert np.allclose(chart.estimated.y, [np.nan if v is None else v for v in perf.estimated["accuracy"]],
                       equal_nan=True)
    assert list(chart.band.y[:, 0]) == pytest.approx(list(perf.band["accuracy"]))
    # fraud's few high scores leave most pairs of a positive and a negative tied in one score bin:
    # its ROC AUC cannot be told from these windows, and the tab says so instead of drawing 0.5
    assert all(v is None for v in perf.estimated["roc_auc"])
    view.metric.value = "roc_auc"
    assert view._performance_box.children == ()
    assert view.performance_note.text.startswith("ROC AUC cannot be told in any window of this model")


def test_estimation_says_why_it_cannot_run_for_a_model_without_scores(app, ctx, login, settings):
    train, prod = write_demo_files(settings.home / "data", weekly_rows=300)
    registration.register_model(ctx, login(USER), demo_spec("No scores", train, prod, prediction=""))
    view = open_drift(app, USER)
    view.model.value = "No scores"
    view.time_tabs.selected_index = 1
    assert view.performance_note.text.startswith("Estimation cannot run for this model:")
    assert view._performance_box.children == ()


def test_the_report_of_the_window_on_show_is_offered_as_a_download(app, ctx, login, models):
    import base64
    import json
    import re

    view = open_drift(app, USER)
    view.window.value = 3
    win = view.current
    view.export_json.click()
    href = re.search(r'href="data:application/json;base64,([^"]+)"', view.export_link.value).group(1)
    report = json.loads(base64.b64decode(href))
    assert report["schema_version"] >= 1 and report["model"]["name"] == "Fraud detection"
    assert report["window"]["label"] == win.window and report["window"]["rows"] == win.rows
    assert 'download="drift-report_Fraud-detection_' in view.export_link.value
    view.export_html.click()
    assert "data:text/html;base64," in view.export_link.value and "ready" in view.export_status.value
    view.window.value = 4  # another window: the old file is gone
    assert view.export_link.value == ""


def test_the_table_shows_a_p_value_feature_as_a_score_never_as_a_multiple_of_its_threshold(app, ctx, login, models):
    # a score of 2 for a p-value is p = threshold², twenty times below a threshold of 0.05: not "2× threshold"
    view = open_drift(app, USER)
    assert view.table.columns[-1] == "Drift score"
    latest = drift_overview(ctx, login(USER), "Fraud detection").windows[-1]
    by_name = {r.feature: r for r in latest.features}
    rows = {r[0]: r for r in view.table.rows}
    p_rows = [name for name, r in by_name.items() if r.p_value is not None]
    assert p_rows, "the fraud model has a p-value feature (card_present, Z-test)"
    for name in p_rows:
        assert rows[name][8] == f"score {by_name[name].score:.2g}"
    assert not any("×" in r[8] for r in view.table.rows)
    assert "p = threshold²" in view.time_note.text and "sampling noise" in view.time_note.text


def test_a_superseded_recompute_hands_over_to_the_later_saves_job_and_the_page_reloads_when_it_ends(app, ctx, login,
                                                                                                      models):
    # The panel used to stop on "superseded": the later save's job then rewrote the reports, and the page
    # kept showing the old ones.
    import json

    from sqlalchemy import update

    from vision_widgets.core.jobs.records import DONE
    from vision_widgets.core.storage import schema
    from vision_widgets.services import drift_settings, jobs
    from vision_widgets.worker import Runner

    view = open_drift(app, USER)
    assert view.verdict.value.startswith("Dataset drift")
    view.settings.selected_index = 0
    panel = view.settings_panel
    panel.thresholds["wasserstein"].value = "4"
    panel.save.click()
    panel._stop.set()  # the test drives check() itself
    first = jobs.list_jobs(ctx, login(USER), kind=jobs.RECOMPUTE_DRIFT)[0]
    later = drift_settings.save_settings(ctx, login(USER), "Fraud detection", {"thresholds": {"wasserstein": 5.0}})
    with ctx.store.write() as conn:  # the first job ran while the later save changed the settings: superseded
        conn.execute(update(schema.jobs).where(schema.jobs.c.id == first.id).values(
            state=DONE, progress=1.0, result=json.dumps({"model": "Fraud detection", "reports": 0, "superseded": True})))
    panel.following = first.id
    assert panel.check(first.id) is False, "not the end: the later job is still to come"
    assert panel.following == later.id and "following its recompute" in panel.status.value
    assert view.verdict.value.startswith("Dataset drift"), "nothing reloaded yet"
    Runner(ctx, "test-worker").run(later.id)
    assert panel.check(panel.following)
    assert view.verdict.value.startswith("No dataset drift in window"), view.verdict.value
    assert "stored reports recomputed" in panel.status.value


@pytest.mark.parametrize("window", ["14D", "4W"])
def test_each_window_of_the_settings_gets_its_own_estimate(app, ctx, login, settings, window):
    """With the settings' window not "profiled" the stored reports' windows are merged ones (or the
    whole batch): the Performance tab puts on each the estimate of that window, not of its first week."""
    from vision_widgets.client import Profile
    from vision_widgets.core.catalog import records
    from vision_widgets.core.stats.drift import regroup_windows
    from vision_widgets.core.stats.estimation import CBPE
    from vision_widgets.services import drift_settings
    from vision_widgets.worker import Runner

    me = login(USER)
    train, prod = write_demo_files(settings.home / "data", weekly_rows=4000)  # fine score histograms per week
    registration.register_model(ctx, me, demo_spec("Fraud detection", train, prod))
    Runner(ctx, "w1").run(drift_settings.save_settings(ctx, me, "Fraud detection", {"window": window}).id)
    with ctx.store.read() as conn:
        record = records.get(conn, "Fraud detection")
        ref = records.profiles_of(conn, record.id, "reference")[-1]
        prod = records.profiles_of(conn, record.id, "production")[-1]
    est = CBPE()
    assert not est.fit(Profile.from_json(ref.body)).reason
    whole = regroup_windows(Profile.from_json(prod.body), window)
    expected = [est.estimate(p).metrics["roc_auc"] for p in (whole.windows.values() if whole.windows else [whole])]

    view = open_drift(app, USER)
    view.time_tabs.selected_index = 1
    view.metric.value = "roc_auc"  # accuracy is unknown where a score bin straddles the 0.5 threshold
    chart = view.performance_chart
    assert len(view.data.windows) == len(expected) > 0 and None not in expected
    assert list(chart.estimated.y) == pytest.approx(expected)


def test_two_batches_with_one_label_each_get_their_own_estimate(app, ctx, login, settings):
    """Batches sent under the same label (every unlabelled client submission is "client submission")
    are two windows: each gets its own estimate, with the settings' window "batch" too."""
    from vision_widgets.client import Profile
    from vision_widgets.core.catalog import records
    from vision_widgets.core.stats.estimation import CBPE
    from vision_widgets.services import drift_settings, submissions
    from vision_widgets.worker import Runner

    me = login(USER)
    train, prod = write_demo_files(settings.home / "data", weekly_rows=4000)
    registration.register_model(ctx, me, demo_spec("Fraud detection", train, prod))
    _, small = write_demo_files(settings.home / "data", "Fraud detection", "small", weekly_rows=1500)
    for path in (prod, small):
        submissions.add_production_batch(ctx, me, "Fraud detection", str(path), label="same label")
    Runner(ctx, "w1").run(drift_settings.save_settings(ctx, me, "Fraud detection", {"window": "batch"}).id)
    with ctx.store.read() as conn:
        record = records.get(conn, "Fraud detection")
        ref = records.profiles_of(conn, record.id, "reference")[-1]
        prods = records.profiles_of(conn, record.id, "production")
    est = CBPE()
    assert not est.fit(Profile.from_json(ref.body)).reason
    expected = [est.estimate(Profile.from_json(p.body)).metrics["roc_auc"] for p in prods]
    assert [p.label for p in prods] == ["initial production data", "same label", "same label"]

    view = open_drift(app, USER)
    view.time_tabs.selected_index = 1
    view.metric.value = "roc_auc"
    assert [w.label for w in view.data.windows] == ["initial production data", "same label", "same label (2)"]
    assert expected[1] != pytest.approx(expected[2])
    assert list(view.performance_chart.estimated.y) == pytest.approx(expected)


def test_the_verdict_states_the_rule_its_report_was_computed_with_until_the_recompute(app, ctx, login, models):
    """After a save and before its recompute (or when it fails) the page shows the stored report's
    verdict with that report's rule, and says the report is from earlier settings."""
    from vision_widgets.services import drift_settings
    from vision_widgets.worker import Runner

    job = drift_settings.save_settings(ctx, login(USER), "Fraud detection", {"drift_share": 0.01})
    view = open_drift(app, USER)
    assert "dataset drift needs 50%" in view.verdict_note.text
    assert "computed with earlier drift settings" in view.verdict_note.text
    Runner(ctx, "w1").run(job.id)
    view.model.value = "Secret model"
    view.model.value = "Fraud detection"  # read again
    assert "dataset drift needs 1%" in view.verdict_note.text
    assert "earlier drift settings" not in view.verdict_note.text


def test_exporting_one_of_two_batches_with_the_same_label_exports_that_batch(app, ctx, login, settings):
    """The export lists every batch (no window dropped for sharing a label) and makes the report of the
    window on show, not of the latest batch with its label."""
    import base64
    import json
    import re

    from vision_widgets.core.catalog import records
    from vision_widgets.services import drift_report, drift_settings, submissions
    from vision_widgets.worker import Runner

    me = login(USER)
    train, prod = write_demo_files(settings.home / "data", weekly_rows=600)
    registration.register_model(ctx, me, demo_spec("Fraud detection", train, prod))
    _, small = write_demo_files(settings.home / "data", "Fraud detection", "small", weekly_rows=200)
    for path in (prod, small):
        submissions.add_production_batch(ctx, me, "Fraud detection", str(path), label="same label")
    Runner(ctx, "w1").run(drift_settings.save_settings(ctx, me, "Fraud detection", {"window": "batch"}).id)
    with ctx.store.read() as conn:
        prods = records.profiles_of(conn, records.get(conn, "Fraud detection").id, "production")
    assert prods[1].rows != prods[2].rows
    _, points = drift_report.drift_timeline(ctx, me, "Fraud detection")
    assert [(p.batch, p.rows) for p in points] == [(p.label, p.rows) for p in prods]

    view = open_drift(app, USER)
    view.window.value = 1  # the first "same label" batch
    view.export_json.click()
    href = re.search(r'base64,([^"]+)"', view.export_link.value).group(1)
    data = json.loads(base64.b64decode(href))
    assert (data["window"]["batch"], data["window"]["rows"]) == ("same label", prods[1].rows)
    assert data["window"]["windows_in_all"] == 3


def test_a_metric_no_window_can_tell_is_a_sentence_not_an_empty_chart(app, ctx, login, settings):
    # fraud in 300-row weeks: too few rows score near 0.5 for the guard to keep those score bins apart
    train, prod = write_demo_files(settings.home / "data", weekly_rows=300)
    registration.register_model(ctx, login(USER), demo_spec("Small fraud", train, prod))
    view = open_drift(app, USER)
    view.model.value = "Small fraud"
    view.time_tabs.selected_index = 1
    assert view.metric.value == "accuracy"
    assert view._performance_box.children == ()
    note = view.performance_note.text
    assert note.startswith("Accuracy cannot be told in any window of this model") and "No alert" not in note
    assert "too few rows scored near 0.5" in note and note.count("too few rows") == 1  # one sentence, not one per window
    view.metric.value = "roc_auc"
    assert view._performance_box.children == (view.performance_chart.widget,)
    assert not all(np.isnan(np.asarray(view.performance_chart.estimated.y, dtype=float)))
