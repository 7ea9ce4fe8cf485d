"""The shell: login, then a left navigation built from the principal's permissions.

Layout: a header (product name, who is logged in, Log out), then a row of the navigation bar
(pages grouped: models / admin / account) and the page, under its title and one line saying what
it is for. Both come from the ``Page`` entry, the one place a page is declared.

A page's view is imported and built only when the principal opens it and may
do so (in Voila the browser can read every live widget in its kernel), and
the previous page is closed — except a page whose view says ``keep_alive``
(Model 360, the page people come back to): it is hidden, and shown again with
``resume()`` on the next visit, so coming back costs no rebuild in the kernel
and no new views (the model grid's canvas paint) in the browser. Kept views
are closed at logout and when the account's role changes. Heavy imports
happen per page, after login, which keeps the login form instant in a
preheated kernel.
"""
from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass

import ipywidgets as w

from vision_widgets.browser_session import (
    SESSION_ENDED,
    LinkTarget,
    PageRequest,
    SessionBridge,
    follow,
    link_target,
    when_requested,
)
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.nav import NavBar, NavEntry
from vision_widgets.components.notification_bell import NotificationBell
from vision_widgets.components.theme import stylesheet
from vision_widgets.core.context import Context
from vision_widgets.core.errors import SessionExpired, VisionError
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission, has
from vision_widgets.services import sessions
from vision_widgets.state import AppState
from vision_widgets.views.base import PageView, close_tree
from vision_widgets.views.login import LoginView

log = logging.getLogger(__name__)


#: Navigation groups, in order; a group is shown only when the principal has one of its pages.
MODELS, ADMIN, ACCOUNT = "Models", "Admin", "Account"
#: The page the header's bell opens.
NOTIFICATIONS = "notifications"


@dataclass(frozen=True)
class Page:
    """A navigation entry: shown only to principals with ``permission``.

    ``title`` and ``purpose`` (one line: what the page is for) head the page; ``icon`` (a Font
    Awesome name) and ``group`` place it in the navigation bar.
    """

    key: str
    title: str
    permission: Permission
    view: str  # "module:Class", imported on first open
    purpose: str = ""
    icon: str = ""
    group: str = MODELS

    def build(self, ctx: Context, state: AppState) -> PageView:
        module, _, name = self.view.partition(":")
        return getattr(importlib.import_module(module), name)(ctx, state)


#: Every page of the app, in navigation order. A page is listed only once it works.
PAGES: tuple[Page, ...] = (
    Page("models", "Model 360", Permission.VIEW_OWN_MODELS, "vision_widgets.views.model360:Model360View",
         "Your models at a glance: drift, performance and what drives each one.", "cubes", MODELS),
    Page("drift", "Drift", Permission.VIEW_OWN_MODELS, "vision_widgets.views.drift:DriftView",
         "What changed in production, feature by feature and window by window, against the training data.",
         "line-chart", MODELS),
    Page("notifications", "Notifications", Permission.VIEW_OWN_MODELS,
         "vision_widgets.views.notifications:NotificationsView",
         "What needs a look: drift, performance drops, late data, and for admins failed health checks.", "bell",
         MODELS),
    Page("register", "Register model", Permission.REGISTER_MODEL, "vision_widgets.views.register:RegisterView",
         "Add a model to monitor: its training data, its production data and its columns' roles.",
         "plus-circle", MODELS),
    Page("metrics", "Business Metrics", Permission.VIEW_OWN_MODELS,
         "vision_widgets.views.business_metrics:BusinessMetricsView",
         "Prediction volume, cost, resource use and performance over time, for your models or by line of business.",
         "bar-chart", MODELS),
    Page("chat", "LLM Chat", Permission.VIEW_OWN_MODELS, "vision_widgets.views.llm_chat:LlmChatView",
         "Ask about your model's drift, answered from its own numbers, or ask how Vision AI works.",
         "comments", MODELS),
    Page("access", "Access management", Permission.MANAGE_ACCESS, "vision_widgets.views.access:AccessView",
         "Accounts, their roles and locks, and the log of every administrative action.", "users", ADMIN),
    Page("monitoring", "Monitoring", Permission.VIEW_MONITORING, "vision_widgets.views.monitoring:MonitoringView",
         "The platform's health: database, worker, LLM endpoint, connectors, disk, kernels and each model's data.",
         "heartbeat", ADMIN),
    Page("connectors", "Connectors", Permission.MANAGE_CONNECTORS, "vision_widgets.views.connectors:ConnectorsView",
         "Where models' data lives: add, test and remove the stored connections to databases and storage.", "plug", ADMIN),
    Page("alerts", "Alert delivery", Permission.MANAGE_ALERTS, "vision_widgets.views.alerts:AlertsView",
         "Where notifications go outside the app: webhooks and e-mail per line of business, and the delivery log.",
         "paper-plane", ADMIN),
    Page("account", "My account", Permission.MANAGE_OWN_ACCOUNT, "vision_widgets.views.account:AccountView",
         "Who you are in Vision AI, and your password.", "user-circle", ACCOUNT),
)


def pages_for(principal: Principal | None) -> tuple[Page, ...]:
    """The pages this principal may open, in navigation order."""
    if principal is None:
        return ()
    return tuple(p for p in PAGES if has(principal, p.permission))


def warm_up_imports() -> threading.Thread:
    """Import the page modules (bqplot, the views) in the background once the login form is up.

    In the preheated pool this runs before anyone opens the page, so the first
    page after login does not pay for the imports; the login form never waits
    for it. Only modules are loaded: no page's widgets are built before the
    principal may open it.
    """

    def work() -> None:
        for page in PAGES:
            try:
                importlib.import_module(page.view.partition(":")[0])
            except Exception:  # noqa: BLE001 - the page will report it when opened
                log.exception("warming up %s failed", page.view)

    thread = threading.Thread(target=work, name="vision-warm-up", daemon=True)
    thread.start()
    return thread


class VisionApp(w.VBox):
    """The whole web app as one widget: ``display(VisionApp.from_environment())``."""

    def __init__(self, ctx: Context, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_class("vision-app")
        self.ctx = ctx
        self.state = AppState()
        self.view: w.Widget | None = None
        self.page: Page | None = None
        # Views kept built across page switches (PageView.keep_alive), by page key. They stay first
        # in ``body`` in a fixed order: ipywidgets re-creates a box's child views from the first
        # child that changed, so a kept view placed after a changing one would be rebuilt anyway.
        self._kept: dict[str, PageView] = {}
        self.user_label = w.Label("")
        self.user_label.add_class("vision-user")
        self.logout_button = w.Button(description="Log out", icon="sign-out", layout=w.Layout(width="auto"))
        self.logout_button.on_click(self._on_logout)
        brand = w.Label("Vision AI")
        brand.add_class("vision-brand")
        spacer = w.Box(layout=w.Layout(flex="1"))
        # The unread count, on every page; it opens the Notifications page (counted on page changes,
        # after marking read, and every 30 s while someone is logged in).
        self.bell = NotificationBell(self._unread, lambda: self.open_page(NOTIFICATIONS))
        self.header = w.HBox([brand, spacer, self.bell, self.user_label, self.logout_button])
        self.header.add_class("vision-header")
        self.nav = NavBar()
        self.nav.observe(self._on_nav, "value")
        self.page_title = w.Label("")
        self.page_title.add_class("vision-page-title")
        self.page_purpose = w.Label("")
        self.page_purpose.add_class("vision-page-purpose")
        page_head = w.VBox([self.page_title, self.page_purpose])
        page_head.add_class("vision-page-head")
        self.body = w.VBox()
        # Sessions that survive a reload, and ?page=…&model=… links (browser_session.py).
        self.bridge = SessionBridge(self.state)
        self.link_status = StatusMessage(layout=w.Layout(display="none"))  # shown when a link fails
        self._link = PageRequest()
        main = w.VBox([page_head, self.link_status, self.body])
        main.add_class("vision-main")
        self.shell = w.HBox([self.nav, main])
        self.shell.add_class("vision-shell")
        self._style = stylesheet()
        self.state.observe(self._on_principal, "principal")
        self.state.observe(self._on_page, "page")
        self.state.observe(lambda _change: self.bell.refresh(), "notifications_read")
        self._show_login()

    @classmethod
    def from_environment(cls) -> "w.Widget":
        """Build the app from the environment's settings, or a clear message if they are unusable."""
        try:
            app = cls(Context.open())
            warm_up_imports()
            when_requested(app.resume)
            return app
        except VisionError as exc:
            message = StatusMessage()
            message.error(f"Vision AI cannot start: {exc}")
            return message

    def close(self) -> None:
        """Close the app and every widget it owns, shown or not (the shell is kept while the
        login form is up, so ``close_tree`` alone would not reach it)."""
        self._drop_kept()
        self._replace_view(None)
        for widget in (self.header, self.shell, self.bridge):
            close_tree(widget)
        super().close()

    # -- login / logout ----------------------------------------------------------
    def resume(self, request: PageRequest) -> None:
        """Take this tab's request into account: resume its session, remember its page/model link."""
        self._link = request
        if self.state.principal is not None:  # logged in before the request arrived
            follow(self, self._link_target())
            return
        if request.resume_code:
            try:
                principal = sessions.resume(self.ctx, request.resume_code)
            except VisionError:
                self.state.end_session(SESSION_ENDED, kind="error")
                self._show_login()
                return
            self.state.sign_in(principal)
        elif request.session_ended:
            self.state.end_session(SESSION_ENDED, kind="error")
            self._show_login()

    def _link_target(self) -> LinkTarget:
        """Where the tab's URL leads (followed once per tab); selects its model in the state."""
        link, self._link = self._link, PageRequest()
        try:
            return link_target(self.ctx, self.state, link, tuple(p.key for p in pages_for(self.state.principal)))
        except VisionError as exc:
            return LinkTarget(problem=str(exc))

    def _on_principal(self, change) -> None:
        if change["new"] is None:
            self._show_login()
        elif change["old"] is None:
            target = self._link_target()
            self._show_shell()
            follow(self, target, built_after=True)

    def _replace_view(self, view: w.Widget | None) -> None:
        old, self.view = self.view, view
        if old is None:
            return
        if any(old is kept for kept in self._kept.values()):
            old.layout.display = "none"
        else:
            close_tree(old)

    def _drop_kept(self) -> None:
        """Close every kept view (logout, a changed role: they were built for the old account)."""
        kept, self._kept = list(self._kept.values()), {}
        if self.view is not None and any(self.view is k for k in kept):
            self.view = None
        self.body.children = tuple(c for c in self.body.children if not any(c is k for k in kept))
        for view in kept:
            close_tree(view)

    def _unread(self) -> int | None:
        """The bell's count: the account's unread notifications (None: no one, or no such page for them)."""
        principal = self.state.principal
        if principal is None or not any(p.key == NOTIFICATIONS for p in pages_for(principal)):
            return None
        from vision_widgets.services import notifications

        try:
            return notifications.unread_count(self.ctx, principal)
        except VisionError:  # an ended session: the next action says so and returns to login
            return None

    def _show_login(self) -> None:
        self.page = None
        self.bell.stop()
        self._drop_kept()
        self._replace_view(LoginView(self.ctx, self.state, remember=self.bridge.store))
        self.children = (self._style, self.bridge, self.view)
        # Nothing of the account that left stays in the hidden shell (the browser can read it).
        self.nav.set_entries(())
        self.user_label.value = ""
        self.page_title.value = self.page_purpose.value = ""

    def _show_shell(self) -> None:
        principal = self.state.principal
        self.user_label.value = f"{principal.username} · {principal.persona} · {principal.role}"
        allowed = pages_for(principal)
        self.page = None
        self._drop_kept()  # a changed role: no page stays built with the old permissions
        # The entries before the shell is shown: shown first, it would flash the previous account's
        # navigation (an admin's, after a logout in this tab) until the new entries arrived.
        self.nav.set_entries([NavEntry(p.key, p.title, p.icon, p.group) for p in allowed])
        self.bell.layout.display = "" if any(p.key == NOTIFICATIONS for p in allowed) else "none"
        self.children = (self._style, self.bridge, self.header, self.shell)
        self.open_page(allowed[0].key if allowed else None)
        self.bell.start()

    def _on_logout(self, _button=None) -> None:
        principal = self.state.principal
        if principal is not None:
            try:
                sessions.logout(self.ctx, principal)
            except Exception:  # noqa: BLE001 - leaving must work even if the database is down
                log.exception("logout failed")
        self.state.end_session("You are logged out.", kind="info")

    # -- navigation ---------------------------------------------------------------
    def _on_nav(self, change) -> None:
        if change["new"]:
            self.state.page = change["new"]

    def _on_page(self, change) -> None:
        if self.state.principal is not None and (self.page is None or change["new"] != self.page.key):
            self._open(change["new"])
            self.bell.refresh()

    def open_page(self, key: str | None) -> None:
        """Show page ``key`` if the principal may open it (a forged key opens nothing)."""
        if key == self.state.page:
            self._open(key)
        else:
            self.state.page = key or ""

    def open_model(self, name: str) -> None:
        """Show model ``name`` on the Model 360 page (deep links, notifications).

        The model is loaded by the page through the service, which refuses a model the
        principal may not see; an unknown name ends in the page's own message.
        """
        self.state.selected_model = name
        if self.page is not None and self.page.key == "models" and hasattr(self.view, "show"):
            self.view.show(name)
        else:
            self.open_page("models")

    def _open(self, key: str | None) -> None:
        principal = self.state.principal
        page = next((p for p in pages_for(principal) if p.key == key), None)
        if page is not None:
            # Check with the account as it is now: a role changed since login
            # (a demoted admin) must not get a page built with the old permissions.
            try:
                current = sessions.current(self.ctx, principal)
            except SessionExpired as exc:
                self.state.end_session(str(exc), kind="error")
                return
            if current.role != principal.role:
                self.state.principal = current  # same session: no return to login
                self._show_shell()  # navigation rebuilt for the new role
                return
        self._replace_view(None)
        kept = tuple(self._kept.values())
        self.body.children = kept
        self.link_status.clear()
        self.link_status.layout.display = "none"
        self.page = page
        self.page_title.value = page.title if page else ""
        self.page_purpose.value = page.purpose if page else ""
        if page is None:
            self.nav.value = ""
            return
        if self.nav.value != page.key:
            self.nav.value = page.key
        if page.key in self._kept:
            view = self.view = self._kept[page.key]
            view.layout.display = ""
            view.resume()
            return
        try:
            view = page.build(self.ctx, self.state)
            view.add_class(f"vision-page-{page.key}")  # a kept page stays in the body, hidden: name each
        except Exception:  # noqa: BLE001 - a broken page must not take the app down
            log.exception("building page %s failed", page.key)
            failure = StatusMessage()
            failure.error(f"The {page.title} page could not be opened; try again or tell an administrator.")
            self.view = failure
            self.body.children = (*kept, failure)
            return
        if self.state.principal is None:  # building it found the session expired: login is shown
            close_tree(view)
            return
        self.view = view
        if getattr(view, "keep_alive", False):
            self._kept[page.key] = view
            self.body.children = tuple(self._kept.values())
        else:
            self.body.children = (*kept, view)
