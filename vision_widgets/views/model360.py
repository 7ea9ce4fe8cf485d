"""Model 360: the model list (own models, or all for admins) and one model seen from every side.

Built once per page: the list, the KPI cards and the first tab are created in ``__init__``, every
other tab (its table or chart) the first time it is shown; each is then only fed new data when the
selection changes, and a tab only while it is shown.
"""
from __future__ import annotations

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.data_grid import DataTable
from vision_widgets.components.charts import (
    CoefficientChart,
    DistributionChart,
    DriftHistoryChart,
)
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.formatting import count, drift_summary, drift_verdict, metric, number, share, when
from vision_widgets.components.kpi_card import KPICard
from vision_widgets.components.safe_html import SafeTable
from vision_widgets.core.identity.rbac import Permission, has
from vision_widgets.core.stats.histograms import overlay
from vision_widgets.services import accounts, catalog, model360
from vision_widgets.views.base import PageView, close_tree, unobserved

LIST_COLUMNS = ("Model", "Owner", "Line of business", "Platform", "Status", "Drift")
FEATURE_COLUMNS = ("Feature", "Type", "Mean (training)", "Mean (production)", "Missing (production)",
                   "Drift method", "Statistic", "Drifted")
PERF_COLUMNS = ("Metric", "Training", "Production")
LABEL_COLUMNS = ("Class", "Training share", "Production share")
ANY = "(any)"
DRIVERS, DISTRIBUTIONS, HISTORY, PERFORMANCE = 1, 2, 3, 4
LATER_TABS = (DRIVERS, DISTRIBUTIONS, HISTORY, PERFORMANCE)  # built when first shown


class Model360View(PageView):
    """Model 360: the model list, one model's KPIs, metadata, tabs and owner actions (title: app.PAGES)."""

    #: The page people come back to: kept built across page switches (see app.py), so the way back
    #: keeps the filters, the open model and its tab, and costs no rebuild.
    keep_alive = True

    def __init__(self, ctx, state, **kwargs) -> None:
        super().__init__(ctx, state, **kwargs)
        self.current: model360.Model360 | None = None
        # -- the list --
        self.search = forms.text("Filter by name")
        self.search.continuous_update = False
        self.lob = w.Dropdown(options=(ANY,), value=ANY, layout=w.Layout(width="180px"))
        self.platform = w.Dropdown(options=(ANY,), value=ANY, layout=w.Layout(width="180px"))
        self.status_filter = w.Dropdown(options=(ANY,), value=ANY, layout=w.Layout(width="180px"))
        self.list_table = DataTable(LIST_COLUMNS, empty="No models match.", label="Models", noun=("model", "models"),
                                    widths={"Model": 220, "Owner": 150, "Line of business": 150, "Platform": 120,
                                            "Status": 110, "Drift": 220})
        self.list_table.on_open(self.open_model)
        self.list_status = StatusMessage()
        self.list_hint = w.Label("Click a model to open it; sort or filter from a column's header menu.")
        self.empty_state = w.VBox()  # what to do when the account has no model yet
        self.empty_state.add_class("vision-empty-state")
        self.empty_state.layout.display = "none"
        # Set while options are replaced: ipywidgets selects a transient first
        # option on its own, and observers must not load a model for it.
        self._quiet = False
        for control in (self.search, self.lob, self.platform, self.status_filter):
            control.observe(self._on_filter, "value")

        # -- the selected model --
        self.heading = w.Label("")
        self.heading.add_class("vision-section-title")
        self.demo_badge = w.Label("demo data")
        self.demo_badge.add_class("vision-demo-badge")
        self.meta = SafeTable(("Field", "Value"))
        self.kpis = {key: KPICard(caption) for key, caption in (
            ("train_rows", "Training rows"), ("prod_rows", "Production rows"), ("drift", "Drifted features"),
            ("accuracy", "Accuracy (production)"), ("auc", "ROC AUC (production)"))}
        self.labels = SafeTable(LABEL_COLUMNS, empty="No target column.")
        self.features = SafeTable(FEATURE_COLUMNS)
        # Built with their tab (``_build_tab``), the first time it is shown.
        self.performance: SafeTable | None = None
        self.performance_note: w.Label | None = None
        self.surrogate_note: w.Label | None = None
        self.feature_choice: w.Dropdown | None = None
        self.detail_status = StatusMessage()
        # Owners and admins: what they can do to the model, folded away until wanted and built when
        # opened (about 50 widgets a model switch or the first view need not send), as the Drift
        # page folds its settings. Open by itself while a restricted model awaits its first profiles:
        # its next steps point there.
        self._actions_box = w.VBox()
        self.actions = w.Accordion(children=(self._actions_box,), layout=w.Layout(display="none"))
        self.actions.titles = ("Manage this model: add data, upload tokens, delete",)
        self.actions.selected_index = None
        self.actions.observe(self._on_actions, "selected_index")
        self.awaiting = w.Label("")
        self.awaiting.add_class("vision-muted")
        self.next_steps = w.VBox()  # a model awaiting client metrics: the steps, with the downloads
        self.next_steps.layout.display = "none"
        self.data_sections = w.VBox()
        self.detail = w.VBox([
            w.HBox([self.heading, self.demo_badge], layout=w.Layout(align_items="center", grid_gap="10px")),
            w.HBox(list(self.kpis.values()), layout=w.Layout(flex_flow="row wrap")),
            forms.section("About this model", self.meta, self.awaiting, self.next_steps),
            self.data_sections,
            self.actions,
            self.detail_status,
        ])
        # One tab at a time, as drift reports usually are: the browser lays out only the open
        # tab, which keeps the first view of a model quick, and the page short. Every tab but the
        # first is *built* the first time it is shown, and fed only while it is shown: the first
        # view of the page then sends none of their widgets (~90 of ~340 with the charts) to the
        # browser, and a bqplot figure is never drawn in a hidden tab, where it has no width and
        # logs a "negative width" error per bar (see charts.py).
        self._tab_boxes = {index: w.VBox() for index in LATER_TABS}
        self._made: dict[int, CoefficientChart | DistributionChart | DriftHistoryChart] = {}
        self._stale: set[int] = set()
        self.tabs = w.Tab(children=(
            w.VBox([forms.section("Features", self.features), forms.section("Labels: class balance", self.labels)]),
            *self._tab_boxes.values(),
        ))
        self.tabs.titles = ("Features & drift", "Drivers", "Distributions", "Drift over time", "Performance")
        self.tabs.observe(self._on_tab, "selected_index")
        self.data_sections.children = (self.tabs,)
        self.detail.layout.display = "none"
        self.children = (
            forms.section(
                "Models",
                w.HBox([self.search, forms.field("Line of business", self.lob)]),
                w.HBox([forms.field("Platform", self.platform), forms.field("Status", self.status_filter)]),
                self.list_hint,
                self.list_table,
                self.empty_state,
                self.list_status,
            ),
            self.detail,
        )
        self.refresh()

    # -- the list ----------------------------------------------------------------
    def refresh(self) -> None:
        choices = self.run(self.list_status, catalog.filter_choices, self.ctx, self.principal)
        if choices is None:
            return
        self._quiet = True
        try:
            for dropdown, key in ((self.lob, "lob"), (self.platform, "platform"), (self.status_filter, "status")):
                keep = dropdown.value
                options = (ANY, *choices[key])
                dropdown.options = options
                dropdown.value = keep if keep in options else ANY
        finally:
            self._quiet = False
        self.refresh_list()

    def resume(self) -> None:
        """Shown again: reload the list (a model registered meanwhile appears), and the open model
        if its row changed (new data, a new status) or another model was asked for (a link)."""
        before = {row[0]: row for row in self.list_table.rows}
        shown = self.current.model.name if self.current is not None else None
        self.refresh()
        if self.current is not None and self.current.model.name == shown:
            row = next((r for r in self.list_table.rows if r[0] == shown), None)
            if row is not None and row != before.get(shown):
                self.show(shown)

    def _on_filter(self, _change=None) -> None:
        if not self._quiet:
            self.refresh_list()

    def _filters(self) -> dict[str, str]:
        pick = lambda d: "" if d.value in (ANY, None) else d.value  # noqa: E731
        return {"text": self.search.value, "lob": pick(self.lob), "platform": pick(self.platform),
                "status": pick(self.status_filter)}

    def refresh_list(self) -> None:
        found = self.run(self.list_status, catalog.list_models, self.ctx, self.principal, **self._filters())
        if found is None:
            return
        self.list_table.update(
            (s.model.name, s.model.owner, s.model.lob, s.model.platform, s.model.status,
             drift_summary(s.dataset_drift, s.drift_share, s.model.drift_settings.get("drift_share", 0.5)))
            for s in found
        )
        self._show_empty_state(not found and not any(self._filters().values()))
        names = tuple(s.model.name for s in found)
        wanted = self.state.selected_model
        name = wanted if wanted in names else (names[0] if names else "")
        if not name:
            self.current = None
            self.detail.layout.display = "none"
            return
        if self.current is None or self.current.model.name != name:
            self.open_model(name)

    @property
    def names(self) -> tuple[str, ...]:
        """The model names in the list, in the service's order."""
        return tuple(str(row[0]) for row in self.list_table.rows)

    def open_model(self, name: str) -> None:
        """Open model ``name`` (a row was clicked); opening the model already shown does nothing."""
        if self.current is not None and self.current.model.name == name \
                and self.detail.layout.display != "none":
            return
        self.state.selected_model = name
        self.show(name)

    # -- one model ---------------------------------------------------------------
    def show(self, name: str) -> None:
        """Load and display model ``name`` (if the principal may see it)."""
        self.detail_status.clear()
        data = self.run(self.detail_status, model360.model_360, self.ctx, self.principal, name)
        if data is None:
            return
        self.current = data
        m = data.model
        self.heading.value = m.name
        self.demo_badge.layout.display = "" if m.connector_details.get("demo") else "none"
        self.meta.update((
            ("Description", m.description or "–"), ("Task", m.task), ("Platform", m.platform or "–"),
            ("Owner", m.owner), ("Line of business", f"{m.lob} / {m.sub_lob}"), ("Status", m.status),
            ("Data", "restricted: profiled on the client's machine" if m.restricted
             else f"{m.connector} connector"),
            ("Target / prediction", f"{m.roles.get('target') or '–'} / {m.roles.get('prediction') or '–'}"),
            ("Registered", f"{when(m.created_at, ' UTC')} by {m.created_by}"),
        ))
        ref, prod, report = data.reference, data.production, data.drift
        self.kpis["train_rows"].set(count(ref.rows) if ref else "–")
        self.kpis["prod_rows"].set(count(prod.rows) if prod else "–")
        if report is not None:
            drifted, total = len(report.drifted_features), len(report.features)
            self.kpis["drift"].set(f"{drifted} of {total}", alert=report.dataset_drift,
                                   note=("Dataset drift: " if report.dataset_drift else "No dataset drift: ")
                                   + drift_verdict(drifted, total, report.threshold_share))
        else:
            self.kpis["drift"].set("awaiting data" if m.status != "active" else "–")
        self.kpis["accuracy"].set(metric(data.performance.get("accuracy")))
        self.kpis["auc"].set(metric(data.performance.get("roc_auc")))
        self._show_labels(data)
        self._show_features(data)
        self._stale = set(LATER_TABS)
        self._build_actions(data)
        # A model awaiting its first profiles has nothing to chart yet.
        self.data_sections.layout.display = "flex" if ref is not None else "none"
        self.awaiting.value = "" if ref is not None else (
            "Awaiting metrics: no profiles yet. Next steps:" if m.restricted else "No data profiled yet.")
        self._show_next_steps(data if ref is None and m.restricted else None)
        self.detail.layout.display = "flex"
        self._draw_shown_tab()

    def _show_labels(self, data: model360.Model360) -> None:
        self.labels.update((c.label, share(c.training), share(c.production)) for c in data.class_balance)

    def _show_features(self, data: model360.Model360) -> None:
        self.features.update(
            (f.feature, f.kind, number(f.mean_reference), number(f.mean_production),
             share(f.missing_share_production), f.method or "–",
             number(f.statistic) if f.statistic is not None else "–",
             "–" if f.drifted is None else ("yes" if f.drifted else "no"))
            for f in data.features
        )

    @staticmethod
    def _surrogate_note(data: model360.Model360) -> str:
        s = data.surrogate
        if s is None:
            return ("No surrogate was fitted: it needs a target or prediction column, and "
                    "both classes among the fitted training rows. Check the column roles.")
        note = f"Fitted on {count(s.rows, 'training row')}; response: {s.response}."
        if s.variance_kind == "HC0":
            note += " Robust (HC0) 95% intervals: the response is a score, not a 0/1 label."
        if not s.converged:
            note += " The fit did not converge (the classes may be separable): read the coefficients with care."
        if s.dropped:
            note += f" Left out (no variance): {', '.join(s.dropped)}."
        return note

    def _show_performance(self, data: model360.Model360) -> None:
        self.performance_note.value = data.performance_note
        metrics = (("accuracy", metric), ("precision", metric), ("recall", metric), ("f1", metric),
                   ("roc_auc", metric), ("mae", number), ("rmse", number))
        self.performance.update(
            (name.replace("_", " ").upper() if name in ("f1", "roc_auc", "mae", "rmse") else name.capitalize(),
             fmt(data.training_performance.get(name)), fmt(data.performance.get(name)))
            for name, fmt in metrics if name in data.performance or name in data.training_performance
        )

    # -- the later tabs: built when first shown, fed only while shown ---------------------------
    def _on_tab(self, _change=None) -> None:
        self._draw_shown_tab()

    def _build_tab(self, index: int) -> None:
        """Build tab ``index``'s widgets, once."""
        box = self._tab_boxes[index]
        if box.children:
            return
        if index == DRIVERS:
            self.surrogate_note = forms.muted("")
            content = forms.section("What drives the model (linear surrogate fitted on training data)",
                                    self.surrogate_note, self.coefficients.widget)
        elif index == DISTRIBUTIONS:
            self.feature_choice = w.Dropdown(options=(), layout=w.Layout(width="300px"))
            self.feature_choice.observe(self._on_feature, "value")
            content = forms.section("Feature distribution", forms.field("Feature", self.feature_choice),
                                    self.histogram.figure)
        elif index == HISTORY:
            content = forms.section("Drift over time", self.history.figure)
        else:
            self.performance = SafeTable(PERF_COLUMNS, empty="No labels in the data: performance needs the target.")
            self.performance_note = forms.muted("")
            content = forms.section("Performance", self.performance, self.performance_note)
        box.children = (content,)

    def built_tabs(self) -> set[int]:
        """The tabs built so far (each the first time it was shown)."""
        return {index for index, box in self._tab_boxes.items() if box.children}

    def _draw_shown_tab(self) -> None:
        """Build the shown tab if needed, and feed it if the model changed since it was last fed."""
        index = self.tabs.selected_index
        hidden = "none" in (self.detail.layout.display, self.data_sections.layout.display)
        if index not in self._stale or self.current is None or hidden:
            return
        self._stale.discard(index)
        self._build_tab(index)
        if index == PERFORMANCE:
            self._show_performance(self.current)
        elif index == DRIVERS:
            self.surrogate_note.value = self._surrogate_note(self.current)
            s = self.current.surrogate
            if s is not None:
                self.coefficients.update(list(s.terms), list(s.coefficients), list(s.variances))
            else:
                self.coefficients.update([], [], [])
        elif index == DISTRIBUTIONS:
            self._draw_distribution()
        elif index == HISTORY:
            series = self.current.drift_series
            self.history.update(list(series.labels), list(series.shares), series.threshold)

    def _chart(self, index: int):
        if index not in self._made:
            self._made[index] = {DRIVERS: CoefficientChart, DISTRIBUTIONS: DistributionChart,
                                 HISTORY: DriftHistoryChart}[index]()
        return self._made[index]

    @property
    def coefficients(self) -> CoefficientChart:
        return self._chart(DRIVERS)

    @property
    def histogram(self) -> DistributionChart:
        return self._chart(DISTRIBUTIONS)

    @property
    def history(self) -> DriftHistoryChart:
        return self._chart(HISTORY)

    def built_charts(self) -> set[int]:
        """The tabs whose chart exists (built the first time the tab was shown)."""
        return set(self._made)

    def close(self) -> None:
        for chart in self._made.values():
            chart.close()
        super().close()

    def _on_feature(self, _change=None) -> None:
        if self._quiet:
            return
        self._stale.add(DISTRIBUTIONS)
        self._draw_shown_tab()

    def _draw_distribution(self) -> None:
        data = self.current
        features = tuple(data.reference.columns) if data is not None and data.reference is not None else ()
        if tuple(self.feature_choice.options) != features:  # another model's columns: its first feature
            self._quiet = True
            try:
                self.feature_choice.options = features
                self.feature_choice.value = features[0] if features else None
            finally:
                self._quiet = False
        name = self.feature_choice.value
        if data is None or data.reference is None or not name:
            self.histogram.update("Distribution", [], [], [])
            return
        cur = data.production.columns.get(name) if data.production is not None else None
        o = overlay(name, data.reference.columns[name], cur)
        self.histogram.update(f"{name}: training vs production", o.labels, o.reference_share, o.current_share,
                              edges=o.edges, unit=f"{name} (feature value)")

    # -- empty states ------------------------------------------------------------------
    def _show_empty_state(self, empty: bool) -> None:
        """An account with no model yet: say what to do (register one, or whom to ask)."""
        old = self.empty_state.children
        parts: list[w.Widget] = []
        if empty:
            admins = self.run(self.list_status, accounts.administrators, self.ctx, self.principal) or ()
            ask = f"Ask an administrator ({', '.join(admins)})" if admins else "Ask an administrator"
            if has(self.principal, Permission.REGISTER_MODEL):
                parts.append(w.Label("You have no models yet. Register one: name it, point to its training data "
                                     "(or choose restricted if the data may not leave its machine), and Vision AI "
                                     "profiles it and shows its drift here."))
                register = forms.button("Register a model", style="primary", icon="plus-circle")
                register.on_click(lambda _b: setattr(self.state, "page", "register"))
                parts.append(register)
                parts.append(w.Label(f"{ask} if your model is already registered under another owner."))
            else:
                parts.append(w.Label(f"You have no models yet. {ask} to register one for you "
                                     "or to make you its owner."))
        self.empty_state.children = tuple(parts)
        self.empty_state.layout.display = "flex" if empty else "none"
        self.list_table.layout.display = "none" if empty else ""
        self.list_hint.layout.display = "none" if empty else ""
        for child in old:
            close_tree(child)

    def _show_next_steps(self, data: model360.Model360 | None) -> None:
        """A restricted model awaiting its first profiles: the exact steps, with the downloads."""
        from vision_widgets.views.client_download import ClientDownloads

        old = self.next_steps.children
        parts: list[w.Widget] = []
        if data is not None:
            m = data.model
            if data.can_manage:  # the downloads (with the token option) are in "Add data" below
                parts = [
                    w.Label("1. Download the client notebook and client.py from \"Add data\" below — the "
                            f"notebook is already filled in for {m.name}: this server's address and its "
                            "column roles — and put them beside the data."),
                    w.Label("2. Run every cell where the data lives. The data never leaves that machine: "
                            "only aggregate profiles do."),
                    w.Label("3. Send the profiles: tick \"Include a new upload token\" when you download and "
                            "the notebook sends them itself, or submit the JSON file it writes (below)."),
                ]
            else:
                parts = [
                    w.Label(f"1. Download the client notebook (filled in for {m.name}) and client.py, and put "
                            "them beside the data:"),
                    ClientDownloads(self, m.name, may_issue_token=False),
                    w.Label("2. Run every cell where the data lives: only aggregate profiles leave that "
                            "machine. 3. Ask the model's owner for an upload token, or to submit the JSON "
                            "file the notebook writes."),
                ]
        self.next_steps.children = tuple(parts)
        self.next_steps.layout.display = "flex" if parts else "none"
        for child in old:
            close_tree(child)

    # -- owner / admin actions ----------------------------------------------------------
    def _build_actions(self, data: model360.Model360) -> None:
        """Fold the owner actions for model ``data``: open (and built) if they were open on this
        same model (an action reloaded it) or the model awaits its first client profiles."""
        shown = self.model_actions
        keep_open = self.actions.selected_index == 0 and shown is not None and shown.name == data.model.name
        self._close_actions()
        awaiting = data.model.restricted and data.reference is None
        with unobserved(self.actions, self._on_actions, "selected_index"):
            self.actions.selected_index = None
        self.actions.layout.display = "" if data.can_manage else "none"
        if data.can_manage and (keep_open or awaiting):
            self.actions.selected_index = 0  # builds them (_on_actions)

    def _on_actions(self, change) -> None:
        """The section was opened: build the actions for the model on show (once)."""
        from vision_widgets.views.model_actions import ModelActions  # only for owners and admins

        data = self.current
        if change["new"] != 0 or data is None or not data.can_manage or self.model_actions is not None:
            return
        self._actions_box.children = (ModelActions(self, data),)

    def _close_actions(self) -> None:
        old = self._actions_box.children
        self._actions_box.children = ()
        for child in old:
            close_tree(child)

    @property
    def model_actions(self):
        """The owner actions on show (None: folded and not built yet, or not the principal's to use)."""
        return self._actions_box.children[0] if self._actions_box.children else None

    def forget(self, name: str) -> None:
        """After model ``name`` was deleted: say so above the list, and reload the list without it."""
        self.state.selected_model = ""
        self.current = None
        self.detail.layout.display = "none"
        self.refresh()
        self.list_status.success(f"{name} was deleted; it is no longer in the list.")

    def reload(self, name: str, message: str) -> None:
        """After the data behind model ``name`` changed in this tab: refresh the list's row (status,
        drift) and the model's page, and confirm ``message`` on the page."""
        self.refresh()
        self.show(name)
        self.detail_status.success(message)
