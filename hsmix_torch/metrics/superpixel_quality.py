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
    """Fraction of ground-truth boundary pixels with a superpixel boundary nearby.

    Args:
        labels: ``[H, W]`` or ``[D, H, W]`` integer superpixel labels (tensor or array).
        truth: integer ground-truth classes of the same shape.
        tolerance: half the side of the ``(2 * tolerance + 1)^A`` box searched (A: 2 or 3
            axes), in pixels.

    Returns:
        The recall in ``[0, 1]``; 1.0 when the truth has no boundary.

    Raises:
        ValueError: ``labels`` and ``truth`` differ in shape or are not 2-D or 3-D.
    """
    labels, truth = _as_tensor(labels), _as_tensor(truth)
    _check(labels, truth)
    gt_edge = _boundary(truth)
    if not gt_edge.any():
        return 1.0
    sp_edge = _boundary(labels).float()[None, None]
    pool = F.max_pool3d if labels.ndim == 3 else F.max_pool2d
    near = pool(sp_edge, 2 * tolerance + 1, stride=1, padding=tolerance)[0, 0] > 0
    return float((gt_edge & near).sum() / gt_edge.sum())


def undersegmentation_error(labels: LabelMap, truth: LabelMap) -> float:
    """Undersegmentation error (Neubert and Protzel): how far superpixels leak across classes.

    Args:
        labels: ``[H, W]`` or ``[D, H, W]`` integer superpixel labels (tensor or array).
        truth: integer ground-truth classes of the same shape.

    Returns:
        The sum over superpixel-class overlaps of ``min(overlap, superpixel - overlap)``,
        divided by the number of pixels: 0 for superpixels inside one class each.

    Raises:
        ValueError: ``labels`` and ``truth`` differ in shape or are not 2-D or 3-D.
    """
    labels, truth = _as_tensor(labels), _as_tensor(truth)
    _check(labels, truth)
    table = _contingency(labels, truth)
    sizes = table.sum(1, keepdim=True)
    return float(torch.minimum(table, sizes - table).sum() / labels.numel())


def achievable_segmentation_accuracy(labels: LabelMap, truth: LabelMap) -> float:
    """Accuracy of the best segmentation that gives each superpixel a single class.

    Args:
        labels: ``[H, W]`` or ``[D, H, W]`` integer superpixel labels (tensor or array).
        truth: integer ground-truth classes of the same shape.

    Returns:
        The accuracy in ``[0, 1]``: the share of pixels in the majority class of their
        superpixel.

    Raises:
        ValueError: ``labels`` and ``truth`` differ in shape or are not 2-D or 3-D.
    """
    labels, truth = _as_tensor(labels), _as_tensor(truth)
    _check(labels, truth)
    return float(_contingency(labels, truth).amax(1).sum() / labels.numel())


def fragmented_fraction(labels: LabelMap) -> float:
    """Fraction of labels made of more than one face-connected piece (needs scikit-image).

    Args:
        labels: ``[H, W]`` (4-connectivity) or ``[D, H, W]`` (6-connectivity) integer labels.

    Returns:
        The share of labels in ``[0, 1]`` that are split into pieces.
    """
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
    """Quality of one label map against a ground truth (see :func:`superpixel_quality`).

    Attributes:
        asa: :func:`achievable_segmentation_accuracy`.
        boundary_recall: :func:`boundary_recall`.
        undersegmentation_error: :func:`undersegmentation_error`.
        fragmented: :func:`fragmented_fraction`.
        n_segments: the number of distinct labels.
    """

    asa: float
    boundary_recall: float
    undersegmentation_error: float
    fragmented: float
    n_segments: int


def superpixel_quality(labels: LabelMap, truth: LabelMap, tolerance: int = 2) -> SuperpixelQuality:
    """All measures for one label map against a ground truth.

    Args:
        labels: ``[H, W]`` or ``[D, H, W]`` integer superpixel labels (tensor or array).
        truth: integer ground-truth classes of the same shape.
        tolerance: see :func:`boundary_recall`.

    Returns:
        The :class:`SuperpixelQuality`.

    Raises:
        ValueError: ``labels`` and ``truth`` differ in shape or are not 2-D or 3-D.
    """
    return SuperpixelQuality(
        asa=achievable_segmentation_accuracy(labels, truth),
        boundary_recall=boundary_recall(labels, truth, tolerance),
        undersegmentation_error=undersegmentation_error(labels, truth),
        fragmented=fragmented_fraction(labels),
        n_segments=len(np.unique(np.asarray(_as_tensor(labels)))),
    )


def average_quality(scores: list[SuperpixelQuality]) -> dict[str, float]:
    """Mean of every measure over a list of per-image qualities.

    Args:
        scores: one :class:`SuperpixelQuality` per image.

    Returns:
        ``{measure: mean}`` for every field of :class:`SuperpixelQuality`.

    Raises:
        ValueError: ``scores`` is empty.
    """
    if not scores:
        raise ValueError("scores must hold at least one SuperpixelQuality")
    return {f.name: float(np.mean([getattr(q, f.name) for q in scores])) for f in fields(scores[0])}
