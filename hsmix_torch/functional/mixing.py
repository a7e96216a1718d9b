"""Hard and soft mixing of image and mask batches with a pixel map.

The map has the batch axis and the spatial axes S (``[B, H, W]``, or ``[B, D, H, W]`` for
volumes); the tensors mixed have any channel axes between them: ``[B, *, *S]``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["hard_mix", "soft_mix"]


def _per_pixel(weights: Tensor, like: Tensor) -> Tensor:
    # [B, *S] -> broadcastable against like's [B, ..., *S] (S: the spatial axes)
    return weights.view(weights.shape[0], *([1] * (like.ndim - weights.ndim)), *weights.shape[1:])


def hard_mix(a: Tensor, b: Tensor, mask: Tensor, out: Tensor | None = None) -> Tensor:
    """``a`` outside ``mask``, ``b`` inside: ``a * (1 - M) + b * M`` as an exact selection.

    Args:
        a, b: ``[B, *, *S]`` of any dtype (images, integer maps, one-hot maps).
        mask: ``[B, *S]`` bool.
        out: optional tensor of ``a``'s shape and dtype to write into.

    Returns:
        Same shape and dtype as ``a``; every value is a value of ``a`` or of ``b``.
    """
    return torch.where(_per_pixel(mask, a), b, a, out=out)


def soft_mix(a: Tensor, b: Tensor, lam: Tensor, out: Tensor | None = None) -> Tensor:
    """``a * (1 - L) + b * L`` per pixel, computed as ``torch.lerp`` so ``L = 0`` gives ``a``
    and ``L = 1`` gives ``b`` exactly.

    Args:
        a, b: ``[B, *, *S]`` float or uint8. Half precision is mixed in float32 and
            rounded back; uint8 is mixed in float32 and rounded to the nearest integer.
        lam: ``[B, *S]`` float in ``[0, 1]``.
        out: optional tensor of ``a``'s shape and dtype to write into.

    Returns:
        Same shape and dtype as ``a``.
    """
    weights = _per_pixel(lam, a)
    if a.dtype in (torch.float32, torch.float64):
        return torch.lerp(a, b, weights.to(a.dtype), out=out)
    mixed = torch.lerp(a.float(), b.float(), weights.float())
    if not a.is_floating_point():
        info = torch.iinfo(a.dtype)
        mixed = torch.round(mixed).clamp_(info.min, info.max)
    if out is None:
        return mixed.to(a.dtype)
    return out.copy_(mixed)
