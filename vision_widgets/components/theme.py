"""The app's stylesheet (static: no user data is ever formatted into it) and its colours.

Every colour that carries text is named in ``COLOURS``, and every pair of text on a background
the app draws is listed in ``TEXT_PAIRS``: ``tests/test_theme.py`` computes their WCAG contrast
ratios, so a colour change that makes text hard to read fails a test instead of a user.

ipywidgets' own styles clip labels to one line (``white-space: nowrap; overflow: hidden;
text-overflow: ellipsis``); inside the app every label and message wraps instead, so a message
naming a folder, a column or an unlock time is always read in full. Its primary and danger
buttons (white on #2196f3 / #f44336) are below the AA ratio, so they are recoloured here.
"""
from __future__ import annotations

import ipywidgets as w

COLOURS: dict[str, str] = {
    "ink": "#101828",          # body text
    "navy": "#12263f",         # header, sidebar, titles
    "on_navy": "#ffffff",      # text on the header and the sidebar
    "nav_text": "#d0d8e4",     # sidebar entries
    "nav_group": "#b4c0d0",    # sidebar group names
    "nav_current": "#2e5f9e",  # the current page's entry
    "muted": "#5b6577",        # secondary text
    "page": "#f5f7fa",         # page background
    "card": "#ffffff",
    "kpi": "#f8fafc",
    "line": "#dde3ea",
    "table_head": "#eef1f5",
    "error": "#b42318",
    "success": "#067647",
    "info": "#475467",
    "link": "#1a56b8",
    "primary": "#1a56b8",
    "danger": "#b42318",
    "badge_bg": "#fff4e5",
    "badge_text": "#8a4b00",
    "tab_text": "#344054",
    "tab_bg": "#eeeeee",       # ipywidgets' inactive tab (set here too, so the pair is tested)
    # Health status badges (Monitoring page): the word is always there, the colour helps.
    "ok_bg": "#e7f6ec", "ok_text": "#05603a",
    "warn_bg": "#fff4e5", "warn_text": "#8a4b00",
    "fail_bg": "#fdecea", "fail_text": "#a01b10",
    # LLM Chat: the person's questions, code in answers.
    "question_bg": "#e8f0fb", "code_bg": "#f2f4f7",
}

#: (text colour, background colour, what it is): every text the app draws, checked for WCAG AA.
TEXT_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("ink", "card", "body text"),
    ("ink", "page", "body text on the page background"),
    ("navy", "card", "titles"),
    ("on_navy", "navy", "header"),
    ("nav_text", "navy", "sidebar entries"),
    ("nav_group", "navy", "sidebar group names"),
    ("on_navy", "nav_current", "the current page in the sidebar"),
    ("muted", "card", "secondary text"),
    ("muted", "page", "page purpose line"),
    ("muted", "kpi", "KPI captions"),
    ("navy", "kpi", "KPI values"),
    ("error", "kpi", "KPI values in alert"),
    ("error", "card", "error messages"),
    ("success", "card", "success messages"),
    ("info", "card", "information messages"),
    ("link", "card", "download links"),
    ("on_navy", "primary", "primary buttons"),
    ("on_navy", "danger", "danger buttons"),
    ("ok_text", "ok_bg", "health badge: OK"),
    ("warn_text", "warn_bg", "health badge: warning"),
    ("fail_text", "fail_bg", "health badge: failing"),
    ("badge_text", "badge_bg", "demo badge"),
    ("fail_text", "fail_bg", "the bell's unread count"),
    ("primary", "card", "the unread mark of a notification"),
    ("ink", "table_head", "table headers"),
    ("tab_text", "tab_bg", "inactive tab titles"),
    ("ink", "question_bg", "LLM Chat: the person's question"),
    ("ink", "code_bg", "LLM Chat: code in an answer"),
    ("muted", "card", "LLM Chat: look-ups and where an answer came from"),
)

_CSS = """
<style>
.vision-app {{ font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: {ink};
  max-width: 1360px; margin: 0 auto; }}
.vision-app .widget-label, .vision-app .widget-html-content {{ white-space: normal; overflow: visible;
  text-overflow: clip; height: auto; min-height: var(--jp-widgets-inline-height, 28px); line-height: 1.45;
  overflow-wrap: anywhere; }}
.vision-app .widget-label-basic, .vision-app .widget-label-basic span {{ white-space: normal; overflow: visible;
  text-overflow: clip; height: auto; line-height: 1.45; }}
.vision-app .widget-checkbox {{ height: auto; min-height: var(--jp-widgets-inline-height, 28px); }}
.vision-app .widget-label {{ padding-top: 4px; padding-bottom: 4px; }}
.vision-app .widget-inline-hbox > .widget-label {{ text-align: left; padding-right: 8px; }}
.vision-app input::placeholder {{ color: {muted}; opacity: 1; }}
.vision-app .jupyter-button.mod-primary {{ background-color: {primary}; color: {on_navy}; }}
.vision-app .jupyter-button.mod-danger {{ background-color: {danger}; color: {on_navy}; }}
.vision-app .jupyter-button:focus-visible, .vision-app input:focus-visible, .vision-app select:focus-visible {{
  outline: 3px solid #f5b301; outline-offset: 1px; }}
.vision-card > .widget-button, .vision-empty-state > .widget-button, .vision-page > .widget-button {{ align-self: flex-start; min-width: 140px; }}
.vision-app .widget-tab > .lm-TabBar .lm-TabBar-tab {{ color: {tab_text}; background: {tab_bg}; }}
.vision-app .widget-tab > .lm-TabBar .lm-TabBar-tab.lm-mod-current {{ color: {ink}; background: {card}; }}
.vision-header {{ background: {navy}; color: {on_navy}; padding: 10px 18px; border-radius: 8px; align-items: center;
  gap: 12px; }}
.vision-header .widget-label {{ color: {on_navy}; }}
.vision-brand {{ font-size: 20px; font-weight: 600; letter-spacing: .3px; }}
.vision-shell {{ align-items: flex-start; gap: 16px; margin-top: 10px; }}
.vision-nav {{ background: {navy}; border-radius: 8px; padding: 10px 8px; width: 210px; flex: 0 0 210px; }}
.vision-nav-group {{ margin-bottom: 8px; }}
.vision-nav .vision-nav-group-name {{ color: {nav_group}; font-size: 11px; font-weight: 600; text-transform: uppercase;
  letter-spacing: .6px; padding: 6px 10px 2px 10px; min-height: 0; }}
.vision-nav .jupyter-button {{ background: transparent; color: {nav_text}; width: 100%; text-align: left;
  justify-content: flex-start; height: 34px; border-radius: 6px; box-shadow: none; margin: 1px 0; padding: 0 10px; }}
.vision-nav .jupyter-button:hover {{ background: rgba(255, 255, 255, .08); color: {on_navy}; }}
.vision-nav .jupyter-button.vision-nav-current {{ background: {nav_current}; color: {on_navy}; font-weight: 600; }}
.vision-nav .jupyter-button i {{ width: 18px; margin-right: 8px; text-align: center; }}
.vision-main {{ flex: 1 1 auto; min-width: 0; }}
.vision-page-head {{ margin: 0 0 6px 0; }}
.vision-app .vision-page-title {{ font-size: 22px; font-weight: 600; color: {navy}; }}
.vision-app .vision-page-purpose {{ color: {muted}; }}
.vision-card {{ background: {card}; border: 1px solid {line}; border-radius: 8px; padding: 14px 18px; margin: 8px 0; }}
.vision-app .vision-section-title {{ font-size: 16px; font-weight: 600; color: {navy}; }}
.vision-login {{ width: 460px; margin: 60px auto; }}
.vision-app .vision-login-title {{ font-size: 22px; font-weight: 600; color: {navy}; }}
.vision-app .vision-status {{ min-height: 0; }}
.vision-app .vision-status:empty {{ display: none; }}
.vision-app .vision-status-error {{ color: {error}; font-weight: 500; }}
.vision-app .vision-status-success {{ color: {success}; font-weight: 500; }}
.vision-app .vision-status-info {{ color: {info}; }}
.vision-table {{ border-collapse: collapse; width: 100%; font-size: 13px; }}
.vision-table th {{ text-align: left; background: {table_head}; color: {ink}; padding: 6px 8px;
  border-bottom: 1px solid {line}; }}
.vision-table td {{ padding: 5px 8px; border-bottom: 1px solid #eef1f4; overflow-wrap: break-word; }}
.vision-empty {{ color: {muted}; font-style: italic; }}
.vision-app .vision-muted {{ color: {muted}; }}
.vision-empty-state {{ background: {kpi}; border: 1px dashed {line}; border-radius: 8px; padding: 10px 14px; margin: 6px 0; }}
.vision-chat {{ gap: 4px; }}
.vision-app .vision-chat-question {{ align-self: flex-end; background: {question_bg}; border-radius: 12px 12px 2px 12px;
  padding: 6px 12px; max-width: 75%; margin: 10px 0 2px 0; font-weight: 500; }}
.vision-chat-answer {{ border-left: 3px solid {line}; padding: 2px 0 2px 12px; margin: 2px 0 8px 0; }}
.vision-app .vision-chat-notice {{ background: {warn_bg}; color: {warn_text}; border-radius: 6px; padding: 2px 10px; }}
.vision-app .vision-chat-tool, .vision-app .vision-chat-tool-refused {{ font-size: 12px; color: {muted}; min-height: 0; }}
.vision-app .vision-chat-tool-refused {{ color: {error}; }}
.vision-markdown p {{ margin: 4px 0; }}
.vision-markdown ul, .vision-markdown ol {{ margin: 4px 0; padding-left: 22px; }}
.vision-markdown code {{ background: {code_bg}; border-radius: 4px; padding: 0 4px; font-size: 90%; }}
.vision-markdown pre {{ background: {code_bg}; border-radius: 6px; padding: 8px 10px; overflow-x: auto; white-space: pre; }}
.vision-markdown pre code {{ padding: 0; }}
.vision-markdown table {{ border-collapse: collapse; margin: 6px 0; font-size: 13px; }}
.vision-markdown th, .vision-markdown td {{ border: 1px solid {line}; padding: 3px 8px; text-align: left; }}
.vision-markdown th {{ background: {table_head}; }}
.vision-markdown blockquote {{ border-left: 3px solid {line}; margin: 4px 0; padding-left: 10px; color: {muted}; }}
.vision-markdown a {{ color: {link}; }}
.vision-chips {{ gap: 6px; margin: 4px 0; }}
.vision-app .jupyter-button.vision-chip {{ border-radius: 14px; background: {kpi}; border: 1px solid {line}; height: 28px;
  font-size: 12px; }}
.vision-chat-intro {{ margin-bottom: 4px; }}
.vision-app textarea {{ font-family: inherit; }}
.vision-llm-log-entry .widget-html-content > div {{ white-space: pre-wrap !important; max-height: 320px; overflow-y: auto; background: {kpi};
  border: 1px solid {line}; border-radius: 6px; padding: 8px 10px; }}
.vision-kpi {{ background: {kpi}; border: 1px solid {line}; border-radius: 8px; padding: 8px 14px; margin: 4px 8px 4px 0;
  min-width: 150px; max-width: 320px; }}
/* A KPI card is one HTML widget (components/kpi_card.py): its three lines are divs. */
.vision-app .vision-kpi .widget-html-content {{ min-height: 0; }}
.vision-app .vision-kpi-caption {{ color: {muted}; font-size: 12px; padding: 3px 0 1px; }}
.vision-app .vision-kpi-value {{ font-size: 22px; font-weight: 600; color: {navy}; padding: 2px 0; }}
.vision-app .vision-kpi-note {{ color: {muted}; font-size: 12px; padding: 1px 0 3px; }}
.vision-app .vision-kpi-alert .vision-kpi-value {{ color: {error}; }}
/* A data grid paints through a buffer canvas rounded up to 512 px; under 1024 px wide it stays 1024. */
.vision-data-table {{ max-width: 1000px; }}
.vision-tile {{ background: {card}; border: 1px solid {line}; border-left-width: 6px; border-radius: 8px;
  padding: 8px 14px; margin: 4px 8px 4px 0; width: 230px; }}
.vision-tile-ok {{ border-left-color: {ok_text}; }}
.vision-tile-warn {{ border-left-color: #d97706; }}
.vision-tile-fail {{ border-left-color: {fail_text}; }}
.vision-app .vision-badge {{ border-radius: 10px; padding: 0 8px; font-weight: 600; font-size: 12px; width: fit-content; }}
.vision-app .vision-badge-ok {{ background: {ok_bg}; color: {ok_text}; }}
.vision-app .vision-badge-warn {{ background: {warn_bg}; color: {warn_text}; }}
.vision-app .vision-badge-fail {{ background: {fail_bg}; color: {fail_text}; }}
.vision-app .vision-badge-neutral {{ background: {table_head}; color: {ink}; }}
.vision-tiles {{ flex-wrap: wrap; }}
.vision-download {{ color: {link}; text-decoration: underline; }}
.vision-header .jupyter-button.vision-bell {{ background: transparent; color: {on_navy}; box-shadow: none;
  border: 1px solid rgba(255, 255, 255, .35); border-radius: 6px; min-width: 40px; }}
.vision-header .jupyter-button.vision-bell:hover {{ background: rgba(255, 255, 255, .08); }}
.vision-header .jupyter-button.vision-bell-unread {{ background: {fail_bg}; color: {fail_text}; font-weight: 700;
  border-color: {fail_bg}; }}
.vision-row {{ gap: 12px; }}
.vision-notification {{ background: {card}; border: 1px solid {line}; border-left-width: 6px; border-radius: 8px;
  padding: 6px 14px; margin: 4px 0; align-items: flex-start; gap: 12px; }}
.vision-notification-unread {{ border-left-color: {primary}; }}
.vision-notification-read {{ border-left-color: {line}; }}
.vision-notification > .widget-vbox {{ flex: 1 1 auto; min-width: 0; }}
.vision-app .vision-notification-title {{ font-weight: 600; color: {navy}; }}
.vision-notification-unread .vision-notification-title::before {{ content: "● "; color: {primary}; }}
.vision-app .vision-notification-meta {{ color: {muted}; font-size: 12px; }}
.vision-app .vision-notification .widget-label, .vision-app .vision-notification .widget-html-content {{ min-height: 0; }}
.vision-app .vision-notification-meta {{ padding-top: 0; }}
.vision-notification-features {{ max-width: 640px; margin: 2px 0 4px 0; }}
.vision-notification-features .vision-table td, .vision-notification-features .vision-table th {{ padding: 2px 8px; }}
.vision-app .vision-demo-badge {{ background: {badge_bg}; color: {badge_text}; border-radius: 10px; padding: 0 8px; }}
</style>
"""

CSS = _CSS.format(**COLOURS)


def stylesheet() -> w.HTML:
    """A widget carrying the app's CSS; display it once at the top of the app."""
    style = w.HTML(CSS)
    style.layout.display = "none"
    return style


def _channel(c: int) -> float:
    s = c / 255
    return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    h = colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21; AA needs 4.5 for body text)."""
    a, b = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)
