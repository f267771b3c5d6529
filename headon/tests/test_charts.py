"""The SVG charts: well-formed, CSP-safe, escaped, and drawn to scale."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET

import pytest

from headon.charts import (
    Series,
    Wording,
    bar_chart,
    default_format,
    horizontal_bar_chart,
    line_chart,
    nice_ticks,
    sparkline,
    text_width,
    truncate,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert(\'x\')</script> "quoted" & <b onload="x()">'
DAYS = [f"2026-11-{day:02d}" for day in range(1, 31)]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def local(element: ET.Element) -> str:
    return element.tag.removeprefix(SVG)


def every_kind(labels: list[str], title: str = "Chart") -> dict[str, str]:
    values = [3.0, 5.0, None, 8.0][: len(labels)] + [1.0] * max(0, len(labels) - 4)
    series = [Series(labels[0] if labels else "one", values), Series("two", values)]
    return {
        "stacked": bar_chart(labels, series, title=title),
        "grouped": bar_chart(labels, series, title=title, stacked=False),
        "line": line_chart(labels, series, title=title),
        "horizontal": horizontal_bar_chart(labels, values, title=title),
        "sparkline": sparkline(values, title=title),
    }


def num(element: ET.Element, name: str) -> float:
    value = element.get(name)
    assert value is not None, f"<{local(element)}> has no {name}"
    return float(value)


def child_text(element: ET.Element, tag: str) -> str:
    """The text of the element's first <tag> child, which must exist."""
    found = element.find(f"{SVG}{tag}")
    assert found is not None, f"<{local(element)}> has no <{tag}>"
    return found.text or ""


def tick_labels(root: ET.Element) -> list[str]:
    return [e.text or "" for e in root.iter(f"{SVG}text") if e.get("class") == "tick"]


def rects(root: ET.Element, css_class: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{SVG}rect") if css_class in e.get("class", "").split()]


def texts(root: ET.Element) -> list[str]:
    """The text of each <text> element, without the hover <title> inside."""
    return [e.text or "" for e in root.iter(f"{SVG}text")]


# -- well-formed and safe under the CSP ---------------------------------------


@pytest.mark.parametrize("labels", [["a", "b", "c", "d"], DAYS, ["问题一", "Question two"], []])
def test_every_chart_kind_parses_as_xml_with_an_accessible_name(labels):
    for kind, svg in every_kind(labels).items():
        root = parse(svg)
        assert local(root) == "svg", kind
        assert root.get("role") == "img", kind
        title_id, desc_id = root.get("aria-labelledby", "").split()
        ids = {e.get("id"): local(e) for e in root.iter() if e.get("id")}
        assert ids[title_id] == "title", kind
        assert ids[desc_id] == "desc", kind


def test_no_chart_has_a_style_attribute_style_element_script_or_event_handler():
    charts = every_kind(["a", HOSTILE, "c", "d"], title=HOSTILE)
    charts["legend"] = bar_chart(["a"], [Series(HOSTILE, [1]), Series("b", [2])], title="t")
    for kind, svg in charts.items():
        for element in parse(svg).iter():
            assert local(element) not in {"style", "script", "foreignObject"}, kind
            assert "style" not in element.attrib, kind
            assert not [name for name in element.attrib if name.lower().startswith("on")], kind


def test_hostile_labels_come_back_as_the_same_text_and_inject_nothing():
    label = HOSTILE + "\x00\x1b"  # control characters are not allowed in XML
    expected = HOSTILE
    charts = {
        "bar": bar_chart([label], [Series(label, [1]), Series("b", [2])], title=label),
        "line": line_chart([label, "b"], [Series(label, [1, 2])], title=label, y_label=label),
        "horizontal": horizontal_bar_chart([label], [1], title=label, max_label_chars=200),
        "sparkline": sparkline([1, 2], title=label),
    }
    allowed = {"svg", "title", "desc", "text", "g", "rect", "line", "path", "circle", "tspan"}
    for kind, svg in charts.items():
        root = parse(svg)
        assert {local(e) for e in root.iter()} <= allowed, kind
        assert child_text(root, "title") == expected, kind
    hbar = parse(charts["horizontal"])
    assert [e.text for e in hbar.iter(f"{SVG}text") if e.get("class") == "label"] == [expected]
    hovers = {e.text for e in parse(charts["bar"]).iter(f"{SVG}title")}
    assert f"{expected} · {expected}: 1" in hovers


def test_a_hostile_id_prefix_is_reduced_to_safe_characters():
    root = parse(bar_chart(["a"], [Series("x", [1])], title="t", id_prefix='x" onload="evil() y'))
    assert "onload" not in root.attrib
    assert all(part.startswith("c-x--onload") for part in root.get("aria-labelledby", "").split())


def test_two_identical_charts_get_different_ids():
    first = parse(bar_chart(["a"], [Series("x", [1])], title="Same"))
    second = parse(bar_chart(["a"], [Series("x", [1])], title="Same"))
    first_ids = {e.get("id") for e in first.iter() if e.get("id")}
    second_ids = {e.get("id") for e in second.iter() if e.get("id")}
    assert len(first_ids) == 2
    assert not first_ids & second_ids


# -- drawn to scale -----------------------------------------------------------


def test_a_stacked_bar_of_three_and_five_is_as_tall_as_a_bar_of_eight():
    root = parse(
        bar_chart(["mon", "tue"], [Series("web", [3, 8]), Series("sms", [5, 0])], title="Asks")
    )
    heights: dict[str, list[float]] = {}
    for rect in rects(root, "bar"):
        category = child_text(rect, "title").split(" · ")[0]
        heights.setdefault(category, []).append(num(rect, "height"))
    assert len(heights["mon"]) == 2
    assert len(heights["tue"]) == 1  # a zero draws nothing
    assert sum(heights["mon"]) == pytest.approx(heights["tue"][0], abs=0.01)
    assert heights["mon"][0] / heights["mon"][1] == pytest.approx(3 / 5, rel=0.01)


def test_stacked_segments_touch_without_overlapping():
    root = parse(
        bar_chart(["mon"], [Series("a", [3]), Series("b", [5]), Series("c", [2])], title="t")
    )
    spans = sorted((num(r, "y"), num(r, "y") + num(r, "height")) for r in rects(root, "bar"))
    for (_, bottom), (top, _) in itertools.pairwise(spans):
        assert top == pytest.approx(bottom, abs=0.01)


def test_grouped_bars_stand_side_by_side_from_the_same_baseline():
    root = parse(
        bar_chart(
            ["s1"], [Series("demand", [120]), Series("capacity", [80])], title="t", stacked=False
        )
    )
    demand, capacity = rects(root, "bar")
    assert num(demand, "x") < num(capacity, "x")
    bottom = num(demand, "y") + num(demand, "height")
    assert num(capacity, "y") + num(capacity, "height") == pytest.approx(bottom)
    assert num(demand, "height") / num(capacity, "height") == pytest.approx(1.5, rel=0.01)


def test_negative_values_hang_below_the_zero_line():
    root = parse(bar_chart(["a", "b"], [Series("x", [4, -2])], title="t"))
    up, down = rects(root, "bar")
    assert num(down, "y") == pytest.approx(num(up, "y") + num(up, "height"))
    assert num(down, "height") == pytest.approx(num(up, "height") / 2, rel=0.01)


def test_a_share_is_drawn_against_its_whole_not_against_the_largest_share():
    def widths(scale_max: float | None = None) -> list[float]:
        svg = horizontal_bar_chart(["a", "b"], [25, 50], title="t", scale_max=scale_max)
        return [num(r, "width") for r in rects(parse(svg), "bar")]

    assert widths()[1] > 1.9 * widths()[0]  # 50 fills the scale
    half, whole = widths(scale_max=100), widths()
    assert half[1] < 0.6 * whole[1]  # 50 of 100 is about half of it
    assert half[1] == pytest.approx(2 * half[0], rel=0.02)
    assert widths(scale_max=10) == whole  # a scale_max below the data changes nothing


def test_each_series_keeps_its_colour_index():
    root = parse(bar_chart(["a"], [Series("x", [1], colour_index=3), Series("y", [1])], title="t"))
    classes = [r.get("class") for r in rects(root, "bar")]
    assert classes == ["bar series-3", "bar series-1"]


# -- lines --------------------------------------------------------------------


def line_paths(root: ET.Element) -> list[str]:
    return [p.get("d", "") for p in root.iter(f"{SVG}path")]


def test_a_missing_value_breaks_the_line_into_separate_paths():
    values = [1, 2, None, 4, 5, float("nan"), 7, 8]
    root = parse(line_chart([str(i) for i in range(8)], [Series("x", values)], title="t"))
    paths = line_paths(root)
    assert len(paths) == 3
    assert all(path.count("M") == 1 and path.count("L") == 1 for path in paths)


def test_a_lone_point_between_gaps_is_drawn_as_a_dot():
    labels = [str(i) for i in range(40)]  # too many points to mark them all
    values: list[float | None] = [1.0] * 40
    values[10], values[12] = None, None
    root = parse(line_chart(labels, [Series("x", values)], title="t"))
    assert len(line_paths(root)) == 2
    assert len(list(root.iter(f"{SVG}circle"))) == 1


def test_the_y_axis_spans_the_requested_range_and_grows_for_outliers():
    root = parse(line_chart(["a", "b"], [Series("x", [40, 60])], title="t", y_min=0, y_max=100))
    ticks = tick_labels(root)
    assert ticks[0] == "0"
    assert ticks[-1] == "100"
    root = parse(line_chart(["a", "b"], [Series("x", [40, 130])], title="t", y_min=0, y_max=100))
    ticks = tick_labels(root)
    assert float(ticks[-1]) >= 130


def test_a_nan_axis_bound_is_ignored():
    root = parse(line_chart(["a", "b"], [Series("x", [4, 6])], title="t", y_max=math.nan))
    ticks = tick_labels(root)
    assert ticks[0] == "0"
    assert ticks[-1] == "6"


def test_the_description_names_the_highest_and_latest_values():
    svg = line_chart(
        ["2026-11-22", "2026-11-23", "2026-11-24"], [Series("asks", [12, 1204, 800])], title="Asks"
    )
    desc = child_text(parse(svg), "desc")
    assert "Highest: 2026-11-23, 1,204" in desc
    assert "Latest: 2026-11-24, 800" in desc


# -- edge cases ---------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        [],
        [None, None],
        [float("nan"), float("inf"), float("-inf")],
    ],
)
def test_empty_data_says_no_data_instead_of_failing(values):
    labels = [str(i) for i in range(len(values))]
    wording = Wording(no_data="暂无数据")
    charts = [
        bar_chart(labels, [Series("x", values)], title="t", wording=wording),
        line_chart(labels, [Series("x", values)], title="t", wording=wording),
        horizontal_bar_chart(labels, values, title="t", wording=wording),
    ]
    for svg in charts:
        root = parse(svg)
        assert "暂无数据" in texts(root)
        assert not rects(root, "bar")
    assert child_text(parse(sparkline(values, title="t")), "desc") == "No data"


def test_charts_with_no_categories_or_no_series_say_no_data():
    assert "No data" in texts(parse(bar_chart([], [Series("x", [1, 2])], title="t")))
    assert "No data" in texts(parse(bar_chart(["a"], [], title="t")))
    assert "No data" in texts(parse(line_chart(["a"], [], title="t")))


@pytest.mark.parametrize(
    "values",
    [
        [0, 0, 0],
        [5, 5, 5],
        [-3, -1, -2],
        [1e308, 1e308, 1],
        [1e-300, 2e-300, 0],
        [float("inf"), 2, -1],
    ],
)
def test_awkward_numbers_draw_finite_shapes(values):
    labels = ["a", "b", "c"]
    series = [Series("x", values), Series("y", values)]
    charts = [
        bar_chart(labels, series, title="t"),
        bar_chart(labels, series, title="t", stacked=False),
        line_chart(labels, series, title="t"),
        horizontal_bar_chart(labels, values, title="t"),
        sparkline(values, title="t"),
    ]
    for svg in charts:
        for element in list(parse(svg).iter())[1:]:  # the <svg> itself is 100% wide
            for name in ("x", "y", "width", "height", "cx", "cy"):
                if name in element.attrib:
                    assert math.isfinite(num(element, name)), svg
            assert float(element.get("height", "0")) >= 0


def test_a_short_chart_with_a_tall_legend_grows_instead_of_drawing_upside_down():
    series = [Series(f"channel {i}", [1, 2]) for i in range(12)]
    root = parse(bar_chart(["a", "b"], series, title="t", height=60))
    view_height = float(root.get("viewBox", "").split()[3])
    assert view_height > 60
    for rect in rects(root, "bar"):
        assert num(rect, "height") > 0
        assert num(rect, "y") + num(rect, "height") <= view_height


def test_values_beyond_the_categories_are_ignored_and_short_series_padded():
    root = parse(bar_chart(["a", "b"], [Series("x", [1, 2, 3]), Series("y", [4])], title="t"))
    assert len(rects(root, "bar")) == 3


# -- labels -------------------------------------------------------------------


def test_sixty_days_of_labels_are_thinned_so_they_do_not_overlap():
    days = [f"2026-10-{i:02d}" for i in range(1, 31)] + [f"2026-11-{i:02d}" for i in range(1, 31)]
    root = parse(bar_chart(days, [Series("asks", list(range(60)))], title="t"))
    shown = [e for e in root.iter(f"{SVG}text") if e.get("class") == "category"]
    assert 3 <= len(shown) < 12
    xs = sorted(num(e, "x") for e in shown)
    widest = max(text_width(e.text or "") for e in shown)
    assert all(b - a > widest for a, b in itertools.pairwise(xs))


def test_a_few_long_category_names_wrap_onto_two_lines():
    sessions = ["Sat 10:00 morning tour", "Sun 14:00 family session with kids", "Mon", "Tue"]
    root = parse(bar_chart(sessions, [Series("demand", [3, 4, 5, 6])], title="t"))
    labels = [e for e in root.iter(f"{SVG}text") if e.get("class") == "category"]
    assert [e.text for e in labels] == ["Sat 10:00", "Sun 14:00", "Mon", "Tue"]
    assert [t.text for t in labels[0].iter(f"{SVG}tspan")] == ["morning tour"]
    assert labels[0].find(f"{SVG}title") is None  # nothing was cut
    assert child_text(labels[1], "tspan").endswith("…")
    assert child_text(labels[1], "title") == sessions[1]


def test_a_long_label_is_cut_with_an_ellipsis_and_kept_whole_for_hover():
    label = "为什么工厂开放日的名额这么少，能不能多开几场 please add more sessions"
    root = parse(
        horizontal_bar_chart([label, "short"], [10, 4], title="Rising", max_label_chars=30)
    )
    first = next(e for e in root.iter(f"{SVG}text") if e.get("class") == "label")
    assert (first.text or "").endswith("…")
    assert text_width(first.text or "") <= 30 * 0.55 * 12
    assert child_text(first, "title") == label
    assert "short" in texts(root)


def test_text_width_counts_chinese_as_a_full_em_and_latin_as_about_half():
    assert text_width("问题", 10) == pytest.approx(20)
    assert text_width("ab", 10) == pytest.approx(11)


def test_truncate_keeps_text_that_fits_and_cuts_text_that_does_not():
    assert truncate("short", 100) == "short"
    cut = truncate("问题问题问题问题问题", 60, 12)
    assert cut == "问题问题…"  # four ems and the ellipsis's one
    assert text_width(cut, 12) <= 60


# -- numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lo", "hi", "n", "expected"),
    [
        (0, 8, 5, [0, 2, 4, 6, 8]),
        (0, 100, 5, [0, 20, 40, 60, 80, 100]),
        (0, 0.3, 4, [0, 0.1, 0.2, 0.3]),
        (-3, 7, 5, [-4, -2, 0, 2, 4, 6, 8]),
        (0, 1, 5, [0, 0.2, 0.4, 0.6, 0.8, 1]),
        (3, 97, 3, [0, 50, 100]),
        (8, 0, 5, [0, 2, 4, 6, 8]),
    ],
)
def test_nice_ticks_are_round_and_cover_the_range(lo, hi, n, expected):
    assert nice_ticks(lo, hi, n) == expected  # exactly: 0.3, not 0.30000000000000004


def test_nice_ticks_widen_a_single_value_into_a_range():
    assert nice_ticks(0, 0) == pytest.approx([-1, -0.5, 0, 0.5, 1])
    ticks = nice_ticks(5, 5)
    assert ticks[0] < 5 < ticks[-1]


def test_nice_ticks_handle_huge_and_tiny_ranges():
    ticks = nice_ticks(0, 1e300)
    assert ticks[-1] >= 1e300
    assert all(math.isfinite(t) for t in ticks)
    assert nice_ticks(1e-9, 3e-9, 3) == pytest.approx([1e-9, 2e-9, 3e-9])


def test_nice_ticks_refuse_infinite_bounds():
    with pytest.raises(ValueError, match="finite"):
        nice_ticks(0, math.inf)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1204, "1,204"),
        (3.5, "3.5"),
        (0.25, "0.25"),
        (-2, "-2"),
        (123.4, "123"),
        (1.2e20, "1.2e+20"),
    ],
)
def test_default_format(value, shown):
    assert default_format(value) == shown
