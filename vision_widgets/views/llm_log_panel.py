"""The LLM chat log on the Monitoring page (admins): who asked what about which model, the look-ups the
LLM made, the answers, and the switch that turns recording on or off.

Built only for a principal with ``READ_LLM_LOG``, inside a fold of the Monitoring page, when that fold
is first opened; every read and the switch go through ``services.llm_chat``, which checks the
permission again. Contents are shown shortened in a grid (a prompt or an answer can be long); a click
on an entry shows it whole under the grid (as text), and ``vision llm log`` prints them all.
"""
from __future__ import annotations

import ipywidgets as w

from vision_widgets.components import formatting as fmt
from vision_widgets.components import forms
from vision_widgets.components.data_grid import DataTable
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.note import Note
from vision_widgets.services import llm_chat
from vision_widgets.views.base import succeeded, unobserved

LOG_COLUMNS = ("#", "Time", "Account", "Model", "Endpoint", "Kind", "Content")
KINDS = {"prompt": "question", "tool_call": "look-up", "answer": "answer", "fallback": "summary without LLM",
         "faq": "FAQ answer"}
#: How many entries the grid lists (newest first), and how much of each content it shows.
LOG_ROWS = 200
SHORT = 160


def shorten(text: str, limit: int = SHORT) -> str:
    """One line of at most ``limit`` characters (an ellipsis says when more was cut)."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class LlmLogPanel(w.VBox):
    """The recording switch, an account filter and the newest entries of the log."""

    def __init__(self, page) -> None:
        super().__init__()
        self.page = page
        self.status = StatusMessage()
        self.record = w.Checkbox(value=llm_chat.recording(page.ctx), indent=False, layout=w.Layout(width="auto"),
                                 description="Record prompts, look-ups and answers of LLM Chat")
        self.record.observe(self._on_record, "value")
        self.account = forms.text("every account")
        forms.label(self.account, "Account", width="70px")
        self.account.layout.width = "300px"
        self.show = forms.button("Show", icon="refresh")
        self.show.on_click(lambda _b: self.reload())
        self.grid = DataTable(LOG_COLUMNS, empty="Nothing recorded yet.", label="LLM chat log",
                              noun=("entry", "entries"),
                              widths={"#": 45, "Time": 130, "Account": 120, "Model": 125, "Endpoint": 165,
                                      "Kind": 105, "Content": 300})
        self.grid.on_open(self.open_entry)
        self.entries: tuple = ()
        self.note = Note(f"The newest {LOG_ROWS} entries, newest first; contents shortened: click an entry to "
                         "read it whole (the command vision llm log prints them all).", muted=True)
        self.entry_title = w.Label("")
        self.entry_title.add_class("vision-section-title")
        self.entry = Note("")
        self.entry.add_class("vision-llm-log-entry")
        self.children = (
            self.record, self.status,
            w.HBox([self.account, self.show], layout=w.Layout(align_items="center", grid_gap="8px")),
            self.grid, self.note, self.entry_title, self.entry,
        )

    def reload(self) -> None:
        """Read the newest entries (of the account typed, if any) and show them."""
        self.status.clear()
        who = self.account.value.strip() or None
        found = self.page.run(self.status, llm_chat.log_entries, self.page.ctx, self.page.principal, LOG_ROWS, who)
        if found is None:
            return
        self.grid.empty.value = f"Nothing recorded for {who}." if who else "Nothing recorded yet."
        self.entries = tuple(found)
        self.grid.update((n, fmt.when(e.at), e.username, e.model or "–", e.endpoint or "none (not sent)",
                          KINDS.get(e.kind, e.kind), shorten(e.content)) for n, e in enumerate(found, 1))
        self.entry_title.value = ""
        self.entry.text = ""

    def open_entry(self, key: str) -> None:
        """Show entry number ``key`` (the grid's first column) whole, as text."""
        try:
            e = self.entries[int(key) - 1]
        except (ValueError, IndexError):
            return
        about = f" about {e.model}" if e.model else ""
        self.entry_title.value = (f"#{key}: {KINDS.get(e.kind, e.kind)} · {e.username}{about} · "
                                  f"{fmt.when(e.at)} · conversation {e.conversation[:8]}")
        self.entry.text = e.content

    def _on_record(self, change) -> None:
        on = bool(change["new"])
        done = self.page.run(self.status, succeeded, llm_chat.set_recording, self.page.ctx, self.page.principal, on)
        if done is None:  # refused: show what is stored, not what was clicked
            with unobserved(self.record, self._on_record):
                self.record.value = llm_chat.recording(self.page.ctx)
            return
        self.status.success("Recording is on: new prompts, look-ups and answers are kept." if on else
                            "Recording is off: nothing new is kept until it is turned on again.")
