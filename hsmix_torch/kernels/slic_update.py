"""The SLIC centre update's sums as one Triton kernel.

Reference: ``hsmix_torch.superpixels.torch_slic._update`` (torch ops: the rows
``[y, x, features]`` of every pixel rounded to 40.24 fixed point and scatter-added per
centre). Here one program reads a block of pixels once and adds each pixel's fixed-point
row and count to its centre with integer atomics: integer addition does not depend on the
order, so the sums are exact and identical run to run, with no float atomics and no
``[B, H*W, 2 + F]`` intermediate. The means are finished by the reference's own torch ops
on the small ``[B, K, 2 + F]`` table.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..functional.regions import FIXED_POINT_SCALE

__all__ = ["slic_update"]

_BLOCK = 256


@triton.jit
def _round_half_even(v):
    """``torch.round`` of float32 ``v`` without libdevice: below 2**23 the float addition of
    2**23 rounds to an integer (half to even); from 2**23 on every float32 is an integer."""
    t = tl.abs(v)
    r = tl.where(t < 8388608.0, (t + 8388608.0) - 8388608.0, t)
    return tl.where(v < 0, -r, r)


@triton.jit
def _update_sums_kernel(
    feats_ptr,  # [B, H*W, F] float32
    labels_ptr,  # [B, H*W] int64 in [0, K)
    sums_ptr,  # [B, K, 2 + F] int64, zeroed
    counts_ptr,  # [B, K] int64, zeroed
    H,
    W,
    K,
    SCALE: tl.constexpr,
    F: tl.constexpr,
    BLOCK: tl.constexpr,
):
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    hw = H * W
    inside = offs < hw
    label = tl.load(labels_ptr + b * hw + offs, mask=inside, other=0)
    row = sums_ptr + (b * K + label) * (2 + F)
    tl.atomic_add(row, (offs // W) * SCALE, mask=inside)  # y, exact in fixed point
    tl.atomic_add(row + 1, (offs % W) * SCALE, mask=inside)  # x
    pixel = feats_ptr + (b * hw + offs) * F
    for f in tl.static_range(F):
        v = tl.load(pixel + f, mask=inside, other=0.0) * SCALE  # a power of 2: exact
        tl.atomic_add(row + 2 + f, _round_half_even(v).to(tl.int64), mask=inside)
    tl.atomic_add(counts_ptr + b * K + label, tl.full([BLOCK], 1, tl.int64), mask=inside)


@torch.library.custom_op("hsmix_torch::slic_update_sums", mutates_args=())
def _slic_update_sums_op(feats: Tensor, labels: Tensor, k_pad: int) -> tuple[Tensor, Tensor]:
    b, h, w, f = feats.shape
    sums = torch.zeros((b, k_pad, 2 + f), dtype=torch.int64, device=feats.device)
    counts = torch.zeros((b, k_pad), dtype=torch.int64, device=feats.device)
    grid = (b, triton.cdiv(h * w, _BLOCK))
    _update_sums_kernel[grid](
        feats,
        labels,
        sums,
        counts,
        h,
        w,
        k_pad,
        SCALE=int(FIXED_POINT_SCALE),
        F=f,
        BLOCK=_BLOCK,
        enable_fp_fusion=False,
    )
    return sums, counts


@_slic_update_sums_op.register_fake
def _(feats, labels, k_pad):
    b, _, _, f = feats.shape
    sums = feats.new_empty((b, k_pad, 2 + f), dtype=torch.int64)
    return sums, feats.new_empty((b, k_pad), dtype=torch.int64)


def slic_update(feats: Tensor, labels: Tensor, k_pad: int) -> tuple[Tensor, Tensor]:
    """The Triton version of ``torch_slic._update``: new centres ``[B, K_pad, 2 + F]``
    (mean y, x, features, float32) and counts ``[B, K_pad]`` int64, equal to it exactly."""
    sums, counts = _slic_update_sums_op(feats.contiguous(), labels.contiguous(), k_pad)
    means = sums.double() / FIXED_POINT_SCALE  # the reference's finishing ops
    return (means / counts.clamp(min=1)[..., None].double()).float(), counts
