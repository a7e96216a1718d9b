"""Soft-mixing weight maps ``L`` from relative saliency, the published weights."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from .._checks import check_choice, check_int
from .regions import composite_regions, minmax_normalize, paint_regions, region_reduce

__all__ = ["relative_saliency", "saliency_lambda", "soft_lambda"]


def relative_saliency(saliency_a: Tensor, saliency_b: Tensor, eps: float = 1e-4) -> Tensor:
    """Pixel-wise share of the partner's saliency, ``s_b / (s_a + s_b + eps)``, in ``[0, 1)``.

    Args:
        saliency_a, saliency_b: ``[B, *S]`` (or ``[B, 1, *S]``) float maps in ``[0, 1]``.
        eps: keeps the share defined where both maps are 0.

    Returns:
        The share, in the shape and dtype of the inputs.
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
        relative: ``[B, *S]`` float in ``[0, 1]``, see :func:`relative_saliency`.
        regions: ``[B, *S]`` int64 region ids in ``[0, num_regions)`` (the composite map).
        num_regions: number of region slots per image.
        aggregate: ``"sum"`` or ``"mean"``.

    Returns:
        ``[B, *S]`` float32 ``L`` in ``[0, 1)``: 0 in the least and about 1 in the most
        salient region of each image.
    """
    reduced, counts = region_reduce(relative, regions, num_regions, aggregate)
    if aggregate == "sum":  # divided by the pixel (or voxel) count of an image
        reduced = reduced / math.prod(regions.shape[1:])
    lam = minmax_normalize(reduced, counts > 0)
    return paint_regions(lam.float(), regions)  # cast the [B, R] values, not the map


def soft_lambda(
    saliency: Tensor,
    labels: Tensor,
    partner: Tensor,
    hard_mask: Tensor,
    num_labels: int,
    aggregate: Literal["sum", "mean"] = "sum",
    *,
    partner_labels: Tensor | None = None,
) -> Tensor:
    """The published ``L`` of each pair: :func:`saliency_lambda` of the partner's
    :func:`relative_saliency` over the composite superpixel map of the hard mix.

    Args:
        saliency: ``[B, *S]`` float32 saliency of each image, in ``[0, 1]``.
        labels: ``[B, *S]`` int64 superpixels of each image, in ``[0, num_labels)``.
        partner: ``[B]`` int64, the image each sample is mixed with.
        hard_mask: ``[B, *S]`` bool ``M``, the partner's pixels of the hard mix.
        num_labels: label slots per image.
        aggregate: ``"sum"`` or ``"mean"``.
        partner_labels: ``labels.index_select(0, partner)`` where the caller has it.

    Returns:
        ``[B, *S]`` float32 ``L``.
    """
    _check_soft_lambda(saliency, labels, partner, hard_mask, num_labels, aggregate, partner_labels)
    if partner_labels is None:
        partner_labels = labels.index_select(0, partner)
    relative = relative_saliency(saliency, saliency.index_select(0, partner))
    regions = composite_regions(labels, partner_labels, hard_mask, num_labels)
    return saliency_lambda(relative, regions, 2 * num_labels, aggregate)


def _check_soft_lambda(
    saliency: object,
    labels: object,
    partner: object,
    hard_mask: object,
    num_labels: object,
    aggregate: object,
    partner_labels: object,
) -> None:
    """Shapes, dtypes and devices of :func:`soft_lambda`'s arguments (no values: no sync)."""
    named = {"saliency": saliency, "labels": labels, "partner": partner, "hard_mask": hard_mask}
    if partner_labels is not None:
        named["partner_labels"] = partner_labels
    for name, t in named.items():
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if labels.ndim < 2 or labels.is_floating_point() or labels.dtype == torch.bool:
        raise TypeError(
            f"labels must be an integer [B, *S] tensor, got {labels.dtype} {tuple(labels.shape)}"
        )
    for name in ("saliency", "hard_mask", "partner_labels"):
        if name in named and named[name].shape != labels.shape:
            raise ValueError(
                f"{name} must have the labels' shape {tuple(labels.shape)}, "
                f"got {tuple(named[name].shape)}"
            )
    if not saliency.is_floating_point():
        raise TypeError(f"saliency must be floating point, got {saliency.dtype}")
    if hard_mask.dtype != torch.bool:
        raise TypeError(f"hard_mask must be bool, got {hard_mask.dtype}")
    if partner.is_floating_point() or partner.dtype == torch.bool:
        raise TypeError(f"partner must be an integer tensor, got {partner.dtype}")
    if partner.shape != labels.shape[:1]:
        raise ValueError(
            f"partner must have shape [B]={labels.shape[0]}, got {tuple(partner.shape)}"
        )
    for name, t in named.items():
        if t.device != labels.device:
            raise ValueError(f"{name} is on {t.device} but labels are on {labels.device}")
    check_int(num_labels, "num_labels", minimum=1)
    check_choice(aggregate, "aggregate", ("sum", "mean"))
