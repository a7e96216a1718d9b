"""Segmentation mask layouts: integer class maps and their one-hot form."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["one_hot"]


def one_hot(labels: Tensor, num_classes: int, ignore_index: int | None = None) -> Tensor:
    """One-hot float32 ``[B, K, H, W]`` of an integer class map ``[B, H, W]``.

    Pixels equal to ``ignore_index`` get an all-zero vector, so they contribute nothing to a
    soft-target cross-entropy or Dice loss. Labels must lie in ``[0, num_classes)`` (or equal
    ``ignore_index``); that is checked by the caller.
    """
    labels = labels.long()
    classes = torch.arange(num_classes, device=labels.device).view(
        1, -1, *([1] * (labels.ndim - 1))
    )
    hot = torch.empty(
        (labels.shape[0], num_classes, *labels.shape[1:]), dtype=torch.float32, device=labels.device
    )
    # Compared straight into float32 (one pass, not a bool map and a cast); labels outside
    # [0, K) (ignore_index) match nothing.
    torch.eq(labels.unsqueeze(1), classes, out=hot)
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        hot.mul_(labels.unsqueeze(1) != ignore_index)
    return hot
