"""Drive the app's shell in Chromium the way a person does: shared by the e2e tests and the
screenshot script (log in, list the navigation, open each page and wait until it shows).

Controls are found by their accessible names; a page counts as open when its title heads the
page and the page's own content is there — never after a fixed sleep.
"""
from __future__ import annotations

#: A user who owns a model ("dana"-like) and an admin, from users.json (README lists the passwords).
USER = ("datascientist_user", "ds_user123")
ADMIN = ("datascientist_admin", "ds_admin123")

#: What each page shows once it has loaded (a CSS selector inside the page).
LOADED = {
    "Model 360": ".vision-kpi-value:visible, .vision-empty-state:visible",
    "Drift": ".vision-kpi-value:visible, .vision-empty-state:visible",
    "Notifications": ".vision-notification:visible, .vision-empty-state:visible",
    "Register model": "button:visible",
    "Business Metrics": ".vision-kpi-value:visible, .vision-empty-state:visible",
    "LLM Chat": ".vision-chat-intro:visible",
    "Access management": ".vision-table td:visible",
    "My account": ".vision-card:visible",
    "Monitoring": ".vision-tile:visible",
    "Alert delivery": ".vision-card:visible",
}

#: Where the text of a message or a table cell sits (what must never be clipped).
TEXT_SELECTORS = (".vision-status, .vision-app .widget-label, .vision-app .widget-label-basic span, "
                  ".vision-table td, .vision-table th, .vision-kpi-caption, .vision-kpi-value, .vision-kpi-note")

#: JavaScript: the elements among ``TEXT_SELECTORS`` whose text is cut (wider than their box with
#: overflow hidden, or ending in an ellipsis the browser drew).
CLIPPED_JS = """(selector) => {
  const cut = [];
  for (const el of document.querySelectorAll(selector)) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    const s = getComputedStyle(el);
    const hidden = ['hidden', 'clip'].includes(s.overflowX) || ['hidden', 'clip'].includes(s.overflow);
    if ((hidden && el.scrollWidth > el.clientWidth + 1) || (hidden && el.scrollHeight > el.clientHeight + 1)
        || s.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1) {
      cut.push(el.textContent.trim().slice(0, 80));
    }
  }
  return cut;
}"""


def log_in(page, username: str, password: str) -> None:
    """Fill the login form by its labels and press Enter, as a person does."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    page.locator(".vision-nav").wait_for()


def nav_titles(page) -> list[str]:
    """The pages in the navigation bar, in order."""
    page.locator(".vision-nav button").first.wait_for()
    return [t.strip() for t in page.locator(".vision-nav button").all_inner_texts()]


def wait_for_page(page, title: str, timeout: float = 60_000) -> None:
    """Wait until ``title`` heads the page, its nav entry is highlighted and its content is there."""
    page.locator(".vision-page-title", has_text=title).wait_for(timeout=timeout)
    page.locator(".vision-nav-current", has_text=title).wait_for(timeout=timeout)
    selector = LOADED.get(title)
    if selector:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            page.locator(".vision-main").locator(selector).first.wait_for(timeout=timeout)
        except PlaywrightTimeout:  # say what the person would have seen instead
            shown = page.locator(".vision-main").inner_text(timeout=5_000)[:1500]
            raise AssertionError(f"{title}: {selector!r} not shown within {timeout / 1000:g} s; the page "
                                 f"showed:\n{shown}") from None


def open_page(page, title: str) -> None:
    """Click the navigation entry ``title`` and wait for its page."""
    page.locator(".vision-nav").get_by_role("button", name=title).click()
    wait_for_page(page, title)


def clipped_text(page) -> list[str]:
    """The texts of messages, labels and table cells that are cut on screen."""
    return page.evaluate(CLIPPED_JS, TEXT_SELECTORS)


def fill_registration_from_tables(page, model: str, connector: str = "warehouse — SQL database") -> None:
    """On the Register page: pick the fraud demo's two tables in ``connector``'s browser and fill the
    model's name and column roles (the caller presses Register)."""
    page.get_by_label("Connector", exact=True).select_option(label=connector)
    browser = page.get_by_label("Browse", exact=True)
    for table, use in (("fraud_training", "Use for training"), ("fraud_production", "Use for production")):
        page.get_by_role("option", name=f"{table}  · table").wait_for()
        browser.select_option(label=f"{table}  · table")
        page.get_by_text(f"Chosen: {table}").wait_for()
        page.get_by_role("button", name=use).click()
    from playwright.sync_api import expect

    expect(page.get_by_label("Training data")).to_have_value("fraud_training")
    expect(page.get_by_label("Production data")).to_have_value("fraud_production")
    _fill_model(page, model, target="is_fraud", prediction="fraud_score", excluded="record_id")


def fill_registration(page, model: str, training: str, production: str, *, target: str, prediction: str,
                      timestamp: str, excluded: str) -> None:
    """On the Register page: type the training and production files (named by their data folder, as
    users see them) and fill the model's name and column roles (the caller presses Register)."""
    page.get_by_label("Training data").fill(training)
    page.get_by_label("Production data").fill(production)
    _fill_model(page, model, target=target, prediction=prediction, timestamp=timestamp, excluded=excluded)


def _fill_model(page, model: str, *, target: str, prediction: str, excluded: str, timestamp: str | None = None) -> None:
    """The Register page's name and column roles; the Timestamp field is left as it is when ``None``."""
    page.get_by_label("Name", exact=True).fill(model)
    page.get_by_label("Target").fill(target)
    page.get_by_label("Prediction").fill(prediction)
    if timestamp is not None:
        page.get_by_label("Timestamp").fill(timestamp)
    page.get_by_label("Excluded").fill(excluded)


def add_account(page, username: str, password: str, title: str | None = None) -> None:
    """On the Access management page: fill the new account's form and press Add account (the caller
    waits for the answer it expects). The title field is left as it is when ``title`` is ``None``."""
    page.get_by_placeholder("3–32 letters, digits, . _ -").fill(username)
    if title is not None:
        page.get_by_placeholder("e.g. Data Scientist").fill(title)
    page.get_by_placeholder("At least 10 characters").first.fill(password)
    page.get_by_role("button", name="Add account").click()
