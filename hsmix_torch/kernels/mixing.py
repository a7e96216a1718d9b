"""The mix itself as Triton kernels: a batch with its partners' rows, and class maps one-hot.

References (torch ops): ``hsmix_torch.functional.mixing._mix_batch`` (``torch.where`` for
the hard mix, ``torch.lerp`` for the soft mix, in the tensor's dtype or, for half precision
and integers, in float32 then rounded back) and ``_mix_classes`` (``one_hot`` then the same
mix). One kernel reads each value and its partner's once and writes every output the call
asks for (the hard and the soft batch for ``output="both"``). The soft mix is
``torch.lerp``'s formula with its fused multiply-add (``a + w (b - a)`` below one half,
``b - (b - a)(1 - w)`` above): on a GPU it equals ``torch.lerp`` on CUDA; Triton's
interpreter rounds the product before the add, so there it agrees within one rounding.
Every grid is 1-D (samples, channels and blocks on CUDA's first axis).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from .._constants import OUTPUT_CODES
from ._common import check_32bit, flat_grid, round_half_even, split_program

__all__ = ["mix_batch", "mix_classes"]

_BLOCK = 512


@triton.jit
def _lerp(a, b, w):
    """``torch.lerp(a, b, w)``: exact at ``w = 0`` and ``w = 1``."""
    d = b - a
    return tl.where(w < 0.5, tl.fma(w, d, a), tl.fma(-d, 1.0 - w, b))


@triton.jit
def _soft(a, b, w, KIND: tl.constexpr, LOW: tl.constexpr, HIGH: tl.constexpr):
    """The soft mix in the reference's precision: the dtype's own (KIND 0), float32 then
    back (1), or float32 rounded half to even and clamped to the integer range (2)."""
    if KIND == 0:
        return _lerp(a, b, w.to(a.dtype))
    mixed = _lerp(a.to(tl.float32), b.to(tl.float32), w)
    if KIND == 2:
        mixed = tl.minimum(tl.maximum(round_half_even(mixed), LOW), HIGH)
    return mixed


@triton.jit
def _mix_kernel(
    a_ptr,  # [B, CH, V] strided
    partner_ptr,  # [B] int64
    hard_ptr,  # [B, V] int8: M
    lam_ptr,  # [B, V] float32: L
    soft_ptr,  # [B] int8: the soft mix per sample (EITHER)
    out_ptr,  # [B' , CH, V] strided
    V,
    B,
    CH,
    SA_B,
    SA_C,
    SA_V,
    SO_B,
    SO_C,
    SO_V,
    OUTPUT: tl.constexpr,  # 0 both, 1 hard, 2 soft, 3 either
    KIND: tl.constexpr,
    LOW: tl.constexpr,
    HIGH: tl.constexpr,
    BLOCK: tl.constexpr,
):
    row, block = split_program(tl.cdiv(V, BLOCK))  # row: a sample's channel
    b = row // CH
    c = row - b * CH
    p = block * BLOCK + tl.arange(0, BLOCK)
    inside = p < V
    j = tl.load(partner_ptr + b)
    own = tl.load(a_ptr + b * SA_B + c * SA_C + p * SA_V, mask=inside, other=0)
    other = tl.load(a_ptr + j * SA_B + c * SA_C + p * SA_V, mask=inside, other=0)
    dst = out_ptr + b * SO_B + c * SO_C + p * SO_V
    if OUTPUT != 2:
        hard = tl.where(tl.load(hard_ptr + b * V + p, mask=inside, other=0) != 0, other, own)
    if OUTPUT != 1:
        w = tl.load(lam_ptr + b * V + p, mask=inside, other=0.0)
        soft = _soft(own, other, w, KIND, LOW, HIGH).to(own.dtype)
    if OUTPUT == 0:
        tl.store(dst, hard, mask=inside)
        tl.store(dst + B * SO_B, soft, mask=inside)
    elif OUTPUT == 1:
        tl.store(dst, hard, mask=inside)
    elif OUTPUT == 2:
        tl.store(dst, soft, mask=inside)
    else:
        tl.store(dst, tl.where(tl.load(soft_ptr + b) != 0, soft, hard), mask=inside)


@triton.jit
def _classes_kernel(
    labels_ptr,  # [B, V] integer class maps
    partner_ptr,
    hard_ptr,
    lam_ptr,
    soft_ptr,
    out_ptr,  # [B', K, V] float32
    V,
    B,
    K,
    IGNORE,  # the ignored label (-1: none)
    OUTPUT: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """One-hot (the ignored label: all zero) and mixed, class by class."""
    b, block = split_program(tl.cdiv(V, BLOCK))
    p = block * BLOCK + tl.arange(0, BLOCK)
    inside = p < V
    j = tl.load(partner_ptr + b)
    own = tl.load(labels_ptr + b * V + p, mask=inside, other=-1)
    other = tl.load(labels_ptr + j * V + p, mask=inside, other=-1)
    pasted = tl.load(hard_ptr + b * V + p, mask=inside, other=0) != 0
    w = tl.load(lam_ptr + b * V + p, mask=inside, other=0.0)
    either = tl.load(soft_ptr + b) != 0 if OUTPUT == 3 else False
    for k in range(0, K):
        hot_a = ((own == k) & (own != IGNORE)).to(tl.float32)
        hot_b = ((other == k) & (other != IGNORE)).to(tl.float32)
        hard = tl.where(pasted, hot_b, hot_a)
        soft = _lerp(hot_a, hot_b, w)
        dst = out_ptr + (b * K + k) * V + p
        if OUTPUT == 0:
            tl.store(dst, hard, mask=inside)
            tl.store(dst + B * K * V, soft, mask=inside)
        elif OUTPUT == 2:
            tl.store(dst, soft, mask=inside)
        else:
            tl.store(dst, tl.where(either, soft, hard), mask=inside)


def _kind(dtype: torch.dtype) -> tuple[int, int, int]:
    """``(KIND, LOW, HIGH)`` of the soft mix for ``dtype`` (see ``_soft``)."""
    if dtype in (torch.float32, torch.float64):
        return 0, 0, 0
    if dtype.is_floating_point:
        return 1, 0, 0
    if dtype == torch.bool:
        return 2, 0, 1
    info = torch.iinfo(dtype)
    return 2, info.min, info.max


@torch.library.custom_op("hsmix_torch::mix_batch", mutates_args=())
def _mix_batch_op(
    a: Tensor,
    partner: Tensor,
    hard_mask: Tensor,
    soft_lambda: Tensor,
    output: str,
    soft: Tensor | None,
) -> Tensor:
    b = a.shape[0]
    v = hard_mask[0].numel()
    ch = a[0].numel() // max(v, 1)
    rows = 2 * b if output == "both" else b
    # Channels last ([B, C, *S] with C innermost) is read and written as it is.
    channels_last = (
        not a.is_contiguous() and a.ndim == hard_mask.ndim + 1 and a.movedim(1, -1).is_contiguous()
    )
    if channels_last:
        strides = (ch * v, 1, ch)
        out = torch.empty((rows, *a.shape[2:], ch), dtype=a.dtype, device=a.device).movedim(-1, 1)
    else:
        a = a.contiguous()
        strides = (ch * v, v, 1)
        out = torch.empty((rows, *a.shape[1:]), dtype=a.dtype, device=a.device)
    if out.numel():
        kind, low, high = _kind(a.dtype)
        flags = soft.view(torch.int8) if soft is not None else hard_mask.view(torch.int8)
        _mix_kernel[flat_grid(b, ch, triton.cdiv(v, _BLOCK))](
            a, partner, hard_mask.view(torch.int8), soft_lambda, flags, out, v, b, ch, *strides,
            *strides, OUTPUT=OUTPUT_CODES[output], KIND=kind, LOW=low, HIGH=high, BLOCK=_BLOCK,
        )  # fmt: skip
    return out


@_mix_batch_op.register_fake
def _(a, partner, hard_mask, soft_lambda, output, soft):
    rows = 2 * a.shape[0] if output == "both" else a.shape[0]
    return a.new_empty((rows, *a.shape[1:]))


def mix_batch(
    a: Tensor,
    partner: Tensor,
    hard_mask: Tensor,
    soft_lambda: Tensor,
    output: str,
    soft: Tensor | None,
) -> Tensor:
    """The Triton version of ``functional.mixing._mix_batch`` (same arguments, same batch)."""
    check_32bit("mix", f"a tensor of shape {tuple(a.shape)}", a.numel() * 2)
    return _mix_batch_op(
        a, partner.contiguous(), hard_mask.contiguous(), soft_lambda.float().contiguous(),
        output, None if soft is None else soft.contiguous(),
    )  # fmt: skip


@torch.library.custom_op("hsmix_torch::mix_classes", mutates_args=())
def _mix_classes_op(
    labels: Tensor,
    partner: Tensor,
    hard_mask: Tensor,
    soft_lambda: Tensor,
    output: str,
    soft: Tensor | None,
    num_classes: int,
    ignore_index: int,
) -> Tensor:
    b = labels.shape[0]
    v = labels[0].numel()
    rows = 2 * b if output == "both" else b
    out = torch.empty((rows, num_classes, *labels.shape[1:]), dtype=torch.float32,
                      device=labels.device)  # fmt: skip
    if out.numel():
        flags = soft.view(torch.int8) if soft is not None else hard_mask.view(torch.int8)
        _classes_kernel[flat_grid(b, triton.cdiv(v, _BLOCK))](
            labels, partner, hard_mask.view(torch.int8), soft_lambda, flags, out, v, b,
            num_classes, ignore_index, OUTPUT=OUTPUT_CODES[output], BLOCK=_BLOCK,
        )  # fmt: skip
    return out


@_mix_classes_op.register_fake
def _(labels, partner, hard_mask, soft_lambda, output, soft, num_classes, ignore_index):
    rows = 2 * labels.shape[0] if output == "both" else labels.shape[0]
    return labels.new_empty((rows, num_classes, *labels.shape[1:]), dtype=torch.float32)


def mix_classes(
    labels: Tensor,
    partner: Tensor,
    hard_mask: Tensor,
    soft_lambda: Tensor,
    output: str,
    soft: Tensor | None,
    num_classes: int,
    ignore_index: int | None,
) -> Tensor:
    """The Triton version of ``functional.mixing._mix_classes``: one-hot and mixed."""
    check_32bit(
        "mix",
        f"{num_classes} classes of shape {tuple(labels.shape)}",
        labels.numel() * num_classes * 2,
    )
    ignore = -1 if ignore_index is None or not 0 <= ignore_index < num_classes else ignore_index
    return _mix_classes_op(
        labels.contiguous(), partner.contiguous(), hard_mask.contiguous(),
        soft_lambda.float().contiguous(), output, None if soft is None else soft.contiguous(),
        num_classes, ignore,
    )  # fmt: skip
