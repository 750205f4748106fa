import pytest

from hubver.direction import direction, is_better, is_number

pytestmark = pytest.mark.fast


@pytest.mark.parametrize(
    "name",
    [
        "eval_loss",
        "loss",
        "train-loss",
        "val/perplexity",
        "eval_wer",
        "test_mae",
        "eval_cer",
        "ppl",
        "EVAL_LOSS",
        "eval_sentiment_loss",
        "word_error",
    ],
)
def test_costs_are_better_lower(name):
    assert direction(name) == "min"


@pytest.mark.parametrize(
    "name", ["eval_accuracy", "f1", "bleu", "rougeL", "glossary_acc", "werewolf_score", "auc"]
)
def test_scores_are_better_higher(name):
    assert direction(name) == "max"


def test_is_better_is_strict_and_follows_the_direction():
    assert is_better("eval_loss", 1.0, 1.2)
    assert not is_better("eval_loss", 1.2, 1.2)
    assert is_better("eval_accuracy", 0.9, 0.8)
    assert is_better("eval_accuracy", 0.8, 0.9, "min")


@pytest.mark.parametrize(
    "value,ok",
    [
        (1, True),
        (1.5, True),
        (True, False),
        (float("nan"), False),
        (float("inf"), False),
        ("1", False),
        (None, False),
    ],
)
def test_is_number(value, ok):
    assert is_number(value) is ok
