"""Chart builders fed known data: marks hold the right x/y (bin edges on the value axis,
coefficients sorted by size with their intervals, categories sorted by share)."""
from __future__ import annotations

import numpy as np
import pytest

from vision_widgets.components.charts import CoefficientChart, DistributionChart, drawn_edges


def test_a_numeric_distribution_is_drawn_over_its_bin_edges_as_densities():
    chart = DistributionChart()
    edges = [0.0, 10.0, 20.0, 40.0]  # inner edges; the outer bins (< 0, >= 40) are open
    training = [0.1, 0.2, 0.3, 0.3, 0.1]
    production = [0.0, 0.1, 0.2, 0.4, 0.3]
    chart.update("x: training vs production", ["< 0", "0–10", "10–20", "20–40", "≥ 40"], training, production,
                 edges=edges, unit="x (EUR)")
    assert chart.kind == "numeric" and chart.value_axis.label == "x (EUR)"
    drawn = [-10.0, 0.0, 10.0, 20.0, 40.0, 60.0]  # open bins drawn as wide as their neighbour
    assert list(drawn_edges(edges)) == drawn
    area = chart.areas["training"]
    assert list(area.x) == [e for e in drawn for _ in (0, 1)]  # a step outline over the real edges
    widths = np.diff(drawn)
    assert list(area.y[1:-1:2]) == pytest.approx(list(np.asarray(training) / widths))
    assert list(chart.points["production"].x) == [-5.0, 5.0, 15.0, 30.0, 50.0]
    assert chart.points["production"].names[3] == "20–40: 40.00% of rows"
    assert chart.value.min < -10 and chart.value.max > 60  # no bin clipped at either end
    assert chart.y.max > max(np.asarray(production) / widths)  # head room under the title and legend


def test_categories_are_grouped_bars_sorted_by_share_with_other_last():
    chart = DistributionChart()
    chart.update("c", ["b", "(other)", "a", "new"], [0.3, 0.1, 0.6, 0.0], [0.2, 0.1, 0.5, 0.2])
    assert chart.kind == "categorical" and chart.figure.marks == [chart.bars]
    assert list(chart.bars.x) == ["a", "b", "new", "(other)"]
    assert np.asarray(chart.bars.y).tolist() == [[0.6, 0.3, 0.0, 0.1], [0.5, 0.2, 0.2, 0.1]]
    assert chart.y.max == pytest.approx(0.6 * 1.35)


def test_an_empty_distribution_keeps_a_non_empty_domain():
    chart = DistributionChart()
    chart.update("Distribution", [], [], [])
    assert (chart.y.min, chart.y.max) == (0.0, 1.0)
    assert list(chart.bars.x) == ["–"]


def test_coefficients_are_sorted_by_size_with_95_intervals_and_a_table():
    chart = CoefficientChart()
    chart.update(["a", "b", "c"], [0.2, -0.9, 0.5], [0.01, 0.04, 0.0])
    assert list(chart.bars.x) == ["b", "c", "a"]
    assert list(chart.bars.y) == [-0.9, 0.5, 0.2]
    lo_hi = np.asarray(chart.errors.x)
    assert lo_hi[0] == pytest.approx([-0.9 - 1.96 * 0.2, -0.9 + 1.96 * 0.2])
    assert [list(y) for y in chart.errors.y] == [["b", "b"], ["c", "c"], ["a", "a"]]
    assert chart.value.min < -0.9 - 1.96 * 0.2 and chart.value.max > 0.9 + 1.96 * 0.2
    rows = chart.table.value
    assert rows.index("<td>b</td>") < rows.index("<td>c</td>") < rows.index("<td>a</td>")
    assert "<td>-0.9</td><td>0.2</td><td>-1.292 to -0.508</td>" in rows
