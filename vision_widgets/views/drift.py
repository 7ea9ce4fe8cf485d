"""Drift: one model's drift per feature and over time, window by window.

Read top to bottom: which model and window; the verdict in words; the features of that window
(drifted first); the selected feature's distribution against training; every window over time;
label and prediction shift apart. The model is loaded once (``services.drift_page``); a change of
window, feature or drawn features is answered from memory and only feeds the marks.

Charts are fed only while shown: a bqplot figure updated while hidden has no width and logs a
"negative width" error per bar (charts.py). The data sections are hidden for an empty state and
their charts marked stale, then drawn when the sections are shown again.
"""
from __future__ import annotations

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.charts import DistributionChart, MultiLineChart, PerformanceChart, ShareChart
from vision_widgets.components.data_grid import DataTable
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.formatting import count, drift_rule, number, share, when
from vision_widgets.components.kpi_card import KPICard
from vision_widgets.components.note import Note
from vision_widgets.components.safe_html import SafeTable
from vision_widgets.core.identity.rbac import Permission, has
from vision_widgets.components.download import download_anchor
from vision_widgets.services import catalog, drift_page, drift_report, drift_settings, estimation
from vision_widgets.services.drift_page import SCORE_CAP, DriftOverview
from vision_widgets.views.base import PageView, close_tree, unobserved

FEATURE_COLUMNS = ("Feature", "Type", "Method", "Statistic", "p-value", "PSI", "Threshold", "Drifted",
                   "Drift score")
SHIFT_COLUMNS = ("What", "Column", "Method", "Statistic", "p-value", "Threshold", "Drifted")
STAT_COLUMNS = ("Statistic", "Training", "This window")
ANY = "(any line of business)"
METRICS = (("Accuracy", "accuracy"), ("Precision", "precision"), ("Recall", "recall"), ("F1", "f1"),
           ("ROC AUC", "roc_auc"))
FEATURE_DRIFT, PERFORMANCE = 0, 1  # the tabs of "Over time"


def _p(p: float | None) -> str:
    if p is None:
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _past(score: float) -> str:
    """The drift score as a table reads it: ``score 2.4`` (1 = at the threshold).

    Not "2.4× threshold": for a p-value the score is log(p) / log(threshold), so a score of 2 is
    a p-value of threshold², many times smaller than the threshold, not twice it.
    """
    return f"score {score:.2g}" if score < 100 else "score > 100"


class DriftView(PageView):
    """The Drift page (title and purpose: app.PAGES)."""

    def __init__(self, ctx, state, **kwargs) -> None:
        super().__init__(ctx, state, **kwargs)
        self.data: DriftOverview | None = None
        self.admin = has(self.principal, Permission.VIEW_ALL_MODELS)
        # -- choosing --
        self.lob = w.Dropdown(options=(ANY,), value=ANY, layout=w.Layout(width="240px"))
        self.model = w.Dropdown(options=(), layout=w.Layout(width="300px"))
        self.window = w.Dropdown(options=(), layout=w.Layout(width="360px"))
        forms.label(self.lob, "Line of business")
        forms.label(self.model, "Model", width="70px")
        forms.label(self.window, "Window", width="70px")
        self.lob.observe(self._on_lob, "value")
        self.model.observe(self._on_model, "value")
        self.window.observe(self._on_window, "value")
        self.status = StatusMessage()
        choose = [self.model, self.window]
        if self.admin:
            choose.insert(0, self.lob)
        self.pickers = w.HBox(choose, layout=w.Layout(flex_flow="row wrap", grid_gap="8px", align_items="center"))
        self.empty = Note("")
        self.empty.add_class("vision-empty-state")
        self.empty.layout.display = "none"
        # -- the verdict --
        self.verdict = w.Label("")
        self.verdict.add_class("vision-section-title")
        self.verdict_note = Note("", muted=True)
        self.kpis = {key: KPICard(caption) for key, caption in (
            ("drifted", "Drifted features"), ("share", "Share drifted"), ("rows", "Rows in window"),
            ("target", "Label shift"), ("prediction", "Prediction shift"))}
        # -- export: the report of the window on show, as a file the browser saves --
        self.export_html = forms.button("Export HTML report", icon="download")
        self.export_json = forms.button("Export JSON", icon="download")
        self.export_html.on_click(lambda _b: self._export("html"))
        self.export_json.on_click(lambda _b: self._export("json"))
        self.export_link = w.HTML("")
        self.export_status = StatusMessage()
        # -- the window's features --
        self.table = DataTable(FEATURE_COLUMNS, empty="No feature was tested in this window.",
                               label="Feature drift", noun=("feature", "features"),
                               widths={"Feature": 200, "Type": 95, "Method": 110, "Statistic": 85, "p-value": 75,
                                       "PSI": 70, "Threshold": 95, "Drifted": 70, "Drift score": 125})
        self.table.on_open(self.select_feature)
        self.table_hint = w.Label("Drifted features first, the furthest past the threshold at the top. "
                                  "Click a feature to see its distribution below.")
        self.table_hint.add_class("vision-muted")
        # -- the selected feature --
        self.feature_title = w.Label("")
        self.feature_title.add_class("vision-section-title")
        self.distribution = DistributionChart()
        self.feature_stats = SafeTable(STAT_COLUMNS)
        self.feature_stats.layout.max_width = "520px"
        self.feature_note = Note("", muted=True)
        self._distribution_box = w.VBox()
        # -- over time --
        self.drawn = w.SelectMultiple(options=(), rows=6, layout=w.Layout(width="300px"))
        forms.label(self.drawn, "Features drawn", width="110px")
        self.drawn.observe(self._on_drawn, "value")
        self.over_time = MultiLineChart("Drift score per window (1 = the feature's threshold)",
                                        y_label="drift score", cap=SCORE_CAP)
        self.shares = ShareChart()
        self._time_box = w.VBox()
        self.time_note = Note("The drift score puts every method on one scale: the statistic over its threshold "
                              "for a distance, log(p) over log(threshold) for a p-value (a score of 2 is p = threshold², "
                              "not twice the threshold), the statistic over the band's edge with a data-driven "
                              "band, so 1 is the line a feature drifts at. Scores above "
                              f"{SCORE_CAP:g} are drawn at {SCORE_CAP:g}; red rings mark the windows where a "
                              "feature (or the dataset) drifted. A Jensen–Shannon point above the line without "
                              "a ring is within sampling noise for its sample sizes, so not drifted.", muted=True)
        # -- estimated performance --
        self.metric = w.Dropdown(options=METRICS, value="accuracy", layout=w.Layout(width="200px"))
        forms.label(self.metric, "Metric", width="60px")
        self.metric.observe(self._on_metric, "value")
        self.performance_chart = PerformanceChart()
        self._performance_box = w.VBox()
        self.performance_note = Note("", muted=True)
        self.performance: estimation.PerformanceSeries | None = None
        self.performance_status = StatusMessage()
        # -- target and prediction --
        self.shift_table = SafeTable(SHIFT_COLUMNS, empty="The model has no target or prediction column.")
        self.shift_note = Note("", muted=True)
        # One tab at a time: a chart enters its tab's box, and is fed, only while the tab is shown.
        self.time_tabs = w.Tab(children=(
            w.VBox([self.drawn, self._time_box, self.time_note]),
            w.VBox([self.metric, self.performance_status, self._performance_box, self.performance_note]),
        ))
        self.time_tabs.titles = ("Feature drift", "Performance")
        self.time_tabs.observe(self._on_time_tab, "selected_index")
        self.sections = w.VBox([
            w.VBox([self.verdict, self.verdict_note,
                    w.HBox(list(self.kpis.values()), layout=w.Layout(flex_flow="row wrap")),
                    w.HBox([self.export_html, self.export_json, self.export_link],
                           layout=w.Layout(align_items="center", grid_gap="8px")),
                    self.export_status]),
            forms.section("Features in this window", self.table_hint, self.table),
            forms.section("Selected feature", self.feature_title, self._distribution_box, self.feature_stats,
                          self.feature_note),
            forms.section("Over time", self.time_tabs),
            forms.section("Target and prediction (label shift and prediction shift)", self.shift_note,
                          self.shift_table),
        ])
        # Owners and admins: the settings, folded away until wanted (built when opened, for them only).
        self._settings_box = w.VBox()
        self.settings = w.Accordion(children=(self._settings_box,), layout=w.Layout(display="none"))
        self.settings.titles = ("Drift settings: methods, thresholds, dataset share, windows",)
        self.settings.selected_index = None
        self.settings.observe(self._on_settings, "selected_index")
        self.sections.layout.display = "none"
        self.feature = ""  # the selected feature
        self.performance_model = ""  # the model ``performance`` belongs to
        self._stale = False  # the charts wait for the sections to be shown
        self.children = (self.pickers, self.status, self.empty, self.sections, self.settings)
        self.refresh()

    # -- the model list -----------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the models the principal may see (and the line-of-business filter for admins)."""
        if self.admin:
            choices = self.run(self.status, catalog.filter_choices, self.ctx, self.principal)
            if choices is None:
                return
            with unobserved(self.lob, self._on_lob):
                keep = self.lob.value
                self.lob.options = (ANY, *choices["lob"])
                self.lob.value = keep if keep in self.lob.options else ANY
        self._list_models()

    def _list_models(self) -> None:
        lob = "" if self.lob.value in (ANY, None) else self.lob.value
        found = self.run(self.status, catalog.list_models, self.ctx, self.principal, lob=lob)
        if found is None:
            return
        names = tuple(s.model.name for s in found)
        wanted = self.state.selected_model
        name = wanted if wanted in names else (names[0] if names else None)
        with unobserved(self.model, self._on_model):
            self.model.options = names
            self.model.value = name
        if name is None:
            self.data = None
            self.settings.layout.display = "none"
            self._show_empty("No models to show here yet." + (
                " Choose another line of business." if lob else
                " Register a model (Register model) or ask an administrator to make you a model's owner."))
            return
        if self.data is None or self.data.model.name != name:
            self.show(name)

    def _on_lob(self, _change=None) -> None:
        self._list_models()

    def _on_model(self, change) -> None:
        if change["new"]:
            self.show(change["new"])

    # -- one model ------------------------------------------------------------------------------
    def show(self, name: str) -> None:
        """Load model ``name`` (if the principal may see it) and show its latest window."""
        self.status.clear()
        data = self.run(self.status, drift_page.drift_overview, self.ctx, self.principal, name)
        if data is None:
            return
        self.data = data
        self.state.selected_model = data.model.name
        if self.model.value != data.model.name and data.model.name in self.model.options:
            with unobserved(self.model, self._on_model):
                self.model.value = data.model.name
        several = len({win.profile_id for win in data.windows}) > 1  # name the batch only if it tells apart
        with unobserved(self.window, self._on_window):
            self.window.options = tuple(
                (f"{win.label} · {count(win.rows, 'row')}" + (" · dataset drift" if win.dataset_drift else "")
                 + (f" · {win.batch}" if several and win.window is not None else ""), win.index)
                for win in data.windows)
            self.window.value = data.windows[-1].index if data.windows else None
        self._build_settings(data)
        if data.empty_reason:
            self._show_empty(data.empty_reason)
            return
        with unobserved(self.drawn, self._on_drawn):
            self.drawn.options = data.features
            self.drawn.value = data.top_features()
        self.empty.layout.display = "none"
        self.sections.layout.display = "flex"
        self._stale = True
        self.performance = None
        self._show_window(select_top=True)

    def _build_settings(self, data: DriftOverview) -> None:
        """The folded settings section for an owner or admin of a model with a training profile.

        The panel itself is built when the section is opened (reading the settings costs a pass
        over the stored profiles, which a model switch should not pay).
        """
        current = self.settings_panel
        if current is not None and current.model == data.model.name and data.can_manage:
            return  # the same model reloaded (after a save): keep the panel and what it says
        old = self._settings_box.children
        self._settings_box.children = ()
        for child in old:
            close_tree(child)
        allowed = data.can_manage and data.reference is not None
        with unobserved(self.settings, self._on_settings, "selected_index"):
            self.settings.selected_index = None
        self.settings.layout.display = "" if allowed else "none"

    def _on_settings(self, change) -> None:
        """The settings section was opened: build its panel for the model on show (once)."""
        from vision_widgets.views.drift_settings_panel import DriftSettingsPanel

        data = self.data
        if change["new"] is None or data is None or not data.can_manage or self.settings_panel is not None:
            return
        view = self.run(self.status, drift_settings.get_settings, self.ctx, self.principal, data.model.name)
        if view is not None and view.can_edit:
            name = data.model.name
            self._settings_box.children = (DriftSettingsPanel(self, name, view,
                                                              on_recomputed=lambda: self.show(name)),)

    @property
    def settings_panel(self):
        """The settings panel on show (None: this principal may not change the model)."""
        return self._settings_box.children[0] if self._settings_box.children else None

    def _show_empty(self, reason: str) -> None:
        self.empty.text = reason
        self.empty.layout.display = "flex"
        self.sections.layout.display = "none"
        self.window.layout.display = "none" if self.data is None or not self.data.windows else ""

    # -- one window -----------------------------------------------------------------------------
    def _on_window(self, change) -> None:
        if change["new"] is not None and self.data is not None:
            self._show_window(select_top=False)

    @property
    def current(self):
        """The window on show (None without data)."""
        if self.data is None or not self.data.windows or self.window.value is None:
            return None
        return self.data.window(self.window.value)

    def _show_window(self, select_top: bool) -> None:
        data, win = self.data, self.current
        self.window.layout.display = ""
        self.export_link.value = ""  # a file made for another window or model
        self.export_status.clear()
        if win is None:
            return
        rows = win.sorted_features()
        drifted, total = len(win.drifted), len(win.features)
        if win.empty or not total:
            self.verdict.value = f"Window {win.label}: no data"
            self.verdict_note.text = ("This window holds no production rows, so nothing was compared. "
                                      "Pick another window.")
        else:
            self.verdict.value = (f"{'Dataset drift' if win.dataset_drift else 'No dataset drift'} in window "
                                  f"{win.label}: {drifted} of {total} features drifted")
            self.verdict_note.text = (
                f"{share(win.drift_share, 0)} of the features drifted; {drift_rule(win.threshold_share)}. "
                f"Latest production data arrived {when(data.latest_at, ' UTC')}"
                f" (batch “{data.windows[-1].batch}”). This window: batch “{win.batch}”, received "
                f"{when(win.received, ' UTC')}."
                + (" This window's report was computed with earlier drift settings: the recompute with the "
                   "saved ones has not finished, or failed." if data.stale(win) else ""))
        self.kpis["drifted"].set(f"{drifted} of {total}", alert=win.dataset_drift,
                                 note=", ".join(win.drifted[:3]) + (" …" if drifted > 3 else ""))
        self.kpis["share"].set(share(win.drift_share, 0), alert=win.dataset_drift,
                               note=f"dataset drift at {share(win.threshold_share, 0)}")
        self.kpis["rows"].set(count(win.rows))
        self.table.update((r.feature, r.type, r.method, number(r.statistic), _p(r.p_value), number(r.psi),
                           number(r.threshold), "yes" if r.drifted else "no", _past(r.score)) for r in rows)
        self._show_shifts()
        if select_top or self.feature not in data.features:
            self.feature = rows[0].feature if rows else (data.features[0] if data.features else "")
        self._draw(time=self._stale)

    def _show_shifts(self) -> None:
        shifts = self.run(self.status, self.data.shifts, self.window.value) or ()
        rows, notes = [], []
        for s in shifts:
            what = "Target (label shift)" if s.role == "target" else "Prediction (prediction shift)"
            r = s.result
            if r is None:
                rows.append((what, s.column, "–", "–", "–", "–", "–"))
                notes.append(s.reason)
            else:
                rows.append((what, s.column, r.method, number(r.statistic), _p(r.p_value), number(r.threshold),
                             "yes" if r.drifted else "no"))
            card = self.kpis[s.role]
            card.set("–" if r is None else ("yes" if r.drifted else "no"), alert=bool(r and r.drifted),
                     note=f"{s.column}" + ("" if r is None else f" · {r.method}"))
        for role in ("target", "prediction"):
            if not any(s.role == role for s in shifts):
                self.kpis[role].set("–", note="no column")
        self.shift_table.update(rows)
        self.shift_note.text = " ".join(dict.fromkeys(notes)) or (
            "Label shift: the target's class balance against training. Prediction shift: the model's outputs "
            "against training. Both are tested apart from the features.")

    def _export(self, fmt: str) -> None:
        """Make the report of the model and window on show, and offer it as a download (a data: link)."""
        data, win = self.data, self.current
        if data is None or win is None:
            return
        label = win.window if win.window is not None else win.batch
        make = drift_report.export_html if fmt == "html" else drift_report.export_json
        # The window by what identifies it (its batch and time window): labels repeat across batches.
        content = self.run(self.export_status, make, self.ctx, self.principal, data.model.name, win.window,
                           win.profile_id)
        if content is None:
            return
        name = drift_report.filename(data.model.name, label, fmt)
        mime = "text/html" if fmt == "html" else "application/json"
        self.export_link.value = download_anchor(name, content, f"Save {name}", mime)
        self.export_status.success(f"The {fmt.upper()} report of window {win.label} is ready "
                                   f"({len(content) / 1024:.0f} KiB): click the link to save it.")

    # -- one feature ------------------------------------------------------------------------------
    def select_feature(self, name: str) -> None:
        """Show feature ``name`` (a row was clicked); an unknown name is ignored."""
        if self.data is None or name not in self.data.features or name == self.feature:
            return
        self.feature = name
        self._draw(time=False)

    def _on_drawn(self, _change=None) -> None:
        self._stale = True
        self._draw(time=True, feature=False)

    # -- charts -----------------------------------------------------------------------------------
    def _draw(self, time: bool, feature: bool = True) -> None:
        """Feed the charts (only while the sections are shown; otherwise they wait)."""
        if self.data is None or self.sections.layout.display == "none" or self.current is None:
            self._stale = True
            return
        if feature:
            self._draw_feature()
        if time:
            self._draw_time()
            self._stale = False

    def _draw_feature(self) -> None:
        data, win, name = self.data, self.current, self.feature
        if self.distribution.figure not in self._distribution_box.children:
            self._distribution_box.children = (self.distribution.figure,)
        d = self.run(self.status, data.distribution, win.index, name) if name else None
        result = next((f for f in win.features if f.feature == name), None)
        self.feature_title.value = name + (f" — {'drifted' if result.drifted else 'not drifted'} "
                                           f"({result.method}, {_past(result.score)})" if result else "")
        if d is None:
            self.distribution.update(f"{name}: no distribution for this window", [], [], [])
            self.feature_stats.update(())
            self.feature_note.text = "This window has no values of this feature to compare."
            return
        self.distribution.update(f"{name}: training vs {win.label}", d.labels, d.reference_share, d.current_share,
                                 edges=d.edges, unit=f"{name} (feature value)")
        self.feature_stats.update((s.name, s.training, s.production) for s in d.stats)
        notes = []
        if d.unseen:
            notes.append(f"Only in this window, not in training: {', '.join(d.unseen)}.")
        if d.vanished:
            notes.append(f"In training, absent from this window: {', '.join(d.vanished)}.")
        if "(other)" in d.labels:
            notes.append("(other) pools values with too few rows to publish on their own (privacy guard).")
        if result is not None and result.note:
            notes.append(f"Note on the test: {result.note}.")
        self.feature_note.text = " ".join(notes)

    def _on_time_tab(self, _change=None) -> None:
        self._stale = True
        self._draw(time=True, feature=False)

    def _on_metric(self, _change=None) -> None:
        self._draw(time=True, feature=False)

    def _draw_time(self) -> None:
        if self.time_tabs.selected_index == PERFORMANCE:
            self._draw_performance()
        else:
            self._draw_feature_drift()

    def _draw_performance(self) -> None:
        """Estimated (CBPE) vs realised per window, computed the first time the tab is opened for a model."""
        data = self.data
        if self.performance is None or self.performance_model != data.model.name:
            self.performance_status.clear()
            self.performance = self.run(self.performance_status, estimation.performance_over_time, self.ctx,
                                        self.principal, data.model.name)
            self.performance_model = data.model.name
        perf = self.performance
        if perf is None:
            return
        if perf.reason:
            self._performance_box.children = ()
            self.performance_note.text = f"Estimation cannot run for this model: {perf.reason}"
            return
        metric = self.metric.value
        # Matched on what identifies a window (its stored batch and time window), never its label:
        # two batches may share a label.
        at = {key: i for i, key in enumerate(perf.keys)}
        index = [at.get((win.profile_id, win.window)) for win in data.windows]

        def aligned(values):
            return [values[i] if i is not None and i < len(values) else None for i in index]

        alerts = aligned(perf.alerts.get(metric, ()))
        estimated, realised = aligned(perf.estimated.get(metric, ())), aligned(perf.realised.get(metric, ()))
        name = dict((v, k) for k, v in METRICS)[metric]
        if all(v is None for v in estimated + realised):  # a sentence, not an empty chart
            self._performance_box.children = ()
            self.performance_note.text = " ".join(part for part in (
                f"{name} cannot be told in any window of this model, estimated or realised.", *perf.notes,
                "Choose ROC AUC above: it does not depend on the decision threshold." if metric != "roc_auc" else "")
                if part)
            return
        if self.performance_chart.widget not in self._performance_box.children:
            self._performance_box.children = (self.performance_chart.widget,)
        self.performance_chart.update([win.label for win in data.windows], estimated, realised, perf.band.get(metric),
                                      [bool(a) for a in alerts], name)
        out = [data.windows[i].label for i, a in enumerate(alerts) if a]
        band = perf.band.get(metric)
        parts = [("Estimated from the scores alone (confidence-based, as NannyML's CBPE): it assumes the "
                  "calibration learnt on training still holds (no concept drift). Realised where labels exist.")]
        if band:
            parts.append(f"Reference band {band[0]:.3f}–{band[1]:.3f} ({perf.band_source}).")
        missing = sum(v is None for v in estimated)
        parts.append(f"Alert: the estimate leaves the band in {', '.join(out)}." if out
                     else "No alert: every estimate is inside the band." if not missing
                     else f"No alert where there is an estimate; {missing} of {len(estimated)} windows have none.")
        parts.extend(perf.notes[:3])
        self.performance_note.text = " ".join(parts)

    def _draw_feature_drift(self) -> None:
        data = self.data
        if self.over_time.widget not in self._time_box.children:
            self._time_box.children = (self.over_time.widget, self.shares.widget)
        labels, shares, verdicts = data.share_series()
        picked = self.drawn.value
        series = {f: data.series(f) for f in picked}
        self.over_time.update(labels, {f: s.scores for f, s in series.items()},
                              {f: s.drifted for f, s in series.items()}, threshold=1.0)
        self.shares.update(labels, shares, data.threshold_share, verdicts)
