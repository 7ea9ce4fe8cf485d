"""Alert delivery (admins): channels per line of business, a test message, the delivery log, retries.

The form shows the fields of the channel's kind (webhook or e-mail). Secret inputs (the webhook
URL, the SMTP password) are ``Password`` inputs that are always empty when shown: a saved value is
never sent to the browser (placeholder "•••• saved — type to replace"), and what the admin types is
cleared as soon as Save has read it; an empty secret on Save keeps the saved one.

"Send test message" sends now, in the page's background lane (the page stays responsive for the
channel's timeout), and says "sent in N ms" or why it failed next to the button. Deliveries of
notifications are sent by the worker, never here; the log shows them (queued, retrying with the
next attempt, sent, failed with the reason), and Retry makes a failed one due again. Every action
goes through ``services/alerts.py``, which checks the permission again.
"""
from __future__ import annotations

from typing import Any

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.data_grid import DataTable
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.formatting import when
from vision_widgets.components.stored_item_form import SAVED, StoredItemForm
from vision_widgets.services import alerts
from vision_widgets.services.alerts import ChannelInfo, DeliveryInfo
from vision_widgets.views.base import PageView, succeeded, unobserved

__all__ = ["SAVED", "AlertsView"]

CHANNEL_COLUMNS = ("Name", "Kind", "Line of business", "Sends to", "Enabled", "Sent", "Failed", "Waiting")
LOG_COLUMNS = ("#", "Channel", "Notification", "State", "Attempts", "Last attempt", "Next attempt", "Reason")
ALL_LOBS = "All lines of business"
ANY = "Any"
KIND_OPTIONS = (("Webhook (Slack, Teams)", "webhook"), ("E-mail (SMTP)", "email"))
FORMAT_OPTIONS = (("Slack (or classic Teams)", "slack"), ("Microsoft Teams Workflows", "teams"))
SECURITY_OPTIONS = (("STARTTLS (port 587)", "starttls"), ("Implicit TLS (port 465)", "tls"),
                    ("None (a relay inside the network)", "none"))
STATE_OPTIONS = (ANY, "queued", "retrying", "sent", "failed")


def _kind_title(kind: str) -> str:
    return {v: k for k, v in KIND_OPTIONS}.get(kind, kind)


class AlertsView(PageView):
    """Channels (a table and a form), a test button, and the delivery log with retries."""

    def __init__(self, ctx, state, **kwargs) -> None:
        super().__init__(ctx, state, **kwargs)
        self.closed = False
        self.infos: tuple[ChannelInfo, ...] = ()
        self.deliveries: tuple[DeliveryInfo, ...] = ()
        self.list_status = StatusMessage()
        # The service decides first: for anyone else the page is only its message (no form is built).
        lobs = self.run(self.list_status, alerts.lines_of_business, self.ctx, self.principal)
        self.allowed = lobs is not None
        if not self.allowed:
            self.children = (self.list_status,)
            return

        # -- channels
        self.table = DataTable(CHANNEL_COLUMNS, empty="No alert channels yet: add one below.", label="Alert channels",
                               noun=("channel", "channels"),
                               widths={"Name": 130, "Kind": 160, "Line of business": 145, "Sends to": 215,
                                       "Enabled": 85, "Sent": 60, "Failed": 70, "Waiting": 75})

        # -- the form
        self.lob = w.Dropdown(options=(), layout=w.Layout(width="260px"))
        self.enabled = w.Checkbox(value=True, description="Enabled (deliver new notifications)", indent=False)
        self.url = forms.password("")
        self.format = w.Dropdown(options=FORMAT_OPTIONS, value="slack", layout=w.Layout(width="260px"))
        self.timeout = forms.text("10")
        self.host = forms.text("smtp.example.com")
        self.security = w.Dropdown(options=SECURITY_OPTIONS, value="starttls", layout=w.Layout(width="260px"))
        self.port = forms.text("the security's port")
        self.username = forms.text("optional")
        self.password = forms.password("")
        self.sender = forms.text("vision@example.com")
        self.to = forms.text("team@example.com, oncall@example.com")
        self.ca_file = forms.text("optional: a private server's CA (PEM)")
        self.secret_inputs = {"url": self.url, "password": self.password}
        self.webhook_box = w.VBox([
            forms.field("Webhook URL *", self.url),
            forms.field("Format", self.format),
        ])
        self.email_box = w.VBox([
            forms.field("SMTP host *", self.host),
            forms.field("Security", self.security),
            forms.field("Port", self.port),
            forms.field("Username", self.username),
            forms.field("Password", self.password),
            forms.field("From *", self.sender),
            forms.field("To *", self.to),
            forms.field("CA file", self.ca_file),
        ])
        self.form = form = StoredItemForm(
            "channel", "Kind", (forms.field("Line of business", self.lob), self.enabled, self.webhook_box,
                                self.email_box, forms.field("Timeout (s)", self.timeout)),
            kind_options=KIND_OPTIONS, kind_value="webhook", add_label="Add channel",
            test_label="Send test message", test_icon="paper-plane", on_choose=lambda: self._show(self._selected()),
            on_add=self._on_add, on_save=self._on_save, on_test=self._on_test, on_remove=self._on_remove_asked,
            on_removed=self._on_remove_confirmed)
        form.kind.observe(self._on_kind, "value")
        self.table.on_open(form.open_item)
        # the form's parts a test or a handler here reaches for by name
        self.choice, self.add, self.name, self.kind, self.save, self.save_status = (
            form.choice, form.add, form.name, form.kind, form.save, form.save_status)
        self.test, self.test_status, self.remove, self.remove_status, self.confirm = (
            form.test, form.test_status, form.remove, form.remove_status, form.confirm)

        # -- the delivery log
        self.log_table = DataTable(LOG_COLUMNS, empty="No deliveries yet: they appear when notifications are raised.",
                                   label="Delivery log", noun=("delivery", "deliveries"),
                                   widths={"#": 50, "Channel": 110, "Notification": 200, "State": 75, "Attempts": 85,
                                           "Last attempt": 125, "Next attempt": 125, "Reason": 200})
        self.log_table.on_open(self._open_delivery)
        self.state_filter = w.Dropdown(options=STATE_OPTIONS, value=ANY, layout=w.Layout(width="160px"))
        self.channel_filter = w.Dropdown(options=(ANY,), value=ANY, layout=w.Layout(width="180px"))
        for control in (self.state_filter, self.channel_filter):
            control.observe(self._on_filter, "value")
        self.reload = forms.button("Refresh", icon="refresh")
        self.reload.on_click(lambda _b: self.refresh())
        self.failed = w.Dropdown(options=(), layout=w.Layout(width="360px"))
        self.failed.observe(self._on_failed, "value")
        self.reason = w.Label("")  # the whole reason of the failed delivery chosen (the grid's cell clips it)
        self.reason.add_class("vision-muted")
        self.retry = forms.button("Retry", icon="repeat")
        self.retry.on_click(self._on_retry)
        self.retry_all = forms.button("Retry all failed", icon="repeat")
        self.retry_all.on_click(self._on_retry_all)
        self.log_status = StatusMessage()
        self.failed_row = w.HBox([forms.field("Failed delivery", self.failed), self.retry, self.retry_all],
                                 layout=w.Layout(align_items="center"))

        self.children = (
            forms.section("Channels", self.table, self.list_status, form.picker),
            form,
            forms.section("Delivery log",
                          w.HBox([forms.field("State", self.state_filter), forms.field("Channel", self.channel_filter),
                                  self.reload], layout=w.Layout(align_items="center")),
                          self.log_table, self.failed_row, self.reason, self.log_status),
        )
        address = self.run(self.list_status, alerts.app_address, self.ctx, self.principal)
        self.address_note = StatusMessage()
        if address is not None and not address[1]:
            self.address_note.show(f"Alerts link to {address[0]}, the address this server binds; set "
                                   "VISION_PUBLIC_URL to the address people open Vision AI at.")
        self.children = (self.address_note, *self.children)
        self.lob.options = ((ALL_LOBS, ""),) + tuple((lob, lob) for lob in lobs)
        self.lob.value = ""
        self.refresh()

    # -- loading -----------------------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        """Reload channels and the log; keep (or move to ``select``) the channel shown in the form."""
        if not self.allowed:
            return
        found = self.run(self.list_status, alerts.list_channels, self.ctx, self.principal)
        if found is None:
            return
        self.infos = tuple(found)
        self._show_table()
        names = tuple(c.name for c in self.infos)
        show = self.form.list_names(names, select)
        with unobserved(self.channel_filter, self._on_filter):
            current = self.channel_filter.value
            self.channel_filter.options = (ANY, *names)
            self.channel_filter.value = current if current in names else ANY
        if show:
            self._show(self._selected())
        self._load_log()

    def _show_table(self) -> None:
        self.table.update((c.name, _kind_title(c.kind), c.lob or "all", c.sends_to if c.readable
                           else "secrets unreadable: re-enter them", "yes" if c.enabled else "no",
                           c.sent, c.failed, c.pending) for c in self.infos)

    def _load_log(self) -> None:
        state = "" if self.state_filter.value == ANY else self.state_filter.value
        channel = "" if self.channel_filter.value == ANY else self.channel_filter.value
        found = self.run(self.log_status, alerts.delivery_log, self.ctx, self.principal, state, channel)
        if found is None:
            return
        self.deliveries = tuple(found)
        self.log_table.update((d.id, d.channel, d.title, d.state, d.attempts,
                               when(d.last_attempt_at) if d.last_attempt_at else "–",
                               when(d.next_attempt_at) if d.state in ("queued", "retrying") else "–",
                               d.error) for d in self.deliveries)
        failed = tuple((f"#{d.id} {d.channel}: {d.title}"[:80], d.id) for d in self.deliveries if d.state == "failed")
        keep = self.failed.value
        self.failed.options = failed
        self.failed.value = keep if keep in (v for _, v in failed) else (failed[0][1] if failed else None)
        self.failed_row.layout.display = "" if failed else "none"
        self._on_failed()

    def _selected(self) -> ChannelInfo | None:
        return self.form.selected(self.infos)

    # -- the form ----------------------------------------------------------------------------------
    def _show(self, info: ChannelInfo | None) -> None:
        """Fill the form for a stored channel (edit), or empty it for a new one (``info`` None)."""
        self.form.show_item(info)
        config = info.config if info is not None else {}
        with unobserved(self.kind, self._on_kind):
            self.kind.value = "webhook" if info is None else info.kind
        lob = "" if info is None else info.lob
        if lob not in (v for _, v in self.lob.options):
            self.lob.options = tuple(self.lob.options) + ((lob, lob),)
        self.lob.value = lob
        self.enabled.value = True if info is None else info.enabled
        self.format.value = config.get("format", "slack")
        self.timeout.value = str(config.get("timeout", 10.0)).removesuffix(".0")
        self.host.value = str(config.get("host", ""))
        self.security.value = config.get("security", "starttls")
        self.port.value = str(config.get("port", ""))
        self.username.value = str(config.get("username", ""))
        self.sender.value = str(config.get("sender", ""))
        self.to.value = ", ".join(config.get("to", []))
        self.ca_file.value = str(config.get("ca_file", ""))
        for field_name, widget in self.secret_inputs.items():
            self.form.show_secret(widget, field_name, info,
                                  "required" if field_name == "url" else "optional (with a username)")
        self._show_kind()

    def _show_kind(self) -> None:
        webhook = self.kind.value == "webhook"
        self.webhook_box.layout.display = "" if webhook else "none"
        self.email_box.layout.display = "none" if webhook else ""

    def _values(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The form's settings and secrets for its kind; the secret inputs are emptied as they are read."""
        secrets = self.form.take_secrets(self.secret_inputs)
        config: dict[str, Any] = {"timeout": self.timeout.value.strip() or 10}
        if self.kind.value == "webhook":
            config["format"] = self.format.value
            secrets.pop("password", None)
        else:
            config.update(host=self.host.value.strip(), security=self.security.value, port=self.port.value.strip(),
                          username=self.username.value.strip(), sender=self.sender.value.strip(),
                          to=self.to.value, ca_file=self.ca_file.value.strip())
            secrets.pop("url", None)
        return config, secrets

    # -- events ------------------------------------------------------------------------------------
    def _on_add(self, _button=None) -> None:
        self._show(None)
        self.save_status.show("Fill in the channel, then Save; send a test message once saved.")

    def _on_kind(self, _change=None) -> None:
        self._show_kind()

    def _on_save(self, _button=None) -> None:
        config, secrets = self._values()
        self.form.save_item(
            self.run,
            lambda: alerts.add_channel(self.ctx, self.principal, self.name.value.strip(), self.kind.value,
                                       self.lob.value, config, secrets, self.enabled.value),
            lambda name: alerts.update_channel(self.ctx, self.principal, name, config=config, secrets=secrets,
                                               lob=self.lob.value, enabled=self.enabled.value),
            self.refresh, "Send a test message to check it arrives.")

    def _on_test(self, _button=None) -> None:
        self.form.start_test(self, lambda name: alerts.test_channel(self.ctx, self.principal, name), self._tested,
                             unsaved="Save the channel first, then send a test message.",
                             running="Sending a test message through {name}…")

    def _tested(self, _name: str, outcome, shown: bool) -> None:
        if not shown:
            return  # another channel is shown now
        if outcome.ok:
            self.test_status.success(f"Test message {outcome.message}.")
        else:
            self.test_status.error(f"Test failed: {outcome.message}")

    def _on_remove_asked(self, _button=None) -> None:
        info = self.form.removal_asked(self.infos)
        if info is None:
            return
        logged = info.sent + info.failed + info.pending
        self.confirm.ask(info.name, f"Remove {info.name}? Its delivery log ({logged} "
                                    f"deliver{'y' if logged == 1 else 'ies'}) goes with it.")

    def _on_remove_confirmed(self, name: str) -> None:
        if self.run(self.remove_status, succeeded, alerts.remove_channel, self.ctx, self.principal, name):
            self.refresh()
            self.remove_status.success(f"Channel {name} removed.")

    def _open_delivery(self, key: str) -> None:
        found = next((d for d in self.deliveries if str(d.id) == key), None)
        if found is not None and found.state == "failed":
            self.failed.value = found.id

    def _on_failed(self, _change=None) -> None:
        found = next((d for d in self.deliveries if d.id == self.failed.value), None)
        self.reason.value = "" if found is None else f"#{found.id} failed after {found.attempts} attempts: {found.error}"

    def _on_filter(self, _change=None) -> None:
        self._load_log()

    def _on_retry(self, _button=None) -> None:
        delivery_id = self.failed.value
        if delivery_id is None:
            return
        done = self.run(self.log_status, alerts.retry, self.ctx, self.principal, delivery_id)
        if done is not None:
            self.refresh()
            self.log_status.success(f"Delivery #{delivery_id} will be sent again within a minute.")

    def _on_retry_all(self, _button=None) -> None:
        channel = "" if self.channel_filter.value == ANY else self.channel_filter.value
        count = self.run(self.log_status, alerts.retry_failed, self.ctx, self.principal, channel)
        if count is not None:
            self.refresh()
            self.log_status.success(f"{count} failed deliver{'y' if count == 1 else 'ies'} will be sent again "
                                    "within a minute.")

    def close(self) -> None:
        self.closed = True
        super().close()
