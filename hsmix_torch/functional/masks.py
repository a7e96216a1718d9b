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
    hot = labels.unsqueeze(1) == classes  # labels outside [0, K) (ignore_index) match nothing
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        hot &= labels.unsqueeze(1) != ignore_index
    return hot.float()
