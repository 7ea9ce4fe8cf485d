"""The Monitoring page (admins): the platform's health now, per model, and over the last day.

Status tiles (database, worker, LLM endpoint, connectors, disk, kernels) say their status in a word
and in colour; a table gives each model's freshness against its cadence, its last drift verdict and
whether it awaits its client's metrics; a chart and a table show the recorded history.

The checks are made when the page opens, on "Check now" (which also records them), and every
``REFRESH_SECONDS`` while the page is open — by a timer thread that ends when the page is closed
(another page opened, logout, the tab gone). The worker records them every minute whether or not
the page is open, so the history has no holes. Every call goes through ``services.monitoring``,
which refuses anyone without ``VIEW_MONITORING``.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import timedelta

import ipywidgets as w

from vision_widgets.components import formatting as fmt
from vision_widgets.components import forms
from vision_widgets.components.data_grid import DataTable
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.health_chart import HealthHistoryChart
from vision_widgets.components.status_tile import StatusTile
from vision_widgets.core.monitoring import (
    CONNECTOR, DATABASE, DATABASE_SIZE, DISK, FAIL, KERNELS, LLM, OK, QUEUE, WARN, WORDS, WORKER, Check, worst,
)
from vision_widgets.core.identity.rbac import Permission, has
from vision_widgets.core.monitoring.checks import ModelHealth
from vision_widgets.services import llm_chat, monitoring
from vision_widgets.views.base import PageView, close_tree

log = logging.getLogger(__name__)

MODEL_COLUMNS = ("Model", "Freshness", "Last production data", "Cadence", "Last drift verdict", "Awaiting client metrics")
CHECK_COLUMNS = ("Checked at", "Check", "Subject", "Status", "Value", "Message")
#: How many recorded checks the table lists (newest first).
RECENT_ROWS = 300
CHECK_TITLES = {DATABASE: "Database", DATABASE_SIZE: "Database size", WORKER: "Worker", QUEUE: "Job queue",
                LLM: "LLM endpoint", CONNECTOR: "Connector", DISK: "Disk", KERNELS: "Kernels", "uptime": "Uptime",
                "model_freshness": "Model freshness", "model_drift": "Model drift"}


#: The checks the history chart draws (the database's latency, the queue's length).
CHART_CHECKS = (DATABASE, QUEUE)
#: Rows the chart may read: two checks a minute for a day, with room for "Check now" runs and several servers.
CHART_ROWS = 2 * 24 * 60 * 3


@dataclass(frozen=True)
class Loaded:
    """What one refresh read: the checks now, the chart's last day and the table's newest rows."""

    health: monitoring.Health
    recent: tuple
    chart: tuple = ()


class MonitoringView(PageView):
    """Tiles, the models' table, the history; refreshed every minute while open."""

    #: Seconds between two refreshes while the page is open (tests shorten it).
    REFRESH_SECONDS = 60.0

    def __init__(self, ctx, state, **kwargs) -> None:
        super().__init__(ctx, state, **kwargs)
        self.loaded: Loaded | None = None
        self.checked = w.Label("Checking…")
        self.checked.add_class("vision-muted")
        self.checked.layout.margin = "0 0 0 12px"
        self.overall = w.Label("")
        self.overall.add_class("vision-section-title")
        self.check_now = forms.button("Check now", icon="refresh")
        self.check_now.on_click(self._on_check_now)
        self.status = StatusMessage()
        self.tiles = {
            DATABASE: StatusTile("Database"), WORKER: StatusTile("Worker"), LLM: StatusTile("LLM endpoint"),
            CONNECTOR: StatusTile("Connectors"), DISK: StatusTile("Disk under VISION_HOME"),
            KERNELS: StatusTile("Kernels"),
        }
        tiles = w.HBox(list(self.tiles.values()))
        tiles.add_class("vision-tiles")
        self.models = DataTable(MODEL_COLUMNS, empty="No models are registered yet.", label="model health",
                                noun=("model", "models"),
                                widths={"Model": 170, "Freshness": 150, "Last production data": 170, "Cadence": 90,
                                        "Last drift verdict": 220, "Awaiting client metrics": 175})
        self.attention = w.Label("")
        self.chart = HealthHistoryChart()
        self.recent = DataTable(CHECK_COLUMNS, empty="No checks recorded in the last 24 hours yet.",
                                label="recent checks", noun=("recorded check", "recorded checks"),
                                widths={"Checked at": 130, "Check": 115, "Subject": 140, "Status": 70, "Value": 85,
                                        "Message": 420})
        # The LLM chat log, folded; its panel is built when first opened, for READ_LLM_LOG only.
        self._llm_log_box = w.VBox()
        self.llm_log = w.Accordion(children=(self._llm_log_box,), selected_index=None)
        self.llm_log.titles = ("LLM chat log: questions, look-ups and answers, and whether they are recorded",)
        self.llm_log.observe(self._on_llm_log, "selected_index")
        self.children = (
            w.HBox([self.overall], layout=w.Layout(align_items="center")),
            w.HBox([self.check_now, self.checked], layout=w.Layout(align_items="center")),
            self.status,
            tiles,
            forms.section("Models: production data against their cadence", self.attention, self.models),
            forms.section("History", self.chart.widget, w.Label("Recent checks, newest first"), self.recent),
            *((self.llm_log,) if has(self.principal, Permission.READ_LLM_LOG) else ()),
        )
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._tick, name="vision-monitoring-refresh", daemon=True)
        self.refresh()
        self._timer.start()

    # -- loading ------------------------------------------------------------------------------------
    def _load(self, record: bool = False) -> Loaded:
        read = monitoring.run_checks_now if record else monitoring.health
        health = read(self.ctx, self.principal)
        since = health.checked_at - timedelta(hours=24)
        # Two reads: every check's rows for a day (~15 a minute) overran any one limit, and the chart
        # showed the last ~8 h as "the last 24 h" (review 11, finding 8).
        chart = monitoring.history(self.ctx, self.principal, check=CHART_CHECKS, since=since, limit=CHART_ROWS)
        recent = monitoring.history(self.ctx, self.principal, since=since, limit=RECENT_ROWS)
        return Loaded(health, tuple(recent), tuple(chart))

    def refresh(self, when_busy: str = "refuse") -> None:
        """Make the checks again (in a thread: the LLM endpoint may take its timeout) and show them."""
        if self._stop.is_set():
            return
        self.run_in_background(self.status, self._load, on_done=self._show, when_busy=when_busy)

    def _on_check_now(self, _button=None) -> None:
        """Check and record; during a refresh already under way it runs right after it, not never."""
        busy = self._job is not None and self._job.is_alive()  # only for the message: queuing is under the lock
        self.status.show("Checking as soon as the refresh under way ends…" if busy else "")
        self.run_in_background(self.status, self._load, True, on_done=self._shown_after_check, when_busy="queue")

    def _shown_after_check(self, loaded: Loaded) -> None:
        self._show(loaded)
        self.status.success(f"Checked and recorded at {fmt.clock(loaded.health.checked_at)}.")

    def _tick(self) -> None:
        while not self._stop.wait(self.REFRESH_SECONDS):
            if self.state.principal is None or self.comm is None:
                return
            self.refresh(when_busy="skip")  # a refresh or a check under way already brings the page up to date

    # -- showing ------------------------------------------------------------------------------------
    def _show(self, loaded: Loaded) -> None:
        if self._stop.is_set():
            return
        self.loaded = loaded
        health = loaded.health
        failing = [CHECK_TITLES.get(c.check, c.check) for c in health.checks if c.critical and c.status == FAIL]
        self.overall.value = ("Healthy: every critical check passes (database, worker)." if health.healthy else
                              f"Unhealthy: {', '.join(failing)} failing.")
        self._show_tiles(health)
        self.models.update(_model_row(m) for m in health.models)
        late = [f"{m.name} ({m.freshness})" for m in health.models if m.status != OK]
        self.attention.value = ("Needs attention: " + "; ".join(late) + "." if late else
                                "Every model's production data is on time." if health.models else "")
        self._show_history(loaded.chart, loaded.recent)
        # Last: the browser gets the widgets one update at a time, so "Checked at" is what says the
        # whole page (tiles, models, history) now shows this check — for a reader and for a test.
        self.checked.value = (f"Checked at {fmt.when(health.checked_at)} UTC; "
                              f"refreshed every {self.REFRESH_SECONDS:.0f} s while this page is open.")

    def _show_tiles(self, health: monitoring.Health) -> None:
        def one(check: str) -> Check | None:
            found = health.of(check)
            return found[0] if found else None

        db, size = one(DATABASE), one(DATABASE_SIZE)
        if db is not None:
            self.tiles[DATABASE].set(db.status, WORDS[db.status], _ms(db.value) if db.value is not None
                                     else "unreachable", size.message if size else db.message)
        worker, queue = one(WORKER), one(QUEUE)
        if worker is not None:
            queued = f"{int(queue.value)} job(s) queued." if queue and queue.value is not None else ""
            alive = "alive" if worker.status == OK else "not running"
            self.tiles[WORKER].set(worker.status, WORDS[worker.status], alive, f"{worker.message} {queued}".strip())
        llm = one(LLM)
        if llm is not None:
            configured = llm_chat.status(self.ctx).configured  # as the LLM Chat page says it
            self.tiles[LLM].set(llm.status if configured else "neutral",
                                WORDS[llm.status] if configured else "Not configured",
                                _ms(llm.value) if llm.value is not None else "–", llm.message)
        connectors = health.of(CONNECTOR)
        counts = {s: sum(c.status == s for c in connectors) for s in (OK, WARN, FAIL)}
        trouble = [c.subject for c in connectors if c.status != OK]
        status = worst(c.status for c in connectors) if connectors else "neutral"
        self.tiles[CONNECTOR].set(
            status, WORDS.get(status, "None"), f"{counts[OK]} of {len(connectors)} OK",
            (f"{counts[WARN]} warning, {counts[FAIL]} failing: " + ", ".join(trouble[:4])
             + ("…" if len(trouble) > 4 else "")) if trouble
            else "Each connector's last test passed." if connectors else "No connector is stored.")
        disk = one(DISK)
        if disk is not None:
            self.tiles[DISK].set(disk.status, WORDS[disk.status],
                                 f"{disk.value:.1f}% free" if disk.value is not None else "–", disk.message)
        kernels = one(KERNELS)
        if kernels is None:
            self.tiles[KERNELS].set("neutral", "Not recorded", "–",
                                    "The server records its kernels every minute; none recorded yet.")
        else:
            self.tiles[KERNELS].set(kernels.status, WORDS[kernels.status],
                                    kernels.message.split(" kernel")[0] + " open",
                                    f"{kernels.message} As the server recorded it at "
                                    f"{fmt.clock(health.server_recorded_at)}.")

    def _show_history(self, chart: tuple, recent: tuple) -> None:
        oldest_first = tuple(reversed(chart))
        latency = [(r.checked_at, r.result.value) for r in oldest_first
                   if r.result.check == DATABASE and r.result.value is not None]
        queued = [(r.checked_at, r.result.value) for r in oldest_first
                  if r.result.check == QUEUE and r.result.value is not None]
        self.chart.update([t for t, _ in latency], [v for _, v in latency], [t for t, _ in queued], [v for _, v in queued])
        self.recent.update(
            (fmt.when(r.checked_at), CHECK_TITLES.get(r.result.check, r.result.check), r.result.subject or "–",
             WORDS.get(r.result.status, r.result.status), _value(r.result), r.result.message)
            for r in recent[:RECENT_ROWS])

    # -- the LLM chat log ---------------------------------------------------------------------------
    @property
    def llm_log_panel(self):
        """The LLM chat log's panel, once its fold was opened (None before)."""
        return self._llm_log_box.children[0] if self._llm_log_box.children else None

    def _on_llm_log(self, change) -> None:
        """The fold was opened: build the panel once, and read the newest entries each time."""
        from vision_widgets.views.llm_log_panel import LlmLogPanel

        if change["new"] is None:
            return
        if self.llm_log_panel is None:
            self._llm_log_box.children = (LlmLogPanel(self),)
        self.llm_log_panel.reload()

    # -- closing ------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the refresh timer, then close every widget (the figure's parts too)."""
        self._stop.set()
        self.chart.close()
        for tile in self.tiles.values():
            close_tree(tile)
        super().close()


def _model_row(m: ModelHealth) -> tuple:
    age = "never" if m.age_seconds is None else f"{fmt.duration(m.age_seconds)} ago"
    if m.dataset_drift is None:
        verdict = "no drift report yet"
    else:
        verdict = f"{'Drift' if m.dataset_drift else 'No drift'}: {fmt.share(m.drift_share, 0)} of features drifted"
    return (m.name, m.freshness, age, m.cadence or "not set", verdict, "yes" if m.awaiting_metrics else "no")


def _value(check: Check) -> str:
    if check.value is None:
        return "–"
    if check.unit == "bytes":
        return f"{check.value / 2**20:,.1f} MiB"
    if check.unit == "ms":
        return _ms(check.value)
    if check.unit == "s":
        return fmt.duration(check.value)
    if check.unit == "h":
        return fmt.duration(check.value * 3600)
    if check.unit == "share":
        return fmt.share(check.value, 0) + " drifted"
    if check.unit == "%":
        return f"{check.value:.1f}%"
    return f"{fmt.number(check.value)} {check.unit}".strip()


def _ms(value: float) -> str:
    """A latency: ``0.4 ms``, ``12 ms``, ``1.2 s``."""
    if value < 10:
        return f"{value:.1f} ms"
    return f"{value:.0f} ms" if value < 1000 else fmt.duration(value / 1000)
