"""Regenerate docs/screenshots/: every page of the web app, for a user and for an admin.

    PYTHONPATH=. .venv/bin/python -m tests.support.screenshots [--out docs/screenshots]

It starts the real server on the demo data (``vision init --demo``, what ``make dashboard``
shows; small demo files so it takes about a minute), logs in through the form in headless
Chromium and saves ``<role>-<page>.png`` of the element holding the app (Voila scrolls inside
the page, so a full-page screenshot would miss what is below the fold).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.server_process import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LOGIN_USERNAME,
    REPO_ROOT,
    server_env,
    start_server,
    stop_server,
)
from tests.support.shell_pages import ADMIN, USER, log_in, nav_titles, open_page

VIEWPORT = {"width": 1400, "height": 900}
#: Model 360's tabs, in order (the first is the page's own screenshot).
MODEL_TABS = ("Features & drift", "Drivers", "Distributions", "Drift over time", "Performance")


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def demo_server(root: Path):
    """A server on the demo data in ``root``."""
    from vision_widgets.demo import datasets

    home = root / "home"
    datasets.write_files(home / "demo-data", train_rows=3000, weekly_rows=500)
    done = subprocess.run([sys.executable, "-m", "vision_widgets", "init", "--demo"], cwd=REPO_ROOT,
                          env=server_env(home), capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit("`vision init --demo` failed:\n" + done.stdout + done.stderr)
    return start_server(home, root / "server.log", init=False)


def whole_app(page, path: Path) -> Path:
    """Screenshot the app element whole: the window is made as tall as the app first (Voila's
    page scrolls inside a container, which clips an element screenshot to the window)."""
    page.mouse.move(VIEWPORT["width"] - 5, 5)  # no hover highlight on the shot
    page.evaluate("document.activeElement && document.activeElement.blur()")
    height = page.evaluate("Math.ceil(document.querySelector('.vision-app').scrollHeight)")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], height + 40)})
    page.locator(".vision-app").screenshot(path=str(path), animations="disabled")
    page.set_viewport_size(VIEWPORT)
    return path


def shot(page, name: str) -> None:
    """``whole_app`` into ``$VISION_SCREENSHOTS/<name>.png`` when that variable names a folder (e2e tests
    keep pictures of the page on the way that way); nothing otherwise."""
    import os

    folder = os.environ.get("VISION_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        whole_app(page, Path(folder) / f"{name}.png")


def shoot(base_url: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved: list[Path] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for role, (username, password) in (("user", USER), ("admin", ADMIN)):
                ctx = browser.new_context(viewport=VIEWPORT)
                ctx.set_default_timeout(90_000)
                page = ctx.new_page()
                page.goto(base_url, wait_until="commit")
                page.wait_for_selector(LOGIN_USERNAME, state="visible")
                if role == "user":
                    saved.append(whole_app(page, out / "login.png"))
                log_in(page, username, password)
                for title in nav_titles(page):
                    open_page(page, title)
                    path = out / f"{role}-{slug(title)}.png"
                    saved.append(whole_app(page, path))
                    if title == "Model 360":  # each tab of the first model too: the charts live there
                        for tab in MODEL_TABS[1:]:
                            page.get_by_role("tab", name=tab).click()
                            page.locator(f'[role="tab"][aria-selected="true"]:has-text("{tab}")').wait_for()
                            page.wait_for_timeout(1000)  # a picture, not a test: let bqplot finish drawing
                            saved.append(whole_app(page, out / f"{role}-{slug(title)}-{slug(tab)}.png"))
                        page.get_by_role("tab", name=MODEL_TABS[0]).click()
                    if title == "Business Metrics":  # the KPI cards come first; then the charts and the table
                        main = page.locator(".vision-page-metrics")
                        main.get_by_text("Download CSV").wait_for()
                        main.locator(".vision-data-grid canvas").first.wait_for()
                        page.wait_for_timeout(1000)
                        saved[-1] = whole_app(page, path)
                    if title == "Drift":  # the first model's latest window, then its other tab and its settings
                        main = page.locator(".vision-page-drift")  # Model 360 stays in the body, hidden
                        main.locator(".bqplot", has_text="Drift score per window").wait_for()
                        page.wait_for_timeout(1000)
                        saved[-1] = whole_app(page, path)  # again, now that bqplot has drawn
                        main.get_by_role("tab", name="Performance").click()
                        chart = main.locator(".bqplot", has_text="estimated vs realised")
                        untold = main.get_by_text("cannot be told in any window")
                        chart.or_(untold).first.wait_for()
                        if untold.is_visible():  # fraud's threshold metrics: try the ROC AUC
                            main.get_by_label("Metric").select_option("ROC AUC")
                            main.get_by_text("ROC AUC cannot be told").or_(chart).first.wait_for()
                        page.wait_for_timeout(1000)
                        saved.append(whole_app(page, out / f"{role}-drift-performance.png"))
                        main.get_by_role("tab", name="Feature drift").click()
                        main.get_by_text("Drift settings: methods, thresholds").click()
                        main.get_by_role("button", name="Save and recompute").wait_for()
                        saved.append(whole_app(page, out / f"{role}-drift-settings.png"))
                ctx.close()
        finally:
            browser.close()
    return saved


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vision-shots-") as tmp:
        server = demo_server(Path(tmp))
        try:
            for path in shoot(server.base_url, args.out):
                print(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path)
        finally:
            stop_server(server)


if __name__ == "__main__":
    main()
