"""Soft-mixing weight maps ``L``: from relative saliency (published) or per-superpixel Beta."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from .regions import minmax_normalize, paint_regions, region_reduce

__all__ = ["relative_saliency", "saliency_lambda"]


def relative_saliency(saliency_a: Tensor, saliency_b: Tensor, eps: float = 1e-4) -> Tensor:
    """Pixel-wise share of the partner's saliency, ``s_b / (s_a + s_b + eps)``, in ``[0, 1)``.

    Args:
        saliency_a, saliency_b: ``[B, H, W]`` (or ``[B, 1, H, W]``) float maps in ``[0, 1]``.
    """
    return saliency_b / (saliency_a + saliency_b + eps)


def saliency_lambda(
    relative: Tensor,
    regions: Tensor,
    num_regions: int,
    aggregate: Literal["sum", "mean"] = "sum",
) -> Tensor:
    """The published soft-mixing map: region-aggregated relative saliency, min-max normalised.

    ``"sum"`` is the published aggregation: each region's sum of ``relative`` divided by
    ``H * W`` (the scripts take the image mean of ``relative * region_mask``; the scale
    matters only through the ``1e-5`` of the normalisation). ``"mean"`` uses the region mean.

    Args:
        relative: ``[B, H, W]`` float in ``[0, 1]``, see :func:`relative_saliency`.
        regions: ``[B, H, W]`` int64 region ids in ``[0, num_regions)`` (the composite map).
        num_regions: number of region slots per image.
        aggregate: ``"sum"`` or ``"mean"``.

    Returns:
        ``[B, H, W]`` float32 ``L`` in ``[0, 1)``: 0 in the least and about 1 in the most
        salient region of each image.
    """
    reduced, counts = region_reduce(relative, regions, num_regions, aggregate)
    if aggregate == "sum":
        reduced = reduced / (regions.shape[-2] * regions.shape[-1])
    lam = minmax_normalize(reduced, counts > 0)
    return paint_regions(lam.float(), regions)  # cast the [B, R] values, not the map
