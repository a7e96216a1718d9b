"""Superpixel quality measures on hand-checked examples."""

from __future__ import annotations

import numpy as np
import pytest

from hsmix_torch.metrics import (
    achievable_segmentation_accuracy,
    boundary_recall,
    fragmented_fraction,
    superpixel_quality,
    undersegmentation_error,
)

LABELS = np.array([[0, 0, 1], [2, 2, 1], [0, 0, 1]])
TRUTH = np.array([[0, 0, 1], [0, 0, 1], [1, 1, 1]])


def test_hand_checked_values() -> None:
    assert achievable_segmentation_accuracy(LABELS, TRUTH) == pytest.approx(7 / 9)
    assert undersegmentation_error(LABELS, TRUTH) == pytest.approx(4 / 9)
    assert fragmented_fraction(LABELS) == pytest.approx(1 / 3)
    q = superpixel_quality(LABELS, TRUTH, tolerance=0)
    assert q.n_segments == 3 and q.boundary_recall == 1.0


def test_perfect_and_trivial_segmentations() -> None:
    truth = np.zeros((20, 30), dtype=int)
    truth[5:12, 8:20] = 1
    assert achievable_segmentation_accuracy(truth, truth) == 1.0
    assert undersegmentation_error(truth, truth) == 0.0
    assert boundary_recall(truth, truth, tolerance=0) == 1.0
    one = np.zeros_like(truth)
    assert boundary_recall(one, truth) == 0.0
    assert achievable_segmentation_accuracy(one, truth) == pytest.approx(1 - truth.mean())
    shifted = np.roll(truth, 2, axis=1)
    assert boundary_recall(shifted, truth, tolerance=2) == 1.0
    assert boundary_recall(shifted, truth, tolerance=1) < 1.0


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="same shape"):
        boundary_recall(LABELS, TRUTH[:2])
