"""Logging in from a JupyterLab notebook: ``session = vision_widgets.connect()``.

The same login as the web app's (``services.sessions.login``: Argon2id check, lockout after
repeated failures, audit entry, a session with the same time to live, renewed on use and revoked
on ``logout()``), so a notebook may see and do exactly what the person may in the browser, for
as long as their browser session would last. The password is asked with ``getpass`` and dropped
after the check; only the principal (which holds the session's hash, not its token) is kept.

What a session hands back is data first (``DataFrame``s and result objects with ``to_df()``),
and widgets when asked (``view()``, ``drift_chart()``, ``distribution_chart()``): the same
components the web app shows, built from the same services.
"""
from __future__ import annotations

import getpass
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from vision_widgets.core.context import Context
from vision_widgets.core.identity.principal import Principal
from vision_widgets.services import catalog, model360, sessions
from vision_widgets.services.model360 import Model360

if TYPE_CHECKING:  # widgets are imported only when one is asked for
    import ipywidgets as w

__all__ = ["connect", "NotebookSession", "ModelResult"]


def connect(username: str | None = None, *, ctx: Context | None = None) -> "NotebookSession":
    """Log in to Vision AI from a notebook and return a session that acts as you.

    Parameters
    ----------
    username
        Your Vision AI user name; asked with ``input()`` when not given.
    ctx
        The services' context (settings, database); by default the one ``VISION_HOME`` /
        ``VISION_DATABASE_URL`` point at, as for ``vision serve``.

    The password is always asked with ``getpass`` (never an argument: it would stay in the
    notebook and its history). Wrong credentials raise ``AuthenticationError`` and count towards
    the account's lockout, as in the browser.
    """
    ctx = ctx or Context.open()
    name = (username if username is not None else input("Vision AI user name: ")).strip()
    password = getpass.getpass(f"Password for {name}: ")
    try:
        principal = sessions.login(ctx, name, password)
    finally:
        del password
    return NotebookSession(ctx, principal)


class NotebookSession:
    """A logged-in person in a notebook: their models as data, one model's results and charts."""

    def __init__(self, ctx: Context, principal: Principal) -> None:
        self.ctx = ctx
        self.principal = principal

    def __repr__(self) -> str:
        p = self.principal
        return f"<Vision AI session: {p.username} ({p.persona}, {p.role})>"

    @property
    def username(self) -> str:
        return self.principal.username

    def models(self, text: str = "", lob: str = "", platform: str = "", status: str = "") -> pd.DataFrame:
        """The models you may see (yours, or every model for an admin), one row each, filtered as in the app."""
        found = catalog.list_models(self.ctx, self.principal, text=text, lob=lob, platform=platform, status=status)
        return pd.DataFrame(
            [{"name": s.model.name, "owner": s.model.owner, "task": s.model.task, "platform": s.model.platform,
              "line_of_business": s.model.lob, "status": s.model.status, "restricted": s.model.restricted,
              "dataset_drift": s.dataset_drift, "drift_share": s.drift_share, "last_update": s.last_update}
             for s in found],
            columns=["name", "owner", "task", "platform", "line_of_business", "status", "restricted",
                     "dataset_drift", "drift_share", "last_update"],
        )

    def model(self, name: str) -> "ModelResult":
        """Everything the Model 360 page shows for model ``name`` (``NotFound``/``PermissionDenied`` otherwise)."""
        return ModelResult(self, model360.model_360(self.ctx, self.principal, name))

    def logout(self) -> None:
        """End this session now (it also ends by itself after the session's time to live)."""
        sessions.logout(self.ctx, self.principal)


@dataclass(frozen=True)
class ModelResult:
    """One model's results as data (``to_df()`` and friends), and as the web app's widgets."""

    session: NotebookSession
    data: Model360

    def __repr__(self) -> str:
        m = self.data.model
        return f"<Vision AI model {m.name!r}: {m.task}, {m.status}>"

    @property
    def name(self) -> str:
        return self.data.model.name

    @property
    def drift(self):
        """The latest drift report (``DriftReport``: ``to_df()``, ``windows_df()``), or None before any data."""
        return self.data.drift

    # -- data -------------------------------------------------------------------------------
    def to_df(self) -> pd.DataFrame:
        """Per feature: training and production means, missing share, drift test, statistic, verdict."""
        return pd.DataFrame([vars(f) for f in self.data.features],
                            columns=["feature", "kind", "mean_reference", "mean_production",
                                     "missing_share_production", "method", "statistic", "drifted"])

    def history_df(self) -> pd.DataFrame:
        """The drift verdict of every production batch, oldest first."""
        return pd.DataFrame([vars(h) for h in self.data.history],
                            columns=["at", "label", "rows", "drift_share", "dataset_drift"])

    def coefficients_df(self) -> pd.DataFrame:
        """The linear surrogate's coefficients, standard errors and 95% intervals (empty without one)."""
        s = self.data.surrogate
        rows: list[dict[str, Any]] = []
        if s is not None:
            for term, coef, var in zip(s.terms, s.coefficients, s.variances):
                se = max(var, 0.0) ** 0.5
                rows.append({"term": term, "coefficient": coef, "std_error": se,
                             "ci_low": coef - 1.96 * se, "ci_high": coef + 1.96 * se})
        return pd.DataFrame(rows, columns=["term", "coefficient", "std_error", "ci_low", "ci_high"])

    def distribution_df(self, feature: str | None = None) -> pd.DataFrame:
        """Share of rows per bin (numeric) or category of ``feature`` (default: the first), training vs production."""
        o = self._overlay(feature)
        return pd.DataFrame({"bin": list(o.labels), "training": list(o.reference_share),
                             "production": list(o.current_share)})

    def _overlay(self, feature: str | None):
        from vision_widgets.core.errors import InvalidInput
        from vision_widgets.core.stats.histograms import overlay

        ref, prod = self.data.reference, self.data.production
        if ref is None:
            raise InvalidInput(f"{self.name} has no profiles yet: run the client notebook or add data first.")
        feature = feature or next(iter(ref.columns))
        if feature not in ref.columns:
            raise InvalidInput(f"{self.name} has no feature {feature!r}; it has: {', '.join(ref.columns)}.")
        return overlay(feature, ref.columns[feature], prod.columns.get(feature) if prod is not None else None)

    # -- widgets ------------------------------------------------------------------------------
    def view(self) -> "w.Widget":
        """The web app's Model 360 component for this model (the same services, as this session),
        with the app's stylesheet; the page's model list is left out."""
        import ipywidgets as w

        from vision_widgets.components.theme import stylesheet
        from vision_widgets.state import AppState
        from vision_widgets.views.model360 import Model360View

        state = AppState()
        state.sign_in(self.session.principal)
        page = Model360View(self.session.ctx, state)
        page.show(self.name)
        detail = getattr(page, "detail", None)
        for child in page.children if detail is not None else ():
            if child is not detail:
                child.layout.display = "none"
        box = w.VBox([stylesheet(), page])
        box.page = page  # the page itself, for whoever wants its parts
        return box

    def drift_chart(self) -> "w.Widget":
        """The share of drifted features per production window, against the dataset threshold."""
        from vision_widgets.components.charts import DriftHistoryChart

        chart = DriftHistoryChart()
        series = self.data.drift_series
        chart.update(list(series.labels), list(series.shares), series.threshold)
        return chart.figure

    def distribution_chart(self, feature: str | None = None) -> "w.Widget":
        """Training vs production distribution of ``feature`` (default: the first)."""
        from vision_widgets.components.charts import DistributionChart

        o = self._overlay(feature)
        chart = DistributionChart()
        chart.update(f"{o.feature}: training vs production", o.labels, o.reference_share, o.current_share)
        return chart.figure
