"""Per-image intensity rescaling, the one rule shared by saliency input and superpixels."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["minmax_rescale"]


def minmax_rescale(images: Tensor, top: float = 1.0) -> Tensor:
    """Each image stretched jointly over its channels to ``[0, top]``.

    As scikit-image rescales before SLIC, so any value range works (uint8 counts, Hounsfield
    units, z-scores). A constant image becomes all zeros. No host synchronisation.

    Args:
        images: ``[B, ...]`` float or uint8.
        top: the value the maximum maps to. ``1`` divides by the range, as scikit-image
            does (SLIC features then round as its do); other values multiply by
            ``top / range``, which gives uint8 images and the same images as floats in
            ``[0, 1]`` the same 8-bit values after rounding (fast-slic's input).

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
    if top == 1.0:
        return torch.where(hi > lo, (x - lo) / (hi - lo), 0.0)
    scale = torch.where(hi > lo, top / (hi - lo), 0.0)
    return torch.addcmul(-lo * scale, x, scale)  # (x - lo) * scale
