"""Register a model: metadata, connector, column roles, and open or restricted data."""
from __future__ import annotations

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.progress import ProgressBar
from vision_widgets.core.catalog.records import PLATFORMS, TASKS
from vision_widgets.core.identity import rbac
from vision_widgets.services import accounts
from vision_widgets.services import registration
from vision_widgets.views.base import PageView
from vision_widgets.views.model_actions import TokenBox, client_downloads


def _columns(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


class RegisterView(PageView):
    title = "Register model"

    def __init__(self, ctx, state, **kwargs) -> None:
        super().__init__(ctx, state, **kwargs)
        self.name = forms.text("e.g. Fraud detection v2")
        self.description = w.Textarea(placeholder="What the model does", layout=w.Layout(width="420px"))
        self.task = w.Dropdown(options=TASKS, value=TASKS[0], layout=w.Layout(width="260px"))
        self.platform = w.Dropdown(options=PLATFORMS, value=PLATFORMS[0], layout=w.Layout(width="260px"))
        sources = self.run(StatusMessage(), registration.data_sources, ctx, self.principal)
        self.connector = w.Dropdown(options=[(title, name) for name, title in (sources.connectors if sources else ())],
                                    layout=w.Layout(width="260px"))
        self.owner = w.Dropdown(options=(), layout=w.Layout(width="260px"))
        self.restricted = w.Checkbox(value=False, description="Restricted data (profiled on the client's machine)",
                                     indent=False)
        self.training = forms.text("Path of the training CSV/Parquet")
        self.production = forms.text("Path of the production CSV/Parquet")
        for box in (self.training, self.production):
            box.layout.width = "420px"
        self.target = forms.text("label column")
        self.prediction = forms.text("model output column")
        self.timestamp = forms.text("optional: date/time column")
        self.features = forms.text("optional: a, b, c (default: all other columns)")
        self.exclude = forms.text("optional: ids, free text, personal data")
        self.submit = forms.button("Register model", style="primary", icon="check")
        self.progress = ProgressBar()
        self.status = StatusMessage()
        self.token_box = TokenBox()
        self.next_steps = w.VBox()
        self.open_model = forms.button("Open in Model 360", icon="eye")
        self.open_model.layout.display = "none"
        self.open_model.on_click(self._on_open)
        self.submit.on_click(self._on_submit)
        self.restricted.observe(self._on_restricted, "value")
        self.paths = w.VBox([forms.field("Training data", self.training), forms.field("Production data", self.production)])
        owner_row = forms.field("Owner", self.owner)
        if self.principal is not None and rbac.is_admin(self.principal):
            found = self.run(self.status, accounts.list_accounts, ctx, self.principal)
            names = tuple(a.username for a in found or ())
            self.owner.options = names
            self.owner.value = self.principal.username if self.principal.username in names else None
        else:
            owner_row.layout.display = "none"  # a user registers for themselves
        self.children = (
            forms.section(
                "Model",
                forms.field("Name", self.name),
                forms.field("Description", self.description),
                forms.field("Task", self.task),
                forms.field("Platform", self.platform),
                owner_row,
            ),
            forms.section(
                "Data",
                forms.field("Connector", self.connector),
                self.restricted,
                self.paths,
                w.Label(f"Files are read under: {', '.join(sources.roots) if sources else '–'}"),
            ),
            forms.section(
                "Column roles",
                forms.field("Target", self.target),
                forms.field("Prediction", self.prediction),
                forms.field("Timestamp", self.timestamp),
                forms.field("Features", self.features),
                forms.field("Excluded", self.exclude),
            ),
            self.submit,
            self.progress,
            self.status,
            self.next_steps,
            self.open_model,
        )

    def _on_restricted(self, _change=None) -> None:
        self.paths.layout.display = "none" if self.restricted.value else "flex"

    def spec(self) -> registration.ModelSpec:
        return registration.ModelSpec(
            name=self.name.value, task=self.task.value, description=self.description.value,
            platform=self.platform.value, connector=self.connector.value or "local",
            target=self.target.value, prediction=self.prediction.value, timestamp=self.timestamp.value,
            features=_columns(self.features.value), exclude=_columns(self.exclude.value),
            owner=self.owner.value or "", restricted=self.restricted.value,
            training=self.training.value, production=self.production.value,
        )

    def _on_submit(self, _button=None) -> None:
        self.status.clear()
        self.open_model.layout.display = "none"
        self.token_box.clear()
        self.next_steps.children = ()
        self.progress.start()
        spec = self.spec()

        def done(reg: registration.Registration) -> None:
            self.registered = reg.model.name
            if reg.upload_token:
                self.status.success(f"{reg.model.name} is registered and awaiting metrics.")
                self.next_steps.children = (
                    w.Label("Next: run the client notebook where the data lives (set the server URL, this token, "
                            "the model name and your data paths in its first cell)."),
                    client_downloads(),
                )
                self.token_box.show(reg.upload_token, reg.token_expires)
                self.next_steps.children += (self.token_box,)
            else:
                verdict = "drift detected" if reg.drift and reg.drift.dataset_drift else "no dataset drift"
                self.status.success(f"{reg.model.name} is registered ({verdict}).")
            self.open_model.layout.display = "flex"

        self.run_in_background(self.status, registration.register_model, self.ctx, self.principal, spec,
                               progress=self.progress.update, bar=self.progress, on_done=done)

    def _on_open(self, _button=None) -> None:
        self.state.selected_model = getattr(self, "registered", "")
        self.state.page = "models"

