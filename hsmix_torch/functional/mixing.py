"""Hard and soft mixing of image and mask batches with a pixel map.

The map has the batch axis and the spatial axes S (``[B, H, W]``, or ``[B, D, H, W]`` for
volumes); the tensors mixed have any channel axes between them: ``[B, *, *S]``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..kernels import Kernels, choose
from .masks import one_hot

__all__ = ["hard_mix", "mix_batch", "mix_classes", "soft_mix"]


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


def mix_batch(
    a: Tensor,
    partner: Tensor,
    hard_mask: Tensor,
    soft_lambda: Tensor,
    output: str,
    soft: Tensor | None = None,
    *,
    kernels: Kernels = "auto",
) -> Tensor:
    """Mix a batch with the partners' rows as ``output`` asks.

    Args:
        a: ``[B, *, *S]`` of any dtype (kept: see :func:`hard_mix` and :func:`soft_mix`).
        partner: ``[B]`` int64, each sample's partner.
        hard_mask: ``[B, *S]`` bool ``M``.
        soft_lambda: ``[B, *S]`` float ``L``.
        output: ``"hard"``, ``"soft"``, ``"either"`` (each sample's choice of ``soft``) or
            ``"both"`` (the hard batch then the soft batch).
        soft: ``[B]`` bool, the soft mix per sample (``"either"``).
        kernels: ``"auto"`` (one Triton kernel on CUDA, torch ops elsewhere and for tensors
            that require grad), ``"triton"`` or ``"torch"``; the Triton mix equals the torch
            ops within one float32 rounding of ``torch.lerp``'s product where the
            interpreter runs it (a GPU fuses the multiply-add as ``torch.lerp`` does).

    Returns:
        ``[B, *, *S]``, or ``[2B, *, *S]`` for ``"both"``, in the dtype of ``a``.
    """

    def load() -> Callable[..., Tensor]:
        from ..kernels.mixing import mix_batch as kernel

        return kernel

    differentiable = torch.is_grad_enabled() and a.requires_grad
    fn = choose("mix_batch", "torch" if differentiable else kernels, a.device, _mix_batch, load)
    return fn(a, partner, hard_mask, soft_lambda, output, soft)


def _mix_batch(
    a: Tensor,
    partner: Tensor,
    hard_mask: Tensor,
    soft_lambda: Tensor,
    output: str,
    soft: Tensor | None,
) -> Tensor:
    """:func:`mix_batch` in torch ops (the reference of its Triton kernel)."""
    partner_rows = a.index_select(0, partner)
    if output == "hard":
        return hard_mix(a, partner_rows, hard_mask)
    if output == "soft":
        return soft_mix(a, partner_rows, soft_lambda)
    if output == "either":
        mixed_soft = soft_mix(a, partner_rows, soft_lambda)
        mixed_hard = hard_mix(a, partner_rows, hard_mask)
        return torch.where(soft.view(-1, *([1] * (a.ndim - 1))), mixed_soft, mixed_hard)
    n = a.shape[0]
    if torch.is_grad_enabled() and a.requires_grad:  # out= does not record gradients
        return torch.cat(
            [hard_mix(a, partner_rows, hard_mask), soft_mix(a, partner_rows, soft_lambda)]
        )
    # Both branches write into one [2B, ...] tensor: no concatenation copy.
    out = torch.empty((2 * n, *a.shape[1:]), dtype=a.dtype, device=a.device)
    hard_mix(a, partner_rows, hard_mask, out=out[:n])
    soft_mix(a, partner_rows, soft_lambda, out=out[n:])
    return out


def mix_classes(
    labels: Tensor,
    partner: Tensor,
    hard_mask: Tensor,
    soft_lambda: Tensor,
    output: str,
    soft: Tensor | None,
    num_classes: int,
    ignore_index: int | None = None,
    *,
    kernels: Kernels = "auto",
) -> Tensor:
    """Integer class maps mixed one-hot: :func:`mix_batch` of
    :func:`~hsmix_torch.functional.one_hot` (the ignored label an all-zero vector), without
    the one-hot copy.

    Args:
        labels: ``[B, *S]`` integer class maps in ``[0, num_classes)`` (or the ignored label).
        partner, hard_mask, soft_lambda, output, soft, kernels: as for :func:`mix_batch`.
        num_classes: K.
        ignore_index: the ignored label, or None.

    Returns:
        ``[B', K, *S]`` float32 (``B' = 2B`` for ``"both"``).
    """

    def load() -> Callable[..., Tensor]:
        from ..kernels.mixing import mix_classes as kernel

        return kernel

    fn = choose("mix_classes", kernels, labels.device, _mix_classes, load)
    return fn(labels, partner, hard_mask, soft_lambda, output, soft, num_classes, ignore_index)


def _mix_classes(
    labels: Tensor,
    partner: Tensor,
    hard_mask: Tensor,
    soft_lambda: Tensor,
    output: str,
    soft: Tensor | None,
    num_classes: int,
    ignore_index: int | None,
) -> Tensor:
    """:func:`mix_classes` in torch ops (the reference of its Triton kernel)."""
    hot = one_hot(labels, num_classes, ignore_index)
    return _mix_batch(hot, partner, hard_mask, soft_lambda, output, soft)
