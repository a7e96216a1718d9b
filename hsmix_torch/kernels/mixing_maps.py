"""The maps of a mix as Triton kernels: the pasted set, ``M``, ``L`` and ``mixed``.

Reference: ``hsmix_torch.functional.maps._mix_maps`` (torch ops), which these equal exactly.

1. Per sample and label slot: the counter-based uniform (the reference's 32-bit hash in
   64-bit integer ops), the paste decision ``u < p_hard`` where the pair mixes (the partner's
   label extremes, one ``torch.aminmax`` before, tell a single superpixel), and zeroed
   region sums.
2. Per pixel: ``M`` from the partner's label; for the saliency weight, each pixel's
   composite region and its relative saliency in 40.24 fixed point (the division as IEEE
   divides, ``tl.div_rn``: ``/`` is approximate on a GPU), added per region by integer
   ``atomic_add`` (exact in any order; from the ends of runs of pixels in one region), and
   whether any pixel was pasted.
3. Per sample: the regions' aggregates and their extremes, in float64 (a few hundred values
   a sample, not per pixel), the normalised weight per region in float32, and ``mixed``.
4. Per pixel: ``L``, the weight of the pixel's region.

For ``output="hard"`` the first two kernels alone run. Every grid is 1-D.
"""

from __future__ import annotations

import struct

import torch
import triton
import triton.language as tl
from torch import Tensor

from .._constants import FIXED_POINT_SCALE, MASK32, OUTPUT_CODES
from ._common import (
    check_32bit,
    flat_grid,
    round_half_even,
    run_bounds,
    run_shares,
    split_program,
)

__all__ = ["mix_maps"]

_BLOCK = 256


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
def _active(partner_ptr, extremes_ptr, b, B):
    """``(partner, whether the pair mixes)``: not an image with itself, nor a partner of a
    single superpixel."""
    j = tl.load(partner_ptr + b)
    return j, (j != b) & (tl.load(extremes_ptr + j) != tl.load(extremes_ptr + B + j))


@triton.jit
def _select_kernel(
    key_ptr,  # [B] int64
    partner_ptr,  # [B] int64
    extremes_ptr,  # [2, B]: each image's smallest and largest label
    selected_ptr,  # [B, R] int8 out
    sums_ptr,  # [2, B, 2R] int64 out: zeroed region sums and counts (SOFT)
    flags_ptr,  # [B, 2] int32 out: zeroed "any pixel pasted", "any weight above 0"
    R,
    B,
    p_hard,
    mask32,
    SOFT: tl.constexpr,
    BLOCK: tl.constexpr,
):
    b, block = split_program(tl.cdiv(R, BLOCK))
    k = block * BLOCK + tl.arange(0, BLOCK)
    inside = k < R
    _, active = _active(partner_ptr, extremes_ptr, b, B)
    h = _mix32(tl.load(key_ptr + b), mask32)
    h = _mix32(_mix32(h ^ k.to(tl.int64), mask32) ^ 0, mask32)  # stream 0
    u = ((h >> 8).to(tl.float32) + 0.5) * (1.0 / 16777216.0)  # 2**-24: exact
    tl.store(selected_ptr + b * R + k, ((u < p_hard) & active).to(tl.int8), mask=inside)
    if SOFT:
        zeros = tl.zeros([BLOCK], tl.int64)
        for half in tl.static_range(2):
            for table in tl.static_range(2):
                at = (table * B + b) * 2 * R + half * R + k
                tl.store(sums_ptr + at, zeros, mask=inside)
    if block == 0:
        tl.store(flags_ptr + b * 2 + tl.arange(0, 2), tl.zeros([2], tl.int32))


@triton.jit
def _hard_kernel(
    labels_ptr,  # [B, V] int: superpixels
    partner_ptr,
    selected_ptr,  # [B, R] int8
    hard_ptr,  # [B, V] int8 out: M
    sal_ptr,  # [B, V] float32 saliency (SOFT)
    sums_ptr,  # [2, B, 2R] int64: fixed-point sums of relative saliency and counts (SOFT)
    flags_ptr,  # [B, 2] int32
    V,
    R,
    B,
    SCALE: tl.constexpr,
    SOFT: tl.constexpr,
    BLOCK: tl.constexpr,
):
    b, block = split_program(tl.cdiv(V, BLOCK))
    p = block * BLOCK + tl.arange(0, BLOCK)
    inside = p < V
    j = tl.load(partner_ptr + b)
    label_b = tl.load(labels_ptr + j * V + p, mask=inside, other=0).to(tl.int32)
    hard = tl.load(selected_ptr + b * R + label_b, mask=inside, other=0) != 0
    tl.store(hard_ptr + b * V + p, hard.to(tl.int8), mask=inside)
    tl.atomic_max(flags_ptr + b * 2, tl.max((hard & inside).to(tl.int32), axis=0), sem="relaxed")
    if SOFT:
        label_a = tl.load(labels_ptr + b * V + p, mask=inside, other=0).to(tl.int32)
        region = b * 2 * R + tl.where(hard, label_b + R, label_a)  # composite_regions
        s_a = tl.load(sal_ptr + b * V + p, mask=inside, other=0.0)
        s_b = tl.load(sal_ptr + j * V + p, mask=inside, other=0.0)
        relative = tl.div_rn(s_b, s_a + s_b + 1e-4)  # relative_saliency; eps in float32
        fixed = round_half_even(relative * SCALE).to(tl.int64)
        first, last = run_bounds(tl.where(inside, region, -1))  # atomics per run
        write = inside & (first | last)
        share = run_shares(first, last, fixed)
        tl.atomic_add(sums_ptr + region, share, mask=write, sem="relaxed")
        count = run_shares(first, last, tl.full([BLOCK], 1, tl.int32)).to(tl.int64)
        tl.atomic_add(sums_ptr + B * 2 * R + region, count, mask=write, sem="relaxed")


@triton.jit
def _region_value(sums_ptr, region, mask, V, B, R, SCALE: tl.constexpr, MEAN: tl.constexpr):
    """A region's aggregate as the reference computes it (float64), and its pixel count."""
    value = tl.load(sums_ptr + region, mask=mask, other=0).to(tl.float64) / SCALE
    count = tl.load(sums_ptr + B * 2 * R + region, mask=mask, other=0)
    pixels = (tl.zeros([], tl.int64) + V).to(tl.float64)
    divisor = tl.maximum(count, 1).to(tl.float64) if MEAN else pixels
    return value / divisor, count


@triton.jit
def _weights_kernel(
    sums_ptr,  # [2, B, 2R] int64
    partner_ptr,
    extremes_ptr,
    soft_ptr,  # [B] bool: the soft mix (EITHER)
    flags_ptr,  # [B, 2] int32: [0] any pixel pasted
    table_ptr,  # [B, 2R] float32 out: the normalised weight per region
    mixed_ptr,  # [B] int8 out
    V,
    R,
    B,
    EPS_BITS: tl.constexpr,  # the normalisation's 1e-5, as float64 bits
    SCALE: tl.constexpr,
    MEAN: tl.constexpr,
    OUTPUT: tl.constexpr,  # 0 both, 2 soft, 3 either
    BLOCK: tl.constexpr,
):
    """One program per sample: minmax_normalize over its present regions."""
    b = tl.program_id(0)
    low = tl.full([], float("inf"), tl.float64)
    high = tl.full([], -float("inf"), tl.float64)
    for start in range(0, 2 * R, BLOCK):
        slot = start + tl.arange(0, BLOCK)
        ok = slot < 2 * R
        value, count = _region_value(sums_ptr, b * 2 * R + slot, ok, V, B, R, SCALE, MEAN)
        present = ok & (count > 0)
        low = tl.minimum(low, tl.min(tl.where(present, value, float("inf")), axis=0))
        high = tl.maximum(high, tl.max(tl.where(present, value, -float("inf")), axis=0))
    eps = tl.full([], EPS_BITS, tl.int64).to(tl.float64, bitcast=True)
    _, active = _active(partner_ptr, extremes_ptr, b, B)
    soft_changed = 0
    for start in range(0, 2 * R, BLOCK):
        slot = start + tl.arange(0, BLOCK)
        ok = slot < 2 * R
        value, count = _region_value(sums_ptr, b * 2 * R + slot, ok, V, B, R, SCALE, MEAN)
        present = ok & (count > 0)
        lam = tl.where(present, ((value - low) / (high - low + eps)).to(tl.float32), 0.0)
        tl.store(table_ptr + b * 2 * R + slot, lam, mask=ok)
        soft_changed = tl.maximum(soft_changed, tl.max((present & (lam > 0)).to(tl.int32), axis=0))
    soft_changed = soft_changed * active.to(tl.int32)
    hard_changed = tl.load(flags_ptr + b * 2)
    if OUTPUT == 0:
        mixed = tl.maximum(hard_changed, soft_changed)
    elif OUTPUT == 2:
        mixed = soft_changed
    else:
        mixed = tl.where(tl.load(soft_ptr + b) != 0, soft_changed, hard_changed)
    tl.store(mixed_ptr + b, mixed.to(tl.int8))


@triton.jit
def _paint_kernel(
    labels_ptr,
    partner_ptr,
    extremes_ptr,
    hard_ptr,  # [B, V] int8: M
    table_ptr,  # [B, 2R] float32
    lam_ptr,  # [B, V] float32 out: L
    V,
    R,
    B,
    BLOCK: tl.constexpr,
):
    b, block = split_program(tl.cdiv(V, BLOCK))
    p = block * BLOCK + tl.arange(0, BLOCK)
    inside = p < V
    j, active = _active(partner_ptr, extremes_ptr, b, B)
    hard = tl.load(hard_ptr + b * V + p, mask=inside, other=0) != 0
    label_a = tl.load(labels_ptr + b * V + p, mask=inside, other=0).to(tl.int32)
    label_b = tl.load(labels_ptr + j * V + p, mask=inside & hard, other=0).to(tl.int32)
    region = tl.where(hard, label_b + R, label_a)
    lam = tl.load(table_ptr + b * 2 * R + region, mask=inside & active, other=0.0)
    tl.store(lam_ptr + b * V + p, lam, mask=inside)


@torch.library.custom_op("hsmix_torch::mix_maps", mutates_args=())
def _mix_maps_op(
    labels: Tensor,
    partner: Tensor,
    key: Tensor,
    num_labels: int,
    p_hard: float,
    saliency: Tensor | None,
    aggregate: str,
    output: str,
    soft: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    b = labels.shape[0]
    v = labels[0].numel()
    r = num_labels
    dev = labels.device
    flat = labels.view(b, v)
    extremes = torch.stack(torch.aminmax(flat, dim=1))
    is_soft = output != "hard"
    selected = torch.empty((b, r), dtype=torch.int8, device=dev)
    sums = torch.empty((2, b, 2 * r) if is_soft else (1,), dtype=torch.int64, device=dev)
    flags = torch.empty((b, 2), dtype=torch.int32, device=dev)
    _select_kernel[flat_grid(b, triton.cdiv(r, _BLOCK))](
        key, partner, extremes, selected, sums, flags, r, b, float(p_hard), MASK32,
        SOFT=is_soft, BLOCK=_BLOCK,
    )  # fmt: skip
    hard = torch.empty((b, *labels.shape[1:]), dtype=torch.int8, device=dev)
    grid = flat_grid(b, triton.cdiv(v, _BLOCK))
    sal = saliency if is_soft else flags
    consts = dict(SCALE=int(FIXED_POINT_SCALE), BLOCK=_BLOCK)
    _hard_kernel[grid](labels, partner, selected, hard, sal, sums, flags, v, r, b, SOFT=is_soft,
                       enable_fp_fusion=False, **consts)  # fmt: skip
    lam = torch.zeros if not is_soft else torch.empty
    lam = lam(hard.shape, dtype=torch.float32, device=dev)
    if not is_soft:
        return selected.view(torch.bool), hard.view(torch.bool), lam, flags[:, 0] > 0
    table = torch.empty((b, 2 * r), dtype=torch.float32, device=dev)
    mixed = torch.empty(b, dtype=torch.int8, device=dev)
    _weights_kernel[flat_grid(b)](
        sums, partner, extremes, soft if soft is not None else flags, flags, table, mixed, v, r,
        b, EPS_BITS=_float64_bits(1e-5), MEAN=aggregate == "mean", OUTPUT=OUTPUT_CODES[output],
        enable_fp_fusion=False, **consts,
    )  # fmt: skip
    _paint_kernel[grid](labels, partner, extremes, hard, table, lam, v, r, b, BLOCK=_BLOCK)
    return selected.view(torch.bool), hard.view(torch.bool), lam, mixed.view(torch.bool)


@_mix_maps_op.register_fake
def _(labels, partner, key, num_labels, p_hard, saliency, aggregate, output, soft):
    b = labels.shape[0]
    return (
        labels.new_empty((b, num_labels), dtype=torch.bool),
        labels.new_empty(labels.shape, dtype=torch.bool),
        labels.new_empty(labels.shape, dtype=torch.float32),
        labels.new_empty((b,), dtype=torch.bool),
    )


def mix_maps(
    labels: Tensor,
    partner: Tensor,
    key: Tensor,
    num_labels: int,
    p_hard: float,
    saliency: Tensor | None,
    region_weights: Tensor | None,
    aggregate: str,
    output: str,
    soft: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The Triton version of ``functional.maps._mix_maps``: ``(selected, hard_mask,
    soft_lambda, mixed)`` for the saliency weight or ``output="hard"`` (``region_weights``
    take the torch ops)."""
    if region_weights is not None and output != "hard":
        raise ValueError("the Triton maps take the saliency weight; region weights use torch ops")
    check_32bit(
        "maps",
        f"labels of shape {tuple(labels.shape)} with {num_labels} slots",
        labels.numel() * 2,
        labels.shape[0] * 4 * num_labels,
    )
    return _mix_maps_op(
        labels.contiguous(),
        partner.contiguous(),
        key.long().contiguous(),
        int(num_labels),
        float(p_hard),
        None if saliency is None or output == "hard" else saliency.float().contiguous(),
        aggregate,
        output,
        soft,
    )
