"""The maps of a mix as Triton kernels: per-superpixel uniforms and the soft weight L.

References (torch ops, which these equal exactly): ``hsmix_torch.sampler.region_uniforms``
(a counter-based hash in 64-bit integer ops: 73 small kernels in torch, one here) and
``hsmix_torch.functional.lam.soft_lambda`` (relative saliency, the composite regions, their
fixed-point sums, the per-image min-max normalisation and the painting: about 30 torch
kernels, six launches here). Region sums are integer ``atomic_add`` and the per-image
extremes integer ``atomic_min``/``atomic_max`` of the float64 bits (the values are never
negative, so their bits order like them): exact, whatever the order of the programs.
"""

from __future__ import annotations

import struct

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..functional.regions import FIXED_POINT_SCALE
from .slic_kmeans import _round_half_even

__all__ = ["region_uniforms", "soft_lambda"]

_BLOCK = 256
_MASK32 = 0xFFFFFFFF  # a runtime argument: Triton types it int64
_INT64_MAX = torch.iinfo(torch.int64).max


def _float64_bits(value: float) -> int:
    """The bits of a float64 constant, so a kernel rebuilds it exactly (a float literal or
    argument would be float32 in Triton)."""
    return struct.unpack("<q", struct.pack("<d", value))[0]


@triton.jit
def _mulmod32(x, CL: tl.constexpr, CH: tl.constexpr, mask32):
    """``(x * c) mod 2**32`` for ``c = CH * 2**16 + CL``, in int64 without overflow."""
    return (x * CL + (((x * CH) & 0xFFFF) << 16)) & mask32


@triton.jit
def _mix32(x, mask32):
    """The reference's 32-bit hash (Wellons' "lowbias32") of int64 ``x`` in [0, 2**32)."""
    x = x ^ (x >> 16)
    x = _mulmod32(x, 0x352D, 0x7FEB, mask32)
    x = x ^ (x >> 15)
    x = _mulmod32(x, 0xA68B, 0x846C, mask32)
    return x ^ (x >> 16)


@triton.jit
def _uniforms_kernel(key_ptr, out_ptr, R, mask32, STREAM: tl.constexpr, BLOCK: tl.constexpr):
    b = tl.program_id(1).to(tl.int64)
    label = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = label < R
    h = _mix32(tl.load(key_ptr + b), mask32)
    h = _mix32(_mix32(h ^ label, mask32) ^ STREAM, mask32)
    u = ((h >> 8).to(tl.float32) + 0.5) * (1.0 / 16777216.0)  # 2**-24: exact
    tl.store(out_ptr + b * R + label, u, mask=inside)


@torch.library.custom_op("hsmix_torch::region_uniforms", mutates_args=())
def _uniforms_op(key: Tensor, num_labels: int) -> Tensor:
    out = torch.empty((key.shape[0], num_labels), dtype=torch.float32, device=key.device)
    if out.numel():
        grid = (triton.cdiv(num_labels, _BLOCK), key.shape[0])
        _uniforms_kernel[grid](key, out, num_labels, _MASK32, STREAM=0, BLOCK=_BLOCK)
    return out


@_uniforms_op.register_fake
def _(key, num_labels):
    return key.new_empty((key.shape[0], num_labels), dtype=torch.float32)


def region_uniforms(key: Tensor, num_labels: int) -> Tensor:
    """The Triton version of ``sampler.region_uniforms``: ``[B, num_labels]`` float32."""
    return _uniforms_op(key.long().contiguous(), num_labels)


# ------------------------------------------------------------------------- soft weight L
@triton.jit
def _composite_region(partner_ptr, labels_ptr, hard_ptr, b, offs, inside, HW, R):
    """Each pixel's slot in ``[B, 2R]``: its own superpixel outside M, its partner's (+R)
    inside (``functional.composite_regions``)."""
    j = tl.load(partner_ptr + b)
    hard = tl.load(hard_ptr + b * HW + offs, mask=inside, other=0) != 0
    label_a = tl.load(labels_ptr + b * HW + offs, mask=inside, other=0)
    label_b = tl.load(labels_ptr + j * HW + offs, mask=inside, other=0)
    return b * 2 * R + tl.where(hard, label_b + R, label_a)


@triton.jit
def _region_sums_kernel(
    sal_ptr,  # [B, H*W] float32 saliency of each image
    partner_ptr,  # [B] int64
    labels_ptr,  # [B, H*W] int64 superpixels of each image, in [0, R)
    hard_ptr,  # [B, H*W] int8: M
    sums_ptr,  # [B, 2R] int64, zeroed: fixed-point sums of relative saliency per region
    counts_ptr,  # [B, 2R] int64, zeroed
    HW,
    R,
    SCALE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    b = tl.program_id(1).to(tl.int64)
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < HW
    j = tl.load(partner_ptr + b)
    s_a = tl.load(sal_ptr + b * HW + offs, mask=inside, other=0.0)
    s_b = tl.load(sal_ptr + j * HW + offs, mask=inside, other=0.0)
    relative = s_b / (s_a + s_b + 1e-4)  # relative_saliency, eps rounded to float32 as torch
    region = _composite_region(partner_ptr, labels_ptr, hard_ptr, b, offs, inside, HW, R)
    tl.atomic_add(sums_ptr + region, _round_half_even(relative * SCALE).to(tl.int64), mask=inside)
    tl.atomic_add(counts_ptr + region, tl.full([BLOCK], 1, tl.int64), mask=inside)


@triton.jit
def _region_value(sums_ptr, counts_ptr, region, mask, HW, SCALE: tl.constexpr, MEAN: tl.constexpr):
    """A region's aggregate as the reference computes it, in float64."""
    value = tl.load(sums_ptr + region, mask=mask, other=0).to(tl.float64) / SCALE
    count = tl.load(counts_ptr + region, mask=mask, other=0)
    # (HW may arrive as a constexpr: Triton specialises an int argument equal to 1.)
    pixels = (tl.zeros([], tl.int64) + HW).to(tl.float64)
    divisor = tl.maximum(count, 1).to(tl.float64) if MEAN else pixels
    return value / divisor, count


@triton.jit
def _extremes_kernel(
    sums_ptr,
    counts_ptr,
    low_ptr,  # [B] int64, INT64_MAX: the bits of the smallest present value
    high_ptr,  # [B] int64, zeros: the bits of the largest
    HW,
    R2,
    SCALE: tl.constexpr,
    MEAN: tl.constexpr,
    BLOCK: tl.constexpr,
):
    b = tl.program_id(1).to(tl.int64)
    slot = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = slot < R2
    value, count = _region_value(sums_ptr, counts_ptr, b * R2 + slot, inside, HW, SCALE, MEAN)
    present = inside & (count > 0)
    bits = value.to(tl.int64, bitcast=True)
    big = 0x7FFFFFFFFFFFFFFF
    tl.atomic_min(low_ptr + b, tl.min(tl.where(present, bits, big), axis=0))
    tl.atomic_max(high_ptr + b, tl.max(tl.where(present, bits, 0), axis=0))


@triton.jit
def _paint_kernel(
    partner_ptr,
    labels_ptr,
    hard_ptr,
    sums_ptr,
    counts_ptr,
    low_ptr,
    high_ptr,
    out_ptr,  # [B, H*W] float32: L
    HW,
    R,
    EPS_BITS: tl.constexpr,  # the normalisation's 1e-5, as float64 bits
    SCALE: tl.constexpr,
    MEAN: tl.constexpr,
    BLOCK: tl.constexpr,
):
    b = tl.program_id(1).to(tl.int64)
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < HW
    region = _composite_region(partner_ptr, labels_ptr, hard_ptr, b, offs, inside, HW, R)
    value, _ = _region_value(sums_ptr, counts_ptr, region, inside, HW, SCALE, MEAN)
    low = tl.load(low_ptr + b).to(tl.float64, bitcast=True)
    high = tl.load(high_ptr + b).to(tl.float64, bitcast=True)
    eps = tl.full([], EPS_BITS, tl.int64).to(tl.float64, bitcast=True)
    lam = (value - low) / (high - low + eps)  # minmax_normalize, in float64
    tl.store(out_ptr + b * HW + offs, lam.to(tl.float32), mask=inside)


@torch.library.custom_op("hsmix_torch::soft_lambda", mutates_args=())
def _soft_lambda_op(
    saliency: Tensor,
    labels: Tensor,
    partner: Tensor,
    hard_mask: Tensor,
    num_labels: int,
    mean: bool,
) -> Tensor:
    b = labels.shape[0]
    hw, dev = labels[0].numel(), labels.device  # pixels (voxels) per image
    tables = torch.zeros((2, b, 2 * num_labels), dtype=torch.int64, device=dev)
    extremes = torch.zeros((2, b), dtype=torch.int64, device=dev)
    extremes[0] = _INT64_MAX
    grid = (triton.cdiv(hw, _BLOCK), b)
    hard = hard_mask.view(torch.int8)
    consts = dict(SCALE=int(FIXED_POINT_SCALE), BLOCK=_BLOCK)
    _region_sums_kernel[grid](
        saliency, partner, labels, hard, tables[0], tables[1], hw, num_labels,
        enable_fp_fusion=False, **consts,
    )  # fmt: skip
    _extremes_kernel[(triton.cdiv(2 * num_labels, _BLOCK), b)](
        tables[0], tables[1], extremes[0], extremes[1], hw, 2 * num_labels, MEAN=mean, **consts
    )
    out = torch.empty(labels.shape, dtype=torch.float32, device=dev)
    _paint_kernel[grid](
        partner, labels, hard, tables[0], tables[1], extremes[0], extremes[1], out,
        hw, num_labels, EPS_BITS=_float64_bits(1e-5), MEAN=mean, enable_fp_fusion=False,
        **consts,
    )  # fmt: skip
    return out


@_soft_lambda_op.register_fake
def _(saliency, labels, partner, hard_mask, num_labels, mean):
    return saliency.new_empty(labels.shape, dtype=torch.float32)


def soft_lambda(
    saliency: Tensor,
    labels: Tensor,
    partner: Tensor,
    hard_mask: Tensor,
    num_labels: int,
    aggregate: str,
) -> Tensor:
    """The Triton version of ``functional.lam.soft_lambda`` (same arguments, same map)."""
    return _soft_lambda_op(
        saliency.float().contiguous(),
        labels.contiguous(),
        partner.contiguous(),
        hard_mask.contiguous(),
        num_labels,
        aggregate == "mean",
    )
