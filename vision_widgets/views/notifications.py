"""Notifications: what needs a look, newest first, each with its model, cause, numbers and a link.

Filters (model, kind, read or unread) ask the service again; "Open" marks the notification read and
opens its page and model (the notification's ``?page=&model=`` link, followed through the app state
as the shell follows a URL's); "Mark read" and "Mark all read" change this account's read state only,
and the header's bell counts again. Every text from a notification (model names, feature names, a
health check's message) is shown through ``Label``/``Note``, never as HTML. Admins also get the
performance rule's setting.
"""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import parse_qs

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.formatting import count, when
from vision_widgets.components.note import Note
from vision_widgets.components.safe_html import SafeTable
from vision_widgets.core.identity.rbac import Permission, has
from vision_widgets.core.notify import HEALTH, KIND_TITLES, KINDS
from vision_widgets.core.notify.rules import DEFAULT_ERROR_RISE
from vision_widgets.services import catalog, notifications
from vision_widgets.services.notifications import ALL, READ, UNREAD, Stored
from vision_widgets.views.base import PageView, close_tree, unobserved

ANY_MODEL, ANY_KIND = "(any model)", "(any kind)"
#: The most items shown at once (the newest); filters narrow the rest down.
SHOWN = 50
#: The most drifted features listed under one drift notification.
FEATURES_SHOWN = 8
PAGES = {"drift": "Drift", "models": "Model 360", "monitoring": "Monitoring"}
FEATURE_COLUMNS = ("Drifted feature", "Method", "Statistic", "Threshold", "p-value")

EMPTY = ("No notifications yet. They appear here when a production window of {whose} drifts, when its "
         "performance drops more than {drop} below the training data and outside the range expected for the "
         "window's size (for regression: its MAE or RMSE rises more than " + f"{DEFAULT_ERROR_RISE:.0%}" + "), "
         "when its production data is later "
         "than its cadence, or when a restricted model still awaits its client's metrics a day after "
         "registration{health}. The bell at the top counts the unread ones.")


def _number(x: Any) -> str:
    return "–" if x is None else f"{float(x):.3g}"


def details(item: Stored) -> str:
    """The sentence under a notification's title: its cause with its numbers."""
    body: Mapping[str, Any] = item.body
    text = str(body.get("summary") or "")
    if item.kind == "drift" and body.get("rows"):
        text += f" Window of {count(int(body['rows']), 'row')}."
    return text.strip()


def feature_rows(item: Stored) -> list[tuple[str, str, str, str, str]]:
    """A drift notification's drifted features: (feature, method, statistic, threshold, p-value)."""
    drifted = list(item.body.get("drifted") or []) if item.kind == "drift" else []
    rows = [(str(f.get("feature")), str(f.get("method")), _number(f.get("statistic")), _number(f.get("threshold")),
             "–" if f.get("p_value") is None else _p(f.get("p_value"))) for f in drifted[:FEATURES_SHOWN]]
    if len(drifted) > FEATURES_SHOWN:
        rows.append((f"… {len(drifted) - FEATURES_SHOWN} more (open the Drift page)", "", "", "", ""))
    return rows


def _p(p: Any) -> str:
    return "< 0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def target(link: str) -> tuple[str, str]:
    """``(page, model)`` of a notification's ``?page=…&model=…`` link."""
    query = parse_qs(link.lstrip("?"), keep_blank_values=False)
    return (query.get("page") or [""])[0], (query.get("model") or [""])[0]


class NotificationItem(w.HBox):
    """One notification: title, what and when, its numbers; "Open" and "Mark read"."""

    def __init__(self, item: Stored, on_open, on_read) -> None:
        super().__init__()
        self.item = item
        self.add_class("vision-notification")
        self.add_class("vision-notification-read" if item.read else "vision-notification-unread")
        self.title = w.Label(item.title)
        self.title.add_class("vision-notification-title")
        where = item.model or "Platform"
        self.meta = w.Label(f"{KIND_TITLES.get(item.kind, item.kind)} · {where} · {when(item.created_at, ' UTC')} · "
                            f"{'read' if item.read else 'unread'}")
        self.meta.add_class("vision-notification-meta")
        self.detail = Note(details(item))
        self.detail.add_class("vision-notification-detail")
        rows = feature_rows(item)
        self.features = SafeTable(FEATURE_COLUMNS)
        self.features.add_class("vision-notification-features")
        self.features.update(rows)
        self.features.layout.display = "" if rows else "none"
        page, _model = target(item.link)
        self.open = forms.button("Open", icon="external-link")
        self.open.tooltip = f"Open {PAGES.get(page, page)}" + (f" for {item.model}" if item.model else "")
        self.open.on_click(lambda _b: on_open(item))
        self.mark = forms.button("Mark read", icon="check")
        self.mark.layout.display = "none" if item.read else ""
        self.mark.on_click(lambda _b: on_read(item))
        self.children = (w.VBox([self.title, self.meta, self.detail, self.features]),
                         w.VBox([self.open, self.mark], layout=w.Layout(flex="0 0 auto")))


class NotificationsView(PageView):
    """The Notifications page (title and purpose: app.PAGES)."""

    def __init__(self, ctx, state, **kwargs) -> None:
        super().__init__(ctx, state, **kwargs)
        self.admin = has(self.principal, Permission.VIEW_ALL_MODELS)
        kinds = [k for k in KINDS if self.admin or k != HEALTH]
        self.model = w.Dropdown(options=(ANY_MODEL,), value=ANY_MODEL, layout=w.Layout(width="220px"))
        self.kind = w.Dropdown(options=((ANY_KIND, ""), *((KIND_TITLES[k], k) for k in kinds)), value="",
                               layout=w.Layout(width="220px"))
        self.show = w.ToggleButtons(options=(("All", ALL), ("Unread", UNREAD), ("Read", READ)), value=ALL,
                                    tooltip="Show", style={"button_width": "80px"})
        for control in (self.model, self.kind, self.show):
            control.observe(self._on_filter, "value")
        self.summary = w.Label("")
        self.summary.add_class("vision-muted")
        self.mark_all = forms.button("Mark all read", icon="check-square-o")
        self.mark_all.on_click(self._on_mark_all)
        self.status = StatusMessage()
        self.empty = Note("")
        self.empty.add_class("vision-empty-state")
        self.empty.layout.display = "none"
        self.list = w.VBox()
        self.items: tuple[NotificationItem, ...] = ()
        self.drop = 0.05
        filters = w.HBox([forms.label(self.model, "Model", "60px"), forms.label(self.kind, "Kind", "50px"),
                          w.Label("Show"), self.show],
                         layout=w.Layout(flex_flow="row wrap", align_items="center"))
        bar = w.HBox([self.summary, self.mark_all], layout=w.Layout(align_items="center"))
        for row in (filters, bar):
            row.add_class("vision-row")
        children = [filters, bar, self.status, self.empty, self.list]
        self.settings: w.Widget | None = None
        if has(self.principal, Permission.MANAGE_ALERTS):
            self.drop_input = w.Text(layout=w.Layout(width="120px"))
            self.save_drop = forms.button("Save", style="primary", icon="save")
            self.save_drop.on_click(self._on_save_drop)
            self.drop_status = StatusMessage()
            self.settings = w.Accordion([w.VBox([
                Note("A window whose accuracy, F1 or ROC AUC (realised, or estimated before its labels) is more than "
                     "this below the training data's raises a notification. Absolute: 0.05 is five points.",
                     muted=True),
                w.HBox([forms.label(self.drop_input, "Drop that notifies", "140px"), self.save_drop],
                       layout=w.Layout(align_items="center")),
                self.drop_status])], titles=("Settings: when performance raises a notification (every account)",),
                selected_index=None)
            children.insert(1, self.settings)
        self.children = tuple(children)
        self.refresh()

    # -- loading ------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the model choices, the setting and the list."""
        found = self.run(self.status, catalog.list_models, self.ctx, self.principal)
        if found is None:
            return
        names = tuple(sorted({s.model.name for s in found}, key=str.lower))
        with unobserved(self.model, self._on_filter):
            keep = self.model.value
            self.model.options = (ANY_MODEL, *names)
            self.model.value = keep if keep in self.model.options else ANY_MODEL
        drop = self.run(self.status, notifications.performance_drop, self.ctx, self.principal)
        if drop is not None:
            self.drop = drop
            if self.settings is not None:
                self.drop_input.value = f"{drop:g}"
        self.load()

    def _filters(self) -> dict[str, str]:
        return {"model": "" if self.model.value == ANY_MODEL else self.model.value, "kind": self.kind.value or "",
                "state": self.show.value}

    def load(self) -> None:
        """Ask the service for the list with the filters as they are, and show it."""
        filters = self._filters()
        found = self.run(self.status, notifications.list_notifications, self.ctx, self.principal, limit=SHOWN,
                         **filters)
        if found is None:
            return
        old, self.items = self.items, tuple(NotificationItem(n, self._on_open, self._on_read)
                                            for n in found.items[:SHOWN])
        self.list.children = self.items
        for item in old:
            close_tree(item)
        shown = len(self.items)
        total = found.total  # every match, not the rows fetched
        self.summary.value = (f"{count(total, 'notification')}" + (f" (the newest {shown} shown)" if total > shown else "")
                              + f" · {found.unread:,} unread in all")
        self.mark_all.disabled = found.unread == 0
        filtered = any(v for k, v in filters.items() if k != "state") or filters["state"] != ALL
        if total:
            self.empty.layout.display = "none"
        else:
            self.empty.text = ("No notifications match these filters." if filtered else
                               EMPTY.format(whose="any model" if self.admin else "one of your models",
                                            drop=f"{self.drop:g}",
                                            health=", and when a platform health check fails" if self.admin else ""))
            self.empty.layout.display = ""

    def _on_filter(self, _change=None) -> None:
        self.status.clear()
        self.load()

    # -- actions ------------------------------------------------------------------------------------
    def _read(self, ids) -> bool:
        done = self.run(self.status, notifications.mark_read, self.ctx, self.principal, ids)
        if done is None:
            return False
        self.state.notifications_read += 1
        return True

    def _on_read(self, item: Stored) -> None:
        self.status.clear()
        if self._read([item.id]):
            self.load()

    def _on_mark_all(self, _button=None) -> None:
        self.status.clear()
        done = self.run(self.status, notifications.mark_all_read, self.ctx, self.principal)
        if done is None:
            return
        self.state.notifications_read += 1
        self.load()
        self.status.success(f"Marked {count(done, 'notification')} read.")

    def _on_open(self, item: Stored) -> None:
        """Mark it read and open its page and model, as a ``?page=&model=`` link would."""
        self.status.clear()
        if not item.read and not self._read([item.id]):
            return
        page, model = target(item.link)
        if model:
            self.state.selected_model = model
        if page:
            self.state.page = page  # the shell opens it if this account may (and says nothing otherwise)

    def _on_save_drop(self, _button=None) -> None:
        self.drop_status.clear()
        drop = self.run(self.drop_status, notifications.set_performance_drop, self.ctx, self.principal,
                        self.drop_input.value)
        if drop is None:
            return
        self.drop = drop
        self.drop_input.value = f"{drop:g}"
        self.drop_status.success(f"Saved: a drop of more than {drop:g} raises a notification from the next run.")
