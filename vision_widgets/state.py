"""The web app's shared state: a ``HasTraits``, not a widget, so none of it syncs to the browser.

Views observe these traits; nothing else is shared between them. The
principal lives here (never in a widget trait) because in Voila the browser
can read the state of every live widget.
"""
from __future__ import annotations

from traitlets import HasTraits, Instance, Int, Unicode

from vision_widgets.core.identity.principal import Principal


class AppState(HasTraits):
    """Who is logged in, which page and model they look at, and what the login page should say."""

    principal = Instance(Principal, allow_none=True)
    #: A message for the login page (why the session ended).
    notice = Unicode("")
    notice_kind = Unicode("info")
    #: The page the shell shows (a key of ``app.PAGES``); views may ask for another.
    page = Unicode("")
    #: The model the model pages show.
    selected_model = Unicode("")
    #: Bumped when the account marks notifications read, so the header's bell counts again.
    notifications_read = Int(0)

    def sign_in(self, principal: Principal) -> None:
        self.notice = ""
        self.principal = principal

    def end_session(self, message: str = "", kind: str = "info") -> None:
        """Return to the login page, saying why."""
        self.notice_kind = kind
        self.notice = message
        self.selected_model = ""
        self.page = ""
        self.principal = None
