"""hubver.card_charts: which pictures a version's card gets, and how the card links them."""

import xml.etree.ElementTree as ET

import pytest

from hubver import card
from hubver.card_charts import card_charts, key_metric, markdown_alt, metric_chart, metric_chart_path
from hubver.layout import is_chart, is_managed

pytestmark = pytest.mark.fast

SVG = "{http://www.w3.org/2000/svg}"


def points(svg):
    return [(c.get("data-key"), float(c.get("data-value"))) for c in ET.fromstring(svg).iter(f"{SVG}circle")]


@pytest.mark.parametrize(
    ("metrics", "wanted", "key"),
    [
        ({"train_loss": 1.0, "eval_accuracy": 0.8, "eval_loss": 0.5}, None, "eval_loss"),
        ({"eval_wer": 0.2, "eval_accuracy": 0.8}, None, "eval_wer"),
        ({"train_loss": 1.0, "eval_accuracy": 0.8}, None, "train_loss"),  # losses first, then scores
        ({"eval_runtime": 3.0, "bleu": 30.0}, None, "bleu"),  # timings are not key
        ({"eval_runtime": 3.0}, None, "eval_runtime"),  # else the first metric
        ({"eval_loss": 0.5}, "bleu", "bleu"),  # the option wins
        ({}, None, None),
        ({"eval_loss": float("nan"), "flag": True}, None, None),  # nothing numeric
    ],
)
def test_the_key_metric(metrics, wanted, key):
    assert key_metric(metrics, wanted) == key


@pytest.mark.parametrize(
    ("metric", "path"),
    [
        ("eval_loss", ".hubver/charts/eval_loss.svg"),
        ("eval/loss", ".hubver/charts/eval_loss.svg"),
        ("../../etc/passwd", ".hubver/charts/_.._etc_passwd.svg"),
        ("loss", ".hubver/charts/metric-loss.svg"),  # never the loss curve's file
        ("", ".hubver/charts/metric.svg"),
        ("<script>", ".hubver/charts/_script_.svg"),
    ],
)
def test_metric_picture_paths_are_safe_and_managed(metric, path):
    assert metric_chart_path(metric) == path
    assert is_chart(path) and is_managed(path)


def test_only_pictures_directly_under_the_charts_folder_are_managed():
    assert is_managed(".hubver/charts/loss.svg") and is_managed("hubver.json")
    for path in (
        ".hubver/charts/model.safetensors",
        ".hubver/charts/a/b.svg",
        ".hubver/charts/.svg",
        "loss.svg",
    ):
        assert not is_managed(path), path


def test_alt_text_cannot_break_out_of_the_image_syntax():
    assert markdown_alt("a](x) <b>\n`c`") == "a\\](x) \\<b\\> \\`c\\`"


def test_metric_chart_follows_the_index_and_marks_promotions():
    entries = [
        {"version": "v1", "metrics": {"eval_loss": 0.9}},
        {"version": "v2", "metrics": {}},
        {"version": "v3", "metrics": {"eval_loss": 0.7}},
    ]
    aliases = {
        "production": {
            "version": "v3",
            "history": [
                {"from": None, "to": "v1", "by": "alice", "at": "2026-01-01T00:00:00Z"},
                {"from": "v1", "to": "v3", "by": "bob", "at": "2026-01-02T00:00:00Z"},
            ],
        },
        "gone": {"version": "v9"},  # promoted to a version not in this index: no mark
    }
    chart = metric_chart("eval_loss", entries, aliases)
    assert chart is not None and chart.points == 2
    assert points(chart.svg) == [("v1", 0.9), ("v3", 0.7)]
    root = ET.fromstring(chart.svg)
    marks = [g for g in root.iter(f"{SVG}g") if g.get("class") == "marker"]
    assert [(g.get("data-alias"), g.get("data-version")) for g in marks] == [
        ("production", "v1"),
        ("production", "v3"),
    ]
    assert marks[1].find(f"{SVG}title").text == "production: v1 -> v3 by bob at 2026-01-02T00:00:00Z"
    assert metric_chart("bleu", entries) is None


def test_loss_curve_by_step_or_by_epoch_and_none_without_a_loss():
    by_step = {
        "version": "v1",
        "training": {"log_history": [{"step": 5, "loss": 2.0}, {"step": 10, "loss": 1.0}]},
    }
    (chart,) = card_charts(by_step, [{"version": "v1"}])
    assert points(chart.svg) == [("5", 2.0), ("10", 1.0)]
    by_epoch = {
        "version": "v1",
        "training": {"log_history": [{"epoch": 0.5, "loss": 2.0}, {"epoch": 1.0, "loss": 1.5}]},
    }
    (chart,) = card_charts(by_epoch, [{"version": "v1"}])
    assert points(chart.svg) == [("0.5", 2.0), ("1", 1.5)]
    only_eval = {"version": "v1", "training": {"log_history": [{"step": 5, "eval_loss": 2.0}]}}
    assert card_charts(only_eval, [{"version": "v1"}]) == []
    assert card_charts({"version": "v1", "training": {"log_history": "junk"}, "metrics": None}, []) == []


def _meta(**extra):
    return {"version": "v1", "created_at": "2026-01-01T00:00:00Z", "environment": {"python": "3.11"}, **extra}


def test_the_card_links_each_picture_and_says_nothing_without_one():
    meta = _meta(metrics={"eval_loss": 0.5}, training={"log_history": [{"step": 1, "loss": 1.0}]})
    entries = [{"version": "v1", "metrics": {"eval_loss": 0.5}}]
    charts = card_charts(meta, entries)
    text = card.render(
        meta,
        repo="me/m",
        history=entries,
        previous=None,
        existing=None,
        extra={"charts": [c.to_card() for c in charts]},
    )
    assert "## Charts" in text
    assert "![Training loss of v1](.hubver/charts/loss.svg)" in text
    assert "![eval\\_loss across versions](.hubver/charts/eval_loss.svg)" in text
    bare = card.render(_meta(), repo="me/m", history=[{"version": "v1"}], previous=None, existing=None)
    assert "## Charts" not in bare and ".hubver/charts" not in bare


def test_the_chart_metric_option_survives_a_trip_through_job_json():
    from hubver.registry.request import PushRequest

    request = PushRequest(chart_metric="eval_accuracy")
    assert request.to_json() == {"chart_metric": "eval_accuracy"}
    assert PushRequest.from_json(request.to_json()) == request
