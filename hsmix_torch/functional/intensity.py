"""Per-image intensity rescaling, the one rule shared by saliency input and superpixels."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["minmax_rescale"]


def minmax_rescale(images: Tensor) -> Tensor:
    """Each image stretched jointly over its channels to ``[0, 1]``: ``(x - min) / (max - min)``.

    As scikit-image rescales before SLIC, so any value range works (uint8 counts, Hounsfield
    units, z-scores). A constant image becomes all zeros. No host synchronisation.

    Args:
        images: ``[B, ...]`` float or uint8.

    Returns:
        float32 of the same shape.

    Example:
        >>> minmax_rescale(torch.tensor([[2.0, 4.0, 3.0], [5.0, 5.0, 5.0]]))
        tensor([[0.0000, 1.0000, 0.5000],
                [0.0000, 0.0000, 0.0000]])
    """
    x = images.float()
    dims = tuple(range(1, x.ndim))
    lo = x.amin(dim=dims, keepdim=True)
    hi = x.amax(dim=dims, keepdim=True)
    # A division, as scikit-image does (not a product with the reciprocal): SLIC features
    # then round as scikit-image's do.
    return torch.where(hi > lo, (x - lo) / (hi - lo), 0.0)
