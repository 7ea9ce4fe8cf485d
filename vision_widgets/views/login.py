"""The login page: username, password, and a clear message when it fails."""
from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Callable

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.core.context import Context
from vision_widgets.core.errors import AuthenticationError, VisionError
from vision_widgets.services import sessions
from vision_widgets.state import AppState
from vision_widgets.views.base import UNEXPECTED, close_tree

log = logging.getLogger(__name__)

#: How long Enter waits for the field's value. The fields send their value once, when it is committed
#: (``continuous_update=False``: on Enter, Tab or a click elsewhere), in the same browser task as the
#: Enter ("submit") event, so the value is at most a message behind it. Keystroke by keystroke, the
#: browser would hold every update after the first until the kernel acknowledged that one, while the
#: submit event went at once: on a busy server a fast typist's Enter overtook the password's last
#: characters by more than any fixed wait (seen in the keyboard-only e2e test under load).
ENTER_SETTLE_SECONDS = 0.15


class LoginView(w.VBox):
    """Log in; on success the app state gets the principal and the shell takes over.

    ``remember(code)``, when given, receives a single-use code the browser exchanges for its
    session cookie (``browser_session.SessionBridge.store``), so a reload keeps the session.
    """

    def __init__(self, ctx: Context, state: AppState, remember: Callable[[str], None] | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.ctx = ctx
        self.state = state
        self.remember = remember
        title = w.Label("Vision AI")
        title.add_class("vision-login-title")
        subtitle = w.Label("Model monitoring — log in to see your models.")
        subtitle.add_class("vision-muted")
        self.username = forms.text("Username", continuous_update=False)
        self.password = forms.password("Password", continuous_update=False)
        self.submit = forms.button("Log in", style="primary", icon="sign-in")
        self.status = StatusMessage()
        if state.notice:
            self.status.show(state.notice, state.notice_kind)
        self.submit.on_click(self._on_submit)
        # Enter in either field submits, as in any login form. ipywidgets 8 still sends the
        # "submit" event; only its Python hook is marked deprecated.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.username.on_submit(self._on_enter)
            self.password.on_submit(self._on_enter)
        self.children = (
            title,
            subtitle,
            forms.field("Username", self.username),
            forms.field("Password", self.password),
            self.submit,
            self.status,
        )
        self.add_class("vision-card")
        self.add_class("vision-login")

    def _on_enter(self, _widget=None) -> None:
        """Enter in a field: submit once the field's last keystrokes have arrived."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (headless tests, scripts): nothing can be in flight
            self._on_submit()
            return
        loop.call_later(ENTER_SETTLE_SECONDS, self._submit_if_shown)

    def _submit_if_shown(self) -> None:
        if self.comm is not None and self.state.principal is None:
            self._on_submit()

    def _on_submit(self, _button=None) -> None:
        username, password = self.username.value.strip(), self.password.value
        # The password is a synced trait the browser can read back: clear it
        # after every attempt, successful or not.
        self.password.value = ""
        try:
            if not username or not password:
                raise AuthenticationError("Enter your username and password.")
            if self.remember is None:
                principal, code = sessions.login(self.ctx, username, password), ""
            else:
                principal, code = sessions.login_for_browser(self.ctx, username, password)
        except VisionError as exc:
            self.status.error(str(exc))
            return
        except Exception:  # noqa: BLE001 - e.g. the database is unreachable
            log.exception("login failed unexpectedly")
            self.status.error(UNEXPECTED)
            return
        self.status.clear()
        if code:
            self.remember(code)
        self.state.sign_in(principal)

    def close(self) -> None:
        for child in self.children:
            close_tree(child)
        super().close()
