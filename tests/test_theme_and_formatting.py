"""The colours read (WCAG AA), messages are never clipped, and numbers read alike on every page."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from vision_widgets.components import formatting as fmt
from vision_widgets.components.theme import COLOURS, CSS, TEXT_PAIRS, contrast


@pytest.mark.parametrize("foreground, background, what", TEXT_PAIRS)
def test_every_text_colour_meets_wcag_aa_on_its_background(foreground, background, what):
    ratio = contrast(COLOURS[foreground], COLOURS[background])
    assert ratio >= 4.5, f"{what}: {foreground} on {background} is {ratio:.2f}:1, AA needs 4.5:1"


def test_the_contrast_formula_matches_wcag_reference_values():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the classic just-fails grey


def test_labels_and_messages_wrap_instead_of_being_cut():
    assert "ellipsis" not in CSS and "nowrap" not in CSS
    rule = re.search(r"\.vision-app \.widget-label, \.vision-app \.widget-html-content \{([^}]*)\}", CSS)
    assert rule is not None
    for declaration in ("white-space: normal", "overflow: visible", "text-overflow: clip", "height: auto"):
        assert declaration in rule.group(1)
    checkbox = re.search(r"\.vision-app \.widget-label-basic, \.vision-app \.widget-label-basic span \{([^}]*)\}", CSS)
    assert checkbox is not None and "white-space: normal" in checkbox.group(1), "checkbox labels wrap too"


def test_ipywidgets_default_buttons_are_recoloured_to_pass_aa():
    assert contrast("#ffffff", "#2196f3") < 4.5 and contrast("#ffffff", "#f44336") < 4.5  # why we override
    assert f"mod-primary {{ background-color: {COLOURS['primary']}" in CSS
    assert f"mod-danger {{ background-color: {COLOURS['danger']}" in CSS


def test_the_drift_verdict_says_the_rule_in_words():
    assert fmt.drift_verdict(2, 6, 0.5) == "2 of 6 features drifted; dataset drift needs 50%"
    assert fmt.drift_verdict(1, 1, 0.3) == "1 of 1 feature drifted; dataset drift needs 30%"
    assert fmt.drift_summary(False, 2 / 6, 0.5) == "No drift: 33% drifted, needs 50%"
    assert fmt.drift_summary(True, 4 / 6, 0.5) == "Drift: 67% drifted, needs 50%"
    assert fmt.drift_summary(None, None, 0.5) == "no drift report yet"


def test_each_kind_of_number_has_one_form():
    assert fmt.share(0.3333) == "33.3%" and fmt.share(None) == "–"
    assert fmt.metric(0.91234) == "0.912" and fmt.metric(1) == "1.000" and fmt.metric(None) == "–"
    assert fmt.count(12345) == "12,345" and fmt.count(1, "row") == "1 row" and fmt.count(3, "row") == "3 rows"
    assert fmt.money(1234.5) == "$1,234.50" and fmt.money(-12) == "-$12.00"
    assert fmt.number(1234.5678) == "1.23e+03" and fmt.number(0.012345) == "0.0123"
    assert [fmt.duration(s) for s in (0.25, 12.34, 245, 7380)] == ["250 ms", "12.3 s", "4 min 05 s", "2 h 03 min"]
    t = datetime(2026, 11, 27, 14, 5, tzinfo=timezone.utc)
    assert fmt.when(t, " UTC") == "2026-11-27 14:05 UTC" and fmt.when(None) == "never"
    assert fmt.clock(t) == "14:05 UTC"


def test_a_kpi_card_shows_its_texts_escaped_and_says_an_alert_in_its_class():
    from vision_widgets.components.kpi_card import KPICard

    card = KPICard("Rows of <b>model</b>")
    card.set("12 of 20", alert=True, note='feature "<img src=x onerror=alert(1)>"')
    assert card.figure == "12 of 20" and card.note.startswith("feature")
    assert "<img" not in card.value and "&lt;img src=x onerror=alert(1)&gt;" in card.value
    assert "&lt;b&gt;model&lt;/b&gt;" in card.value
    assert "vision-kpi-alert" in card._dom_classes
    card.set("3 of 20")
    assert "vision-kpi-alert" not in card._dom_classes and "vision-kpi-note" not in card.value, \
        "no alert and no empty note line once the value is back to normal"
