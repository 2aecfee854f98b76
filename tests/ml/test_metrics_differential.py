"""DDXPlus-style differential metrics on small hand-computed examples."""

from __future__ import annotations

import numpy as np
import pytest

from medconsult.ml.metrics import (
    choose_differential_calibration,
    differential_metrics,
    mean_and_sd,
    predicted_differential,
    top_k_accuracy,
)

# Three cases over four classes.
PROBS = np.array(
    [
        [0.70, 0.20, 0.095, 0.005],  # differential at 0.01: {0, 1, 2}
        [0.10, 0.60, 0.30, 0.00],  # {0, 1, 2}
        [0.50, 0.005, 0.005, 0.49],  # {0, 3}
    ]
)
TARGETS = np.array([0, 2, 3])
TRUTHS = [{0, 1}, {1, 2, 3}, {3}]


def test_predicted_differential_uses_the_threshold() -> None:
    assert predicted_differential(PROBS, 0.01) == [{0, 1, 2}, {0, 1, 2}, {0, 3}]
    assert predicted_differential(PROBS, 0.25) == [{0}, {1, 2}, {0, 3}]


def test_top_k() -> None:
    # Case 1: target 0 is top-1. Case 2: target 2 is second. Case 3: target 3 is second.
    assert top_k_accuracy(PROBS, TARGETS, 1) == pytest.approx(1 / 3)
    assert top_k_accuracy(PROBS, TARGETS, 2) == pytest.approx(1.0)


def test_differential_metrics_by_hand() -> None:
    metrics = differential_metrics(PROBS, TARGETS, TRUTHS, threshold=0.01)
    # Case 1: predicted {0,1,2}, truth {0,1}: recall 2/2, precision 2/3, F1 0.8.
    # Case 2: predicted {0,1,2}, truth {1,2,3}: recall 2/3, precision 2/3, F1 2/3.
    # Case 3: predicted {0,3}, truth {3}: recall 1, precision 1/2, F1 2/3.
    assert metrics.ddr == pytest.approx((1 + 2 / 3 + 1) / 3)
    assert metrics.ddp == pytest.approx((2 / 3 + 2 / 3 + 1 / 2) / 3)
    assert metrics.ddf1 == pytest.approx((0.8 + 2 / 3 + 2 / 3) / 3)
    assert metrics.gtpa_at_1 == pytest.approx(1 / 3)
    assert metrics.gtpa_at_3 == pytest.approx(1.0)
    assert metrics.gtpa == pytest.approx(1.0)  # every target is in its predicted differential
    assert metrics.mean_differential_size == pytest.approx(8 / 3)
    assert metrics.n == 3


def test_empty_prediction_and_no_rows() -> None:
    flat = np.full((1, 4), 0.25)
    metrics = differential_metrics(flat, np.array([1]), [{2}], threshold=0.5)
    assert (metrics.ddr, metrics.ddp, metrics.ddf1, metrics.gtpa) == (0.0, 0.0, 0.0, 0.0)
    assert differential_metrics(np.zeros((0, 4)), np.array([], dtype=int), []).n == 0


def test_mean_and_sd() -> None:
    summary = mean_and_sd([0.9, 1.0, 0.8])
    assert summary["mean"] == pytest.approx(0.9)
    assert summary["sd"] == pytest.approx(0.1)  # sample sd (ddof=1)
    assert mean_and_sd([0.5])["sd"] == 0.0


def test_differential_keeps_a_softer_temperature_when_calibration_squeezes_it() -> None:
    # Each case's truth is its two most likely classes; a sharp temperature leaves one.
    logits = np.array([[3.0, 2.5, -4.0, -4.0], [-4.0, 2.0, 2.6, -4.0], [-4.0, -4.0, 1.0, 1.4]])
    targets = np.array([0, 2, 3])
    truths = [{0, 1}, {1, 2}, {2, 3}]

    temperature, threshold = choose_differential_calibration(logits, targets, truths, 0.05)

    assert temperature != 0.05
    probs = np.exp(logits / temperature)
    probs /= probs.sum(axis=1, keepdims=True)
    assert differential_metrics(probs, targets, truths, threshold).ddf1 == pytest.approx(1.0)


def test_differential_keeps_the_calibration_temperature_on_a_tie() -> None:
    logits = np.array([[5.0, -5.0, -5.0], [-5.0, 5.0, -5.0]])
    targets = np.array([0, 1])

    temperature, _ = choose_differential_calibration(logits, targets, [{0}, {1}], 0.7)

    assert temperature == 0.7
