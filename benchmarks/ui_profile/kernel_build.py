"""Kernel side only: build each page the admin opens, in-process (no browser), median of 15.

Usage: as kernel_shell.py (VISION_HOME = a `vision init --demo` home, run from and with PYTHONPATH = the checkout).
"""
import json, os, statistics, sys, time
import ipywidgets as w
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.identity import sessions
from vision_widgets.state import AppState
from vision_widgets import app as appmod

ctx = Context.open(load_settings(os.environ))
principal = sessions.operator_session(ctx, "sre_admin")
state = AppState()
state.principal = principal
pages = {p.title: p for p in appmod.pages_for(principal)}
Widget = w.Widget
def registry():
    return getattr(Widget, "widgets", None) or getattr(w.widgets.widget, "_instances", {})
out = {}
for title in ("Model 360", "My account"):
    page = pages[title]
    times, nwid, kib = [], [], []
    for i in range(16):
        before = set(registry())
        t = time.perf_counter()
        view = page.build(ctx, state)
        if hasattr(view, "wait"):
            view.wait()
        times.append(time.perf_counter() - t)
        new = [registry()[k] for k in set(registry()) - before]
        nwid.append(len(new))
        kib.append(sum(len(json.dumps(x.get_state(), default=str)) for x in new) / 1024)
        appmod.close_tree(view) if hasattr(appmod, "close_tree") else view.close()
    out[title] = {"build_ms": statistics.median(times[1:]) * 1000, "widgets": nwid[-1], "state_kib": kib[-1]}
print(json.dumps(out))
