"""Evaluation metrics: checked against hand-worked cases and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from medconsult.ml.metrics import (
    cap_abstention_threshold,
    choose_abstention_threshold,
    classification_metrics,
    expected_calibration_error,
    fit_temperature,
    macro_f1,
    negative_log_likelihood,
    precision_comparison,
    softmax,
)


def test_softmax_rows_sum_to_one_and_temperature_flattens() -> None:
    logits = np.array([[2.0, 0.0, -1.0], [1000.0, 999.0, 0.0]])

    sharp = softmax(logits)
    flat = softmax(logits, temperature=10.0)

    np.testing.assert_allclose(sharp.sum(axis=1), 1.0)
    assert np.isfinite(sharp).all()  # large logits do not overflow
    assert flat[0].max() < sharp[0].max()


def test_ece_is_zero_when_confidence_matches_accuracy() -> None:
    # Four rows at confidence 0.75, three of them right: calibrated.
    probs = np.array([[0.75, 0.25]] * 4)
    targets = np.array([0, 0, 0, 1])

    assert expected_calibration_error(probs, targets) == pytest.approx(0.0)


def test_ece_of_an_overconfident_model() -> None:
    # Confidence 0.9, accuracy 0.5, every row in one bin: ECE = 0.4.
    probs = np.array([[0.9, 0.1]] * 4)
    targets = np.array([0, 0, 1, 1])

    assert expected_calibration_error(probs, targets) == pytest.approx(0.4)


def test_fit_temperature_recovers_the_scale_of_overconfident_logits() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 5)) * 2.0
    targets = np.array([rng.choice(5, p=row) for row in softmax(true_logits)], dtype=np.int64)
    overconfident = true_logits * 3.0  # a model three times too sure of itself

    temperature = fit_temperature(overconfident, targets)

    assert temperature == pytest.approx(3.0, rel=0.1)
    assert negative_log_likelihood(overconfident, targets, temperature) < (
        negative_log_likelihood(overconfident, targets, 1.0)
    )


def test_abstention_threshold_is_the_lowest_that_reaches_the_precision() -> None:
    probs = np.array([[0.95, 0.05], [0.9, 0.1], [0.8, 0.2], [0.6, 0.4]])
    targets = np.array([0, 0, 0, 1])  # only the least confident row is wrong

    threshold = choose_abstention_threshold(probs, targets, target_precision=0.99)

    assert threshold == pytest.approx(0.8)


def test_abstention_threshold_is_capped_by_the_abstention_budget() -> None:
    # Twenty rows, top-1 probabilities 0.50, 0.52, ..., 0.88.
    confidence = 0.5 + 0.02 * np.arange(20)
    probs = np.stack([confidence, 1 - confidence], axis=1)

    capped = cap_abstention_threshold(probs, threshold=0.85, max_abstention=0.10)

    assert capped == pytest.approx(0.54)  # the rows at 0.50 and 0.52 abstain: 2 of 20
    assert int((confidence < capped).sum()) == 2
    # A threshold already inside the budget is kept.
    assert cap_abstention_threshold(probs, threshold=0.51, max_abstention=0.10) == 0.51
    # No budget: nothing may abstain.
    assert cap_abstention_threshold(probs, threshold=0.85, max_abstention=0.0) == 0.0


def test_capped_threshold_never_exceeds_the_budget_with_ties() -> None:
    probs = np.array([[0.6, 0.4]] * 5 + [[0.9, 0.1]] * 5)

    capped = cap_abstention_threshold(probs, threshold=0.95, max_abstention=0.2)

    assert float((probs.max(axis=1) < capped).mean()) <= 0.2


def test_macro_f1_matches_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    targets = rng.integers(0, 6, size=200)
    predictions = np.where(rng.random(200) < 0.7, targets, rng.integers(0, 6, size=200))

    assert macro_f1(predictions, targets, 6) == pytest.approx(
        f1_score(targets, predictions, average="macro")
    )


def test_classification_metrics_top3_and_abstention() -> None:
    probs = np.array(
        [
            [0.7, 0.2, 0.05, 0.05],  # right
            [0.4, 0.3, 0.2, 0.1],  # wrong, label third
            [0.5, 0.3, 0.15, 0.05],  # wrong, label last
        ]
    )
    targets = np.array([0, 2, 3])

    metrics = classification_metrics(probs, targets, threshold=0.45)

    assert metrics.n == 3
    assert metrics.accuracy == pytest.approx(1 / 3)
    assert metrics.top3_accuracy == pytest.approx(2 / 3)
    assert metrics.abstain_rate == pytest.approx(1 / 3)  # the 0.4 row
    assert metrics.precision_when_answered == pytest.approx(1 / 2)


def test_precision_comparison_reports_agreement_and_largest_difference() -> None:
    reference = np.array([[0.6, 0.4], [0.3, 0.7], [0.9, 0.1]])
    other = np.array([[0.55, 0.45], [0.52, 0.48], [0.9, 0.1]])  # second row flips
    targets = np.array([0, 1, 0])

    report = precision_comparison(reference, other, targets, threshold=0.0)

    assert report["agreement_with_fp32"] == pytest.approx(2 / 3)
    assert report["max_abs_probability_difference"] == pytest.approx(0.22)
    assert report["accuracy"] == pytest.approx(2 / 3)
    empty = precision_comparison(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0, int), 0.0)
    assert empty["agreement_with_fp32"] == 0.0
