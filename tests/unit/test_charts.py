"""hubver.charts: the SVG line charts of the pages and of the pictures committed with a version."""

import math
import xml.etree.ElementTree as ET

import pytest

from hubver.charts import Marker, Point, line_chart, nice_ticks

pytestmark = pytest.mark.fast

SVG = "{http://www.w3.org/2000/svg}"


def chart(values, **kw):
    points = [Point(i, v, f"v{i}: {v}", f"v{i}") for i, v in enumerate(values)]
    kw.setdefault("title", "eval_loss")
    return line_chart(points, x_label=kw.pop("x_label", "version"), y_label="eval_loss", **kw)


def circles(svg):
    return ET.fromstring(svg).iter(f"{SVG}circle")


def plotted(svg):
    return [(c.get("data-key"), float(c.get("data-value"))) for c in circles(svg)]


def y_tick_labels(svg):
    axis = next(g for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("class") == "y-axis")
    return [t.text for t in axis.iter(f"{SVG}text")]


def test_every_point_is_a_circle_carrying_its_key_value_and_label_in_order():
    values = [0.91, 0.5, 0.7321, 0.42]
    svg = chart(values)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("class") == "chart"
    assert plotted(svg) == [(f"v{i}", v) for i, v in enumerate(values)]
    assert [c.find(f"{SVG}title").text for c in circles(svg)] == [f"v{i}: {v}" for i, v in enumerate(values)]
    assert all(c.get("class") == "point" for c in circles(svg))
    # Lower values are drawn lower on the page (higher y coordinate).
    cy = {c.get("data-key"): float(c.get("cy")) for c in circles(svg)}
    assert cy["v3"] > cy["v1"] > cy["v2"] > cy["v0"]


def test_size_and_class_are_the_callers():
    root = ET.fromstring(chart([1, 2], width=800, height=200, css_class="chart metric"))
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("800", "200", "0 0 800 200")
    assert root.get("class") == "chart metric"


def test_the_same_input_draws_the_same_bytes():
    assert chart([0.3, 0.2, 0.1]) == chart([0.3, 0.2, 0.1])


def test_no_points_is_a_valid_svg_that_says_no_data():
    for svg in (chart([]), chart([math.nan, math.inf, -math.inf]), chart([], empty_text="no loss recorded")):
        root = ET.fromstring(svg)
        assert list(circles(svg)) == [] and root.get("data-points") == "0"
        assert any(t.get("class") == "empty" for t in root.iter(f"{SVG}text"))
    assert "no loss recorded" in chart([], empty_text="no loss recorded")


@pytest.mark.parametrize("values", [[0.5], [2.0, 2.0, 2.0], [0.0], [-3.0]])
def test_one_point_or_equal_values_get_a_range_around_them(values):
    svg = chart(values)
    assert plotted(svg) == [(f"v{i}", v) for i, v in enumerate(values)]
    ticks = [float(t) for t in y_tick_labels(svg)]
    assert len(ticks) >= 2 and min(ticks) < values[0] < max(ticks)
    assert all(0 <= float(c.get("cy")) <= 300 for c in circles(svg))


def test_nan_and_infinite_points_are_skipped_and_the_rest_kept():
    svg = chart([0.5, math.nan, 0.4, math.inf, -math.inf, 0.3])
    assert plotted(svg) == [("v0", 0.5), ("v2", 0.4), ("v5", 0.3)]
    markers = [Marker(math.nan, "x", "bad", "v9"), Marker(2, "prod -> v2", "prod", "v2")]
    root = ET.fromstring(chart([1, 2, 3], markers=markers))
    assert [g.get("data-alias") for g in root.iter(f"{SVG}g") if g.get("class") == "marker"] == ["prod"]


def test_negative_values_get_ticks_across_zero():
    ticks = [float(t) for t in y_tick_labels(chart([-5, -3, 10]))]
    assert min(ticks) <= -5 and max(ticks) >= 10 and 0.0 in ticks


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        (0.0, 1.0),
        (1e300, 2e300),
        (1e-300, 3e-300),
        (-1.7e308, 1.7e308),
        (5e-324, 5e-324),
        (1e-7, 1.0000001e-7),
    ],
)
def test_ticks_are_finite_ordered_and_cover_the_values_from_tiny_to_huge(lo, hi):
    ticks = nice_ticks(lo, hi)
    assert 2 <= len(ticks) <= 12 and ticks == sorted(ticks) and all(math.isfinite(t) for t in ticks)
    svg = chart([lo, hi])
    labels = y_tick_labels(svg)
    assert len(set(labels)) == len(labels), labels  # enough digits to tell ticks apart
    assert all(math.isfinite(float(t)) for t in labels)
    assert sorted(v for _, v in plotted(svg)) == sorted([lo, hi])


def test_round_ticks_for_ordinary_values():
    assert nice_ticks(0.42, 0.91) == pytest.approx([0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert y_tick_labels(chart([0.42, 0.91]))[:3] == ["0.4", "0.5", "0.6"]


def test_thousands_of_points_keep_a_circle_each_but_a_thin_line():
    values = [math.sin(i / 50) + i * 1e-4 for i in range(5000)]
    svg = chart(values)
    assert len(plotted(svg)) == 5000
    line = next(e for e in ET.fromstring(svg).iter(f"{SVG}polyline"))
    vertices = line.get("points").split()
    assert len(vertices) <= 4 * 640
    # The thinned line still reaches the extremes.
    ys = [float(v.split(",")[1]) for v in vertices]
    cys = [float(c.get("cy")) for c in circles(svg)]
    assert min(ys) == min(cys) and max(ys) == max(cys)


def test_text_is_escaped_everywhere():
    evil = '<script>alert("x")</script>&'
    points = [
        Point(0, 1, evil, evil, href="javascript:alert(1)"),
        Point(1, 2, "ok", "k2", href="/a/b/versions/v2"),
    ]
    svg = line_chart(
        points,
        title=evil,
        x_label=evil,
        y_label=evil,
        markers=[Marker(0, evil, evil, evil)],
        x_ticks=[(0, evil), (1, "v2")],
    )
    root = ET.fromstring(svg)  # well-formed
    assert "<script" not in svg and "javascript:" not in svg
    assert not any(e.tag.endswith("script") for e in root.iter())
    assert [c.get("data-key") for c in circles(svg)] == [evil, "k2"]
    assert next(circles(svg)).find(f"{SVG}title").text == evil
    marker = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "marker")
    assert marker.get("data-alias") == evil and marker.get("data-version") == evil
    links = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert links == ["/a/b/versions/v2"]


@pytest.mark.parametrize(
    "href", ["//evil.example/x", "https://evil.example", "data:text/html,x", " /x", "/\\evil"]
)
def test_only_same_site_links(href):
    assert "<a " not in line_chart([Point(0, 1, "l", "k", href=href)], title="t", x_label="x", y_label="y")


def test_characters_xml_cannot_hold_do_not_break_the_document():
    svg = chart([1, 2], title="a\x00b\x1bc\ud800d")
    assert ET.fromstring(svg).find(f"{SVG}title").text == "a\ufffdb\ufffdc\ufffdd"


def test_no_script_no_external_reference_no_inline_style():
    svg = chart([1, 2, 3], markers=[Marker(1, "m", "prod", "v1")], x_ticks=[(0, "v0"), (1, "v1"), (2, "v2")])
    root = ET.fromstring(svg)
    for e in root.iter():
        assert e.tag.split("}")[1] not in ("script", "style", "image", "use", "foreignObject")
        assert "style" not in e.attrib and "id" not in e.attrib
        assert not any(k.startswith("on") for k in e.attrib)
    assert "url(" not in svg and "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_markers_carry_alias_and_version_and_stack_when_sharing_a_version():
    markers = [Marker(1, "prod -> v1", "prod", "v1"), Marker(1, "staging -> v1", "staging", "v1")]
    root = ET.fromstring(chart([1, 2, 3], markers=markers))
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "marker"]
    assert [(g.get("data-alias"), g.get("data-version")) for g in groups] == [
        ("prod", "v1"),
        ("staging", "v1"),
    ]
    assert groups[0].find(f"{SVG}title").text == "prod -> v1"
    label_y = [float(g.find(f"{SVG}text").get("y")) for g in groups]
    assert label_y[0] != label_y[1]


def test_long_labels_are_shortened_on_the_picture_and_kept_whole_in_the_title():
    long = "a-very-long-version-label-" * 20
    svg = chart([1, 2], title=long, x_ticks=[(0, long), (1, "v1")], width=300)
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == long
    shown = [t for t in root.iter(f"{SVG}text") if t.text and t.text.endswith("\u2026")]
    assert shown and all(len(t.text) < 60 for t in shown)
    tick_titles = [
        t.find(f"{SVG}title").text for t in root.iter(f"{SVG}text") if t.find(f"{SVG}title") is not None
    ]
    assert long in tick_titles


def test_many_x_labels_are_thinned_to_fit():
    n = 400
    svg = chart(list(range(n)), x_ticks=[(i, f"v{i}") for i in range(n)])
    axis = next(g for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("class") == "x-axis")
    shown = [t.find(f"{SVG}title").text for t in axis.iter(f"{SVG}text")]
    assert 2 <= len(shown) <= 60 and shown[0] == "v0" and shown[-1] == f"v{n - 1}"
    assert len(plotted(svg)) == n


def test_everyday_tick_labels_are_plain_decimals():
    assert y_tick_labels(chart([0, 3000])) == ["0", "1000", "2000", "3000"]
    assert y_tick_labels(chart([1, 1.0002])) == ["1.00000", "1.00005", "1.00010", "1.00015", "1.00020"]
    steps = line_chart(
        [Point(x, 1.0, "l", str(x)) for x in (0, 1500, 3000)], title="t", x_label="step", y_label="y"
    )
    axis = next(g for g in ET.fromstring(steps).iter(f"{SVG}g") if g.get("class") == "x-axis")
    assert not any("e+" in t.find(f"{SVG}title").text for t in axis.iter(f"{SVG}text"))
