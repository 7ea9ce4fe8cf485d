"""The Business Metrics page: volume, cost, utilisation and performance over a date range, as KPIs, charts,
a table and a CSV; a CSV upload of usage records; the cost rates (admins add one).

What the principal may see is read once, in the background, when the page opens or a filter (line of
business, sub-LOB, platform, model) changes (``business_metrics.load``); changing the date range or the
metric answers from memory (``business_metrics.for_range``) and only feeds the widgets, so it is quick
(``benchmarks/bench_business_metrics.py``). Every number goes through a ``Label``, a ``KPICard``, an
escaped table or a chart; model names and notes are never formatted into HTML.
"""
from __future__ import annotations

from datetime import date

import ipywidgets as w
import numpy as np

from vision_widgets.components import forms
from vision_widgets.components.charts import ESTIMATE_COLOUR, REALISED_COLOUR
from vision_widgets.components.data_grid import DataTable
from vision_widgets.components.download import download_anchor
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.kpi_card import KPICard
from vision_widgets.components.note import Note
from vision_widgets.components.progress import ProgressBar
from vision_widgets.components.safe_html import SafeTable
from vision_widgets.components.time_chart import TimeSeriesChart
from vision_widgets.core.identity.rbac import Permission, has
from vision_widgets.core.usage.metrics import HIGHER_IS_BETTER, PRESETS, BusinessMetrics, preset_range
from vision_widgets.services import business_metrics, cost_rates, usage
from vision_widgets.views.base import PageView, close_tree, unobserved

ANY = "(any)"
CUSTOM = "Custom range"
DEFAULT_PRESET = "Last 90 days"
METRIC_NAMES = {"accuracy": "Accuracy", "roc_auc": "ROC AUC", "f1": "F1", "rmse": "RMSE", "mae": "MAE"}
RATE_COLUMNS = ("Platform", "From", "Currency", "Per 1,000 predictions", "Per compute hour", "Set by")
SHARE_NAMES = {"cpu": "CPU", "memory": "memory", "gpu": "GPU"}


def _money(amounts: dict[str, float]) -> str:
    return " · ".join(f"{v:,.2f} {cur}" for cur, v in sorted(amounts.items())) or "–"


def _signed(x: float) -> str:
    return f"{x:+.1%}"


def _number(x: float) -> str:
    return f"{x:,.0f}"


class BusinessMetricsView(PageView):
    """KPIs and per-day charts of the models the principal may see, over a chosen date range."""

    def __init__(self, ctx, state, **kwargs) -> None:
        super().__init__(ctx, state, **kwargs)
        self.admin = has(self.principal, Permission.VIEW_ALL_MODELS)
        self.source: business_metrics.MetricsSource | None = None
        self.result: BusinessMetrics | None = None
        self._loaded_filters: tuple | None = None
        # -- filters --
        self.preset = forms.label(w.Dropdown(options=(*PRESETS, CUSTOM), value=DEFAULT_PRESET,
                                             layout=w.Layout(width="170px")), "Date range", "90px")
        self.start = forms.label(w.DatePicker(layout=w.Layout(width="160px")), "Start", "50px")
        self.end = forms.label(w.DatePicker(layout=w.Layout(width="160px")), "End", "40px")
        self.metric = forms.label(w.Dropdown(options=[("Accuracy", "accuracy")], value="accuracy",
                                             layout=w.Layout(width="150px")), "Performance metric", "140px")
        self.lob = forms.label(w.Dropdown(options=(ANY,), value=ANY, layout=w.Layout(width="170px")),
                               "Line of business", "120px")
        self.sub_lob = forms.label(w.Dropdown(options=(ANY,), value=ANY, layout=w.Layout(width="150px")),
                                   "Sub-LOB", "70px")
        self.platform = forms.label(w.Dropdown(options=(ANY,), value=ANY, layout=w.Layout(width="170px")),
                                    "Platform", "70px")
        self.model = forms.label(w.Dropdown(options=(ANY,), value=ANY, layout=w.Layout(width="220px")),
                                 "Model", "50px")
        self._filters = (self.lob, self.sub_lob, self.platform, self.model) if self.admin else (self.model,)
        self.status = StatusMessage()
        self.progress = ProgressBar()
        # -- what the range shows --
        self.empty = Note("")
        self.empty.add_class("vision-empty-state")
        self.empty.layout.display = "none"
        self.kpis = {key: KPICard(caption) for key, caption in (
            ("cost", "Total cost"), ("per_1k", "Cost per 1,000 predictions"), ("predictions", "Predictions"),
            ("utilisation", "Average CPU utilisation"), ("performance", "Current accuracy"))}
        self.sources = Note("", muted=True)
        self.notes = Note("", muted=True)
        self.volume_chart = TimeSeriesChart("Prediction volume per day", "predictions", slots=2,
                                            y_format=",.3~s", dashed=(1,))
        self.cost_chart = TimeSeriesChart("Cost per day", "cost", slots=4, y_format=",.2f")
        self.utilisation_chart = TimeSeriesChart("Resource utilisation (share, weighted by compute hours)",
                                                 "share of allocated", slots=3, y_format=".0%", unit_max=1.0)
        self.performance_chart = TimeSeriesChart("Accuracy over time", "accuracy", slots=2, y_format=".3f",
                                                 colours=(REALISED_COLOUR, ESTIMATE_COLOUR), zero_based=False,
                                                 unit_max=1.0, dashed=(1,))
        # The figures enter the grid only while it is shown (and leave it with the empty state): a bqplot
        # figure first laid out in a hidden box keeps a zero width ("negative width" errors, no plot).
        self._chart_widgets = tuple(c.widget for c in (self.volume_chart, self.cost_chart, self.utilisation_chart,
                                                        self.performance_chart))
        self.charts = w.GridBox(
            [],
            layout=w.Layout(width="100%", grid_template_columns="repeat(auto-fit, minmax(460px, 1fr))",
                            grid_gap="8px 16px"))
        self.table = DataTable(("Date",), empty="No day in the range.", label="Business metrics by day",
                               noun=("day", "days"))
        self.download = w.HTML("")
        self.data = w.VBox([self.kpis_row(), self.sources, self.notes, self.charts,
                            forms.section("The numbers, day by day", self.table, self.download)])
        self.data.layout.display = "none"
        # -- usage upload --
        self.upload_model = forms.label(w.Dropdown(options=(), layout=w.Layout(width="260px")), "Model")
        self.upload = w.FileUpload(accept=".csv", multiple=False, description="Choose CSV")
        self.upload_button = forms.button("Import usage", style="primary", icon="upload")
        self.upload_button.on_click(self._on_upload)
        self.upload_status = StatusMessage()
        self.upload_progress = ProgressBar()
        # -- cost rates --
        self.rates = SafeTable(RATE_COLUMNS, empty="No cost rates yet: costs are unknown until an admin sets them.")
        self.rate_status = StatusMessage()
        rate_parts: list[w.Widget] = [self.rates]
        if has(self.principal, Permission.MANAGE_COST_RATES):
            self.rate_platform = forms.label(w.Combobox(placeholder="e.g. Databricks", ensure_option=False), "Platform")
            self.rate_currency = forms.label(forms.text("ISO 4217, e.g. EUR"), "Currency")
            self.rate_per_1k = forms.label(forms.text("e.g. 0.40"), "Per 1,000 predictions")
            self.rate_per_hour = forms.label(forms.text("e.g. 3.20"), "Per compute hour")
            self.rate_from = forms.label(w.DatePicker(layout=w.Layout(width="260px")), "Effective from")
            self.rate_add = forms.button("Add rate", style="primary", icon="plus")
            self.rate_add.on_click(self._on_add_rate)
            rate_parts += [w.Label("A new rate applies from its day until the platform's next one; past days keep "
                                   "the rate they had."),
                           self.rate_platform, self.rate_currency, self.rate_per_1k, self.rate_per_hour,
                           self.rate_from, w.HBox([self.rate_add]), self.rate_status]
        else:
            rate_parts.append(self.rate_status)
        self.more = w.Accordion(children=(
            w.VBox([w.Label("Columns: timestamp, predictions, compute_hours and optionally cpu_share, memory_share, "
                            "gpu_share (0 to 1). A file with a bad line is refused whole, naming the lines."),
                    self.upload_model, w.HBox([self.upload, self.upload_button]), self.upload_progress,
                    self.upload_status]),
            w.VBox(rate_parts)))
        self.more.titles = ("Upload usage records (CSV)", "Cost rates")
        self.more.selected_index = None

        filter_row = [self.preset, self.start, self.end, self.metric]
        self.children = (
            forms.section("Range and models", w.HBox(filter_row, layout=w.Layout(flex_flow="row wrap",
                                                                                 grid_gap="6px 14px")),
                          w.HBox(list(self._filters), layout=w.Layout(flex_flow="row wrap", grid_gap="6px 14px"))),
            self.status, self.progress, self.empty, self.data, self.more,
        )
        self._set_preset_dates()
        for control in (self.preset,):
            control.observe(self._on_preset, "value")
        for control in (self.start, self.end, self.metric):
            control.observe(self._on_range, "value")
        for control in self._filters:
            control.observe(self._on_filter, "value")
        self.refresh()

    def kpis_row(self) -> w.Widget:
        return w.HBox(list(self.kpis.values()), layout=w.Layout(flex_flow="row wrap"))

    # -- loading -------------------------------------------------------------------------------
    def _filter_values(self) -> dict[str, str]:
        pick = {"lob": self.lob, "sub_lob": self.sub_lob, "platform": self.platform, "model": self.model}
        return {k: (c.value if c.value not in (ANY, None) else "") for k, c in pick.items() if c in self._filters}

    def refresh(self) -> None:
        """Read the filters' choices, the rates and the data again, then show the range."""
        choices = self.run(self.status, business_metrics.filter_choices, self.ctx, self.principal)
        if choices is not None:
            for key, control in (("lob", self.lob), ("sub_lob", self.sub_lob), ("platform", self.platform),
                                 ("model", self.model)):
                if control not in self._filters:
                    continue
                keep = control.value if control.value in choices[key] else ANY
                with unobserved(control, self._on_filter):
                    control.options = (ANY, *choices[key])
                    control.value = keep
            keep_model = self.upload_model.value if self.upload_model.value in choices["model"] else None
            self.upload_model.options = choices["model"]
            self.upload_model.value = keep_model or (choices["model"][0] if choices["model"] else None)
            if hasattr(self, "rate_platform"):
                self.rate_platform.options = tuple(choices["platform"])
        self._show_rates()
        self._load()

    def _load(self) -> None:
        filters = self._filter_values()
        self.progress.start("Reading usage, production windows and performance")
        self.run_in_background(self.status, business_metrics.load, self.ctx, self.principal, **filters,
                               on_done=lambda source: self._loaded(source, filters), bar=self.progress,
                               when_busy="queue")

    def _loaded(self, source: business_metrics.MetricsSource, filters: dict) -> None:
        self.source = source
        self._loaded_filters = tuple(sorted(filters.items()))
        metrics = source.metrics or ("accuracy",)
        keep = self.metric.value if self.metric.value in metrics else metrics[0]
        with unobserved(self.metric, self._on_range):
            self.metric.options = [(METRIC_NAMES.get(m, m), m) for m in metrics]
            self.metric.value = keep
        self.show_range()

    # -- the range ----------------------------------------------------------------------------------
    def _set_preset_dates(self) -> None:
        days = PRESETS.get(self.preset.value)
        custom = days is None
        self.start.disabled = self.end.disabled = not custom
        if not custom:
            start, end = preset_range(days, self.ctx.now().date())
            with unobserved(self.start, self._on_range), unobserved(self.end, self._on_range):
                self.start.value, self.end.value = start, end

    def _on_preset(self, _change=None) -> None:
        self._set_preset_dates()
        self.show_range()

    def _on_range(self, _change=None) -> None:
        self.show_range()

    def _on_filter(self, _change=None) -> None:
        self.status.clear()
        self._load()

    def show_range(self) -> None:
        """Compute the chosen range from what was read and feed the widgets (no database)."""
        if self.source is None:
            return
        start, end = self.start.value, self.end.value
        if not isinstance(start, date) or not isinstance(end, date):
            self.status.error("Choose both a start and an end date.")
            self._hide_range()
            return
        result = self.run(self.status, business_metrics.for_range, self.source, start, end, self.metric.value)
        if result is None:  # the message says why; the numbers of another range must not stay under it
            self._hide_range()
            return
        self.status.clear()
        self.result = result
        n = len(result.models)
        if result.empty:
            who = "your models" if not self.admin else "the models shown"
            self.empty.text = (f"No usage records, production data or performance between {start.isoformat()} and "
                               f"{end.isoformat()} for {who} ({n} model{'s' if n != 1 else ''}). "
                               "Choose a longer range, other filters, or upload usage records below."
                               if n else "No model matches: register a model or change the filters.")
            self.empty.layout.display = ""
            self.data.layout.display = "none"
            self.charts.children = ()
            return
        self.empty.layout.display = "none"
        self.data.layout.display = ""
        self._show_kpis(result)
        self._show_charts(result)
        if not self.charts.children:
            self.charts.children = self._chart_widgets
        frame = result.to_frame()
        if self.table.columns != tuple(frame.columns):
            self._replace_table(tuple(frame.columns))
        digits = [_digits(c) for c in frame.columns]
        rows = frame.astype(object).where(frame.notna(), "").itertuples(index=False)
        self.table.update([tuple(_cell(v, d) for v, d in zip(r, digits)) for r in rows])
        self.download.value = download_anchor(f"business-metrics-{start.isoformat()}-{end.isoformat()}.csv",
                                              result.to_csv(), "Download CSV", "text/csv")

    def _hide_range(self) -> None:
        self.result = None
        self.empty.layout.display = "none"
        self.data.layout.display = "none"
        self.charts.children = ()

    def _replace_table(self, columns: tuple[str, ...]) -> None:
        table = DataTable(columns, empty="No day in the range.", label="Business metrics by day", noun=("day", "days"),
                          widths={c: max(110, int(7.4 * len(c)) + 34) for c in columns})
        box = self.data.children[-1]
        box.children = tuple(table if c is self.table else c for c in box.children)
        close_tree(self.table)
        self.table = table

    def _show_kpis(self, r: BusinessMetrics) -> None:
        k = r.kpis
        span = f"the previous {(r.end - r.start).days + 1} days"
        if k.cost:
            changes = [f"{_signed(c)} {cur}" for cur in sorted(k.cost) if (c := k.cost_change(cur)) is not None]
            note = (f"{', '.join(changes)} vs {span}" if changes else f"no cost in {span}")
            if k.unknown_cost_days:
                note += f"; {k.unknown_cost_days} model-day(s) without a rate left out"
            self.kpis["cost"].set(_money(k.cost), note=note)
        else:
            self.kpis["cost"].set("unknown" if k.unknown_cost_days else "–",
                                  note="no cost rate for these platforms" if k.unknown_cost_days
                                  else "no usage records in the range")
        per = {c: v for c, v in k.cost_per_1k.items() if v is not None}
        self.kpis["per_1k"].set(" · ".join(f"{v:,.3f} {c}" for c, v in sorted(per.items())) or "–",
                                note="" if per else "needs usage records with a rate")
        windows = float(np.nansum(r.volume_windows))
        self.kpis["predictions"].set(_number(k.predictions),
                                     note=f"{_number(windows)} counted from production windows" if windows else "")
        cpu = k.utilisation.get("cpu")
        others = ", ".join(f"{SHARE_NAMES[s]} {v:.0%}" for s in ("memory", "gpu") if (v := k.utilisation.get(s)) is not None)
        self.kpis["utilisation"].set("–" if cpu is None else f"{cpu:.0%}",
                                     note=(others + f"; {k.compute_hours:,.1f} compute hours") if k.compute_hours
                                     else "needs usage records")
        name = METRIC_NAMES.get(r.metric, r.metric)
        self.kpis["performance"].set_caption(f"Current {name}")
        if k.performance is None:
            self.kpis["performance"].set("–", note="no labelled or estimated window in the range")
        else:
            parts = [f"mean of {k.performance_models} model(s)' latest window" if k.performance_models > 1
                     else "latest window"]
            if k.performance_estimated:
                parts.append(f"{k.performance_estimated} estimated (labels not in yet)")
            change = k.performance_change
            if change is not None:
                parts.insert(0, f"{change:+.3f} vs {span}" + (
                    f" ({k.performance_compared} of {k.performance_models} models had a value then)"
                    if k.performance_compared < k.performance_models else ""))
            worse = change is not None and (change < -0.02 if HIGHER_IS_BETTER.get(r.metric, True) else change > 0)
            self.kpis["performance"].set(f"{k.performance:.3f}", alert=worse, note="; ".join(parts))

    def _show_charts(self, r: BusinessMetrics) -> None:
        days, lo, hi = r.days, r.days[0], r.days[-1]
        self.volume_chart.update({"from usage records": (days, r.volume_usage),
                                  "rows of production windows (no usage records)": (days, r.volume_windows)}, lo, hi)
        self.cost_chart.update({cur: (days, v) for cur, v in sorted(r.cost.items())}, lo, hi,
                               y_label="cost (" + ", ".join(sorted(r.cost)) + ")" if r.cost else "cost",
                               title="Cost per day" if r.cost else
                               "Cost per day: unknown (no rate for these platforms)" if r.kpis.unknown_cost_days
                               else "Cost per day: no usage records in the range")
        used = any(np.isfinite(v).any() for v in r.utilisation.values())
        self.utilisation_chart.update({SHARE_NAMES[s]: (days, v) for s, v in r.utilisation.items()}, lo, hi,
                                      title="Resource utilisation (share, weighted by compute hours)" if used
                                      else "Resource utilisation: no usage records with shares in the range")
        name = METRIC_NAMES.get(r.metric, r.metric)
        self.performance_chart.unit_max = 1.0 if HIGHER_IS_BETTER.get(r.metric, True) else None
        has_perf = bool(np.isfinite(r.realised).any() or np.isfinite(r.estimated).any())
        self.performance_chart.update({"realised (labels)": (days, r.realised),
                                       "estimated (labels not in yet)": (days, r.estimated)}, lo, hi,
                                      title=f"{name} over time (mean of the models' windows)" if has_perf
                                      else f"{name}: no labelled or estimated window in the range", y_label=name)
        sources: dict[str, list[str]] = {}
        for model, source in r.volume_sources.items():
            sources.setdefault(source, []).append(model)
        self.sources.text = "Volume: " + "; ".join(f"{s}: {', '.join(ms)}" for s, ms in sorted(sources.items())) + "."
        self.notes.text = " ".join(r.notes)

    # -- rates --------------------------------------------------------------------------------------
    def _show_rates(self) -> None:
        found = self.run(self.rate_status, cost_rates.list_rates, self.ctx, self.principal)
        if found is not None:
            self.rates.update((r.platform, r.effective_from.isoformat(), r.currency, f"{r.per_1k_predictions:g}",
                               f"{r.per_compute_hour:g}", r.created_by) for r in found)

    def _on_add_rate(self, _button=None) -> None:
        self.rate_status.clear()
        rate = self.run(self.rate_status, cost_rates.set_rate, self.ctx, self.principal, self.rate_platform.value,
                        self.rate_currency.value, self.rate_per_1k.value, self.rate_per_hour.value,
                        self.rate_from.value or "")
        if rate is None:
            return
        self.rate_status.success(f"{rate.platform}: {rate.currency} {rate.per_1k_predictions:g} per 1,000 "
                                 f"predictions and {rate.per_compute_hour:g} per compute hour from "
                                 f"{rate.effective_from.isoformat()}.")
        for control in (self.rate_per_1k, self.rate_per_hour):
            control.value = ""
        self._show_rates()
        self._load()  # costs are priced when read

    # -- usage upload -------------------------------------------------------------------------------
    def _on_upload(self, _button=None) -> None:
        self.upload_status.clear()
        files = self.upload.value
        if not self.upload_model.value:
            self.upload_status.error("Choose the model the usage records belong to.")
            return
        if not files:
            self.upload_status.error("Choose a CSV file of usage records, then import it.")
            return
        content = bytes(files[0]["content"])
        self.upload.value = ()
        model = self.upload_model.value
        self.upload_progress.start("Checking the file and storing its records")

        def done(result) -> None:
            self.upload_status.success(f"{model}: {result.stored:,} record(s) stored, {result.unchanged:,} already "
                                       "present.")
            self._load()

        self.run_in_background(self.upload_status, usage.import_csv, self.ctx, self.principal, model, content,
                               on_done=done, bar=self.upload_progress, lane="upload")

    def close(self) -> None:
        super().close()
        for chart in (self.volume_chart, self.cost_chart, self.utilisation_chart, self.performance_chart):
            chart.close()


def _digits(column: str) -> int:
    """Decimals a table column is shown with (the CSV keeps every digit): counts whole, money in cents."""
    if column.startswith("predictions"):
        return 0
    if column.startswith("cost") or column == "compute hours":
        return 2
    return 3  # shares and metrics


def _cell(v: object, digits: int) -> object:
    """A number rounded for reading (still a number, so the grid sorts it as one); "" stays ""."""
    if isinstance(v, float):
        return round(v) if digits == 0 else round(v, digits)
    return v
