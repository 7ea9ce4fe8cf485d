"""The app's stylesheet (static: no user data is ever formatted into it)."""
from __future__ import annotations

import ipywidgets as w

CSS = """
<style>
.vision-app { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; max-width: 1200px; margin: 0 auto; }
.vision-header { background: #12263f; color: #fff; padding: 10px 18px; border-radius: 8px; align-items: center; }
.vision-header .widget-label { color: #fff; }
.vision-brand { font-size: 20px; font-weight: 600; letter-spacing: .3px; }
.vision-nav { margin: 10px 0; }
.vision-card { background: #fff; border: 1px solid #dde3ea; border-radius: 8px; padding: 14px 18px; margin: 8px 0; }
.vision-section-title { font-size: 16px; font-weight: 600; color: #12263f; }
.vision-login { width: 440px; margin: 60px auto; }
.vision-login-title { font-size: 22px; font-weight: 600; color: #12263f; }
.vision-status { min-height: 20px; white-space: normal; }
.vision-status-error { color: #b42318; }
.vision-status-success { color: #067647; }
.vision-status-info { color: #475467; }
.vision-table { border-collapse: collapse; width: 100%; font-size: 13px; }
.vision-table th { text-align: left; background: #f2f4f7; padding: 6px 8px; border-bottom: 1px solid #dde3ea; }
.vision-table td { padding: 5px 8px; border-bottom: 1px solid #eef1f4; }
.vision-empty { color: #667085; font-style: italic; }
.vision-muted { color: #667085; }
.vision-kpi { background: #f8fafc; border: 1px solid #dde3ea; border-radius: 8px; padding: 8px 14px; margin: 4px 8px 4px 0; min-width: 150px; }
.vision-kpi-caption { color: #667085; font-size: 12px; }
.vision-kpi-value { font-size: 22px; font-weight: 600; color: #12263f; }
.vision-kpi-alert .vision-kpi-value { color: #b42318; }
.vision-download { color: #1a5fd0; text-decoration: underline; }
.vision-demo-badge { background: #fff4e5; color: #8a4b00; border-radius: 10px; padding: 0 8px; }
</style>
"""


def stylesheet() -> w.HTML:
    """A widget carrying the app's CSS; display it once at the top of the app."""
    style = w.HTML(CSS)
    style.layout.display = "none"
    return style
