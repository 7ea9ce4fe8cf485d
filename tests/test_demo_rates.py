"""``vision init --demo`` sets a cost rate for every demo model's platform, with one change in the middle of
the demo's production weeks (so the history matters), once."""
from __future__ import annotations

from vision_widgets.demo import datasets, seeding
from vision_widgets.services import cost_rates
from vision_widgets.services.sessions import operator


def test_every_demo_platform_has_a_rate_and_one_changes_mid_way(ctx):
    seeding._cost_rates(ctx, lambda _: None)
    seeding._cost_rates(ctx, lambda _: None)  # once: a second install adds nothing
    rates = cost_rates.list_rates(ctx, operator("test"))
    assert {m.platform for m in datasets.MODELS} <= {r.platform for r in rates}
    changed = [r for r in rates if r.effective_from == seeding.DEMO_RATE_CHANGE_FROM]
    assert changed and len(rates) == len(seeding.DEMO_RATES) + len(seeding.DEMO_RATE_CHANGES)
    start, end = datasets.PROD_START.date(), (datasets.PROD_START + __import__("pandas").Timedelta(
        weeks=datasets.PROD_WEEKS)).date()
    assert start < seeding.DEMO_RATE_CHANGE_FROM < end
    assert all(r.effective_from <= start for r in rates if r not in changed)
