"""Kernel side only: a VisionApp, then the admin signs in (shell + first page built), median of 11.

Usage (a home made by `vision init --demo`): cd CHECKOUT && VISION_HOME=HOME PYTHONPATH=CHECKOUT .venv/bin/python PATH/kernel_shell.py
"""
import json, os, statistics, time
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.identity import sessions
from vision_widgets import app as appmod
import ipywidgets as w
cls = next(getattr(appmod, n) for n in dir(appmod) if isinstance(getattr(appmod, n), type) and issubclass(getattr(appmod, n), w.Widget) and hasattr(getattr(appmod, n), "_show_shell"))
ctx = Context.open(load_settings(os.environ))
times, nw = [], []
for i in range(12):
    principal = sessions.operator_session(ctx, "sre_admin")
    a = cls(ctx)
    n0 = len(w.Widget.widgets)
    t = time.perf_counter()
    if hasattr(a.state, "sign_in"): a.state.sign_in(principal)
    else: a.state.principal = principal
    times.append(time.perf_counter() - t); nw.append(len(w.Widget.widgets) - n0)
    a.close()
print(json.dumps({"app": cls.__name__, "login_to_shell_ms": statistics.median(times[1:]) * 1000, "widgets_created": nw[-1]}))
