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
    valid = (
        torch.ones_like(labels, dtype=torch.bool)
        if ignore_index is None
        else labels != ignore_index
    )
    index = torch.where(valid, labels, 0).unsqueeze(1)
    out = torch.zeros(
        (labels.shape[0], num_classes, *labels.shape[1:]), dtype=torch.float32, device=labels.device
    )
    out.scatter_(1, index, 1.0)
    return out * valid.unsqueeze(1)
