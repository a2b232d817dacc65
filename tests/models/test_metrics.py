import math

import numpy as np
import pytest

from growth.models import metrics


def test_ranking_metrics_of_a_perfect_and_a_reversed_ranking():
    y = [0, 0, 1, 1]
    assert metrics.roc_auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert metrics.roc_auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert metrics.pr_auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert metrics.precision_at_k(y, [0.1, 0.2, 0.8, 0.9], 2) == 1.0
    assert metrics.precision_at_k(y, [0.1, 0.2, 0.8, 0.9], 3) == pytest.approx(2 / 3)
    # k beyond the rows counts every row
    assert metrics.precision_at_k(y, [0.1, 0.2, 0.8, 0.9], 10) == 0.5


def test_single_class_and_empty_input_are_nan_not_errors():
    assert math.isnan(metrics.roc_auc([1, 1], [0.2, 0.3]))
    assert math.isnan(metrics.pr_auc([0, 0], [0.2, 0.3]))
    assert math.isnan(metrics.brier([], []))
    assert all(math.isnan(v) for v in metrics.lift_by_decile([0, 0], [1, 2]))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="1-d and equal"):
        metrics.roc_auc([0, 1], [0.5])
    with pytest.raises(ValueError, match="NaN"):
        metrics.brier([0, 1], [0.5, float("nan")])
    with pytest.raises(ValueError, match="probabilities in"):
        metrics.expected_calibration_error([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="k must be"):
        metrics.precision_at_k([0, 1], [0.5, 0.2], 0)


def test_deciles_and_lift():
    score = np.arange(20, dtype=float)
    assert metrics.deciles(score).tolist() == [10, 10, 9, 9, 8, 8, 7, 7, 6, 6,
                                               5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    y = np.zeros(20)
    y[[18, 19]] = 1  # the top decile holds every positive
    assert metrics.lift_by_decile(y, score) == [10.0] + [0.0] * 9


def test_calibration_metrics():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.0, 0.0, 1.0, 1.0])
    assert metrics.brier(y, p) == 0.0
    assert metrics.expected_calibration_error(y, p) == 0.0
    # every probability 0.5, half positive: calibrated on average, Brier 0.25
    assert metrics.brier(y, [0.5] * 4) == 0.25
    assert metrics.expected_calibration_error(y, [0.5] * 4) == 0.0
    # 0.9 predicted for rows half of which are positive: ECE 0.4
    assert metrics.expected_calibration_error(y, [0.9] * 4) == pytest.approx(0.4)


def test_normalized_gini_and_decile_calibration():
    y = np.array([0.0, 0.0, 10.0, 30.0])
    assert metrics.normalized_gini(y, y) == pytest.approx(1.0)
    assert metrics.normalized_gini(y, [3.0, 2.0, 1.0, 0.0]) < 0
    assert math.isnan(metrics.normalized_gini([0.0, 0.0], [1.0, 2.0]))
    y = np.arange(1, 11, dtype=float)
    calibration = metrics.decile_calibration(y, y)
    assert calibration == [(d, 11.0 - d, 11.0 - d) for d in range(1, 11)]
    report = metrics.regression_report(y, y)
    assert report == {"normalized_gini": pytest.approx(1.0),
                      "top_decile_lift": pytest.approx(10 / 5.5),
                      "max_decile_gap": 0.0, "mean_prediction_ratio": 1.0}
