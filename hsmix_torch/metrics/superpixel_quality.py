"""Superpixel quality against a ground-truth segmentation, per image.

The usual measures (Stutz et al. 2018): boundary recall, undersegmentation error
(Neubert & Protzel), achievable segmentation accuracy, and fragmentation (labels made of
more than one face-connected piece). Label maps are images ``[H, W]`` (4-connectivity) or
volumes ``[D, H, W]`` (supervoxels, 6-connectivity, boxes of ``(2t + 1)^3`` for boundary
recall). Evaluation code, not on the augmentation's hot path.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "SuperpixelQuality",
    "achievable_segmentation_accuracy",
    "average_quality",
    "boundary_recall",
    "fragmented_fraction",
    "superpixel_quality",
    "undersegmentation_error",
]


def _as_tensor(x: Tensor | np.ndarray) -> Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x).long().cpu()


def _check(labels: Tensor, truth: Tensor) -> None:
    if labels.ndim not in (2, 3) or labels.shape != truth.shape:
        raise ValueError(
            f"labels and truth must be [H, W] or [D, H, W] of the same shape, got "
            f"{tuple(labels.shape)} and {tuple(truth.shape)}"
        )


def _boundary(labels: Tensor) -> Tensor:
    """Pixels whose label differs from one of their face neighbours (4 in 2-D, 6 in 3-D)."""
    edge = torch.zeros(labels.shape, dtype=torch.bool)
    for axis in range(labels.ndim):
        n = labels.shape[axis]
        differs = labels.narrow(axis, 1, n - 1) != labels.narrow(axis, 0, n - 1)
        edge.narrow(axis, 1, n - 1).logical_or_(differs)
        edge.narrow(axis, 0, n - 1).logical_or_(differs)
    return edge


def _contingency(labels: Tensor, truth: Tensor) -> Tensor:
    """``[K, G]`` pixel counts of superpixel k overlapping ground-truth class g."""
    _, sp = labels.reshape(-1).unique(return_inverse=True)
    _, gt = truth.reshape(-1).unique(return_inverse=True)
    g = int(gt.max()) + 1
    k = int(sp.max()) + 1
    return torch.bincount(sp * g + gt, minlength=k * g).view(k, g)


LabelMap = Tensor | np.ndarray


def boundary_recall(labels: LabelMap, truth: LabelMap, tolerance: int = 2) -> float:
    """Fraction of ground-truth boundary pixels with a superpixel boundary within a
    ``(2 * tolerance + 1)^A`` box (A: 2 or 3 axes). 1.0 when the truth has no boundary."""
    labels, truth = _as_tensor(labels), _as_tensor(truth)
    _check(labels, truth)
    gt_edge = _boundary(truth)
    if not gt_edge.any():
        return 1.0
    sp_edge = _boundary(labels).float()[None, None]
    pool = F.max_pool3d if labels.ndim == 3 else F.max_pool2d
    near = pool(sp_edge, 2 * tolerance + 1, stride=1, padding=tolerance)[0, 0] > 0
    return float((gt_edge & near).sum() / gt_edge.sum())


def undersegmentation_error(labels: Tensor | np.ndarray, truth: Tensor | np.ndarray) -> float:
    """Neubert-Protzel: sum over overlaps of ``min(overlap, superpixel - overlap)``, over N."""
    labels, truth = _as_tensor(labels), _as_tensor(truth)
    _check(labels, truth)
    table = _contingency(labels, truth)
    sizes = table.sum(1, keepdim=True)
    return float(torch.minimum(table, sizes - table).sum() / labels.numel())


def achievable_segmentation_accuracy(labels: LabelMap, truth: LabelMap) -> float:
    """Accuracy of the best segmentation that gives each superpixel a single class."""
    labels, truth = _as_tensor(labels), _as_tensor(truth)
    _check(labels, truth)
    return float(_contingency(labels, truth).amax(1).sum() / labels.numel())


def fragmented_fraction(labels: Tensor | np.ndarray) -> float:
    """Fraction of labels made of more than one face-connected piece (4-connected in 2-D,
    6-connected in 3-D; needs scikit-image)."""
    from skimage.measure import label as connected

    lab = _as_tensor(labels).numpy()
    pieces = connected(lab + 1, background=0, connectivity=1)
    n_labels = len(np.unique(lab))
    piece_label = np.zeros(pieces.max() + 1, dtype=np.int64)
    piece_label[pieces.ravel()] = lab.ravel()
    counts = np.bincount(np.unique(piece_label[1:], return_inverse=True)[1])
    return float((counts > 1).sum() / n_labels)


@dataclass
class SuperpixelQuality:
    """Quality of one label map: ASA, boundary recall, UE, fragmentation, segment count."""

    asa: float
    boundary_recall: float
    undersegmentation_error: float
    fragmented: float
    n_segments: int


def superpixel_quality(
    labels: Tensor | np.ndarray, truth: Tensor | np.ndarray, tolerance: int = 2
) -> SuperpixelQuality:
    """All measures for one ``[H, W]`` (or ``[D, H, W]``) label map against a ground truth
    of the same shape."""
    return SuperpixelQuality(
        asa=achievable_segmentation_accuracy(labels, truth),
        boundary_recall=boundary_recall(labels, truth, tolerance),
        undersegmentation_error=undersegmentation_error(labels, truth),
        fragmented=fragmented_fraction(labels),
        n_segments=len(np.unique(np.asarray(_as_tensor(labels)))),
    )


def average_quality(scores: list[SuperpixelQuality]) -> dict[str, float]:
    """Mean of every measure over a list of per-image qualities."""
    if not scores:
        raise ValueError("scores must hold at least one SuperpixelQuality")
    return {f.name: float(np.mean([getattr(q, f.name) for q in scores])) for f in fields(scores[0])}
