"""OpenCV's fine-grained saliency in three Triton kernels (and the integral image's two
torch cumsums, exact in any order).

Reference: ``hsmix_torch.saliency.fine_grained`` (torch ops), which these kernels equal bit
for bit: its arithmetic is integers carried in float32 except, per scale, one division and
one subtraction, and the final normalisation, which the kernels round the same way. (1) The
two 3x3 blurs of the 8-bit grey image with reflect-101 borders, evaluated per pixel; (2) the
six centre-surround scales from the replicate-padded integral table, the on and off sums,
and per-image maxima by integer ``atomic_max``; (3) the normalisation and 8-bit wrap.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["fine_grained_maps"]

_BLOCK = 256
HALF_SIZES = (12, 24, 48, 28, 56, 112)  # OpenCV's order (the reference's _HALF_SIZES)


@triton.jit
def _reflect101(i, n):
    """reflect-101 index of ``i`` in ``[-1, n]`` on an axis of length ``n`` (0 if n == 1)."""
    i = tl.where(i < 0, -i, i)
    i = tl.where(i >= n, 2 * (n - 1) - i, i)
    return tl.where(n == 1, 0, i)


@triton.jit
def _blur1(grey_ptr, qy, qx, H, W, mask):
    """OpenCV's 3x3 Gaussian of 8-bit values at (qy, qx): floor((sum w g + 8) / 16)."""
    acc = tl.zeros(qy.shape, tl.float32)
    for ey in tl.static_range(3):
        ry = _reflect101(qy + (ey - 1), H)
        wy = 2.0 if ey == 1 else 1.0
        for ex in tl.static_range(3):
            rx = _reflect101(qx + (ex - 1), W)
            wx = 2.0 if ex == 1 else 1.0
            acc += wy * wx * tl.load(grey_ptr + ry * W + rx, mask=mask, other=0.0)
    return tl.floor((acc + 8.0) * (1.0 / 16))


@triton.jit
def _centre_kernel(grey_ptr, out_ptr, H, W, BLOCK: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < H * W
    y = offs // W
    x = offs % W
    grey = grey_ptr + b * H * W
    acc = tl.zeros([BLOCK], tl.float32)
    for dy in tl.static_range(3):
        qy = _reflect101(y + (dy - 1), H)
        wy = 2.0 if dy == 1 else 1.0
        for dx in tl.static_range(3):
            qx = _reflect101(x + (dx - 1), W)
            wx = 2.0 if dx == 1 else 1.0
            acc += wy * wx * _blur1(grey, qy, qx, H, W, inside)
    tl.store(out_ptr + b * H * W + offs, tl.floor((acc + 8.0) * (1.0 / 16)), mask=inside)


@triton.jit
def _scales_kernel(
    centre_ptr,  # [B, H, W] float32
    table_ptr,  # [B, H + 1 + 2 * PAD, W + 1 + 2 * PAD] float32, replicate-padded integral
    on_ptr,  # [B, H, W] int32 on sums
    off_ptr,  # [B, H, W] int32 off sums
    peaks_ptr,  # [B, 2] int32, zeroed: the largest on and off sums
    H,
    W,
    PAD: tl.constexpr,
    N0: tl.constexpr,
    N1: tl.constexpr,
    N2: tl.constexpr,
    N3: tl.constexpr,
    N4: tl.constexpr,
    N5: tl.constexpr,
    BLOCK: tl.constexpr,
):
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < H * W
    y = offs // W
    x = offs % W
    tw = W + 1 + 2 * PAD
    table = table_ptr + b * (H + 1 + 2 * PAD) * tw
    c = tl.load(centre_ptr + b * H * W + offs, mask=inside, other=0.0)
    signed = tl.zeros([BLOCK], tl.int32)
    magnitude = tl.zeros([BLOCK], tl.int32)
    for s in tl.static_range(6):
        n = (
            N0
            if s == 0
            else N1
            if s == 1
            else N2
            if s == 2
            else N3
            if s == 3
            else N4
            if s == 4
            else N5
        )
        lo = PAD - n + 1
        hi = PAD + n + 1
        rows = tl.minimum(y + n + 1, H) - tl.maximum(y - n + 1, 0)
        cols = tl.minimum(x + n + 1, W) - tl.maximum(x - n + 1, 0)
        count = (rows * cols - 1).to(tl.float32)
        hh = tl.load(table + (hi + y) * tw + hi + x, mask=inside, other=0.0)
        ll = tl.load(table + (lo + y) * tw + lo + x, mask=inside, other=0.0)
        hl = tl.load(table + (hi + y) * tw + lo + x, mask=inside, other=0.0)
        lh = tl.load(table + (lo + y) * tw + hi + x, mask=inside, other=0.0)
        surround = (hh + ll) - hl - lh - c
        t = (c + (-surround) / count).to(tl.int32)  # the reference's addcdiv; truncation
        signed += t
        magnitude += tl.abs(t)
    on = (magnitude + signed) >> 1
    off = (magnitude - signed) >> 1
    tl.store(on_ptr + b * H * W + offs, on, mask=inside)
    tl.store(off_ptr + b * H * W + offs, off, mask=inside)
    tl.atomic_max(peaks_ptr + b * 2, tl.max(tl.where(inside, on, 0), axis=0))
    tl.atomic_max(peaks_ptr + b * 2 + 1, tl.max(tl.where(inside, off, 0), axis=0))


@triton.jit
def _normalise_kernel(on_ptr, off_ptr, peaks_ptr, out_ptr, HW, BLOCK: tl.constexpr):
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < HW
    peak_on = tl.maximum(tl.load(peaks_ptr + b * 2), 1).to(tl.float32)
    peak_off = tl.maximum(tl.load(peaks_ptr + b * 2 + 1), 1).to(tl.float32)
    on = tl.load(on_ptr + b * HW + offs, mask=inside, other=0).to(tl.float32)
    off = tl.load(off_ptr + b * HW + offs, mask=inside, other=0).to(tl.float32)
    on8 = (255.0 * (on / peak_on).to(tl.float64)).to(tl.int32)
    off8 = (255.0 * (off / peak_off).to(tl.float64)).to(tl.int32)
    out = ((on8 + off8) & 255).to(tl.float32) * (1.0 / 255.0)
    tl.store(out_ptr + b * HW + offs, out, mask=inside)


@torch.library.custom_op("hsmix_torch::fine_grained_maps", mutates_args=())
def _fine_grained_op(grey: Tensor) -> Tensor:
    from ..saliency.fine_grained import _integral  # the reference's integral image

    b, h, w = grey.shape
    grid = (b, triton.cdiv(h * w, _BLOCK))
    centre = torch.empty_like(grey)
    _centre_kernel[grid](grey, centre, h, w, BLOCK=_BLOCK, enable_fp_fusion=False)
    pad = max(HALF_SIZES) + 1
    table = torch.nn.functional.pad(_integral(centre)[:, None], (pad,) * 4, mode="replicate")
    table = table[:, 0].contiguous()
    on = torch.empty((b, h, w), dtype=torch.int32, device=grey.device)
    off = torch.empty_like(on)
    peaks = torch.zeros((b, 2), dtype=torch.int32, device=grey.device)
    _scales_kernel[grid](
        centre,
        table,
        on,
        off,
        peaks,
        h,
        w,
        pad,
        *HALF_SIZES,
        BLOCK=_BLOCK,
        enable_fp_fusion=False,
    )
    out = torch.empty((b, 1, h, w), dtype=torch.float32, device=grey.device)
    _normalise_kernel[grid](on, off, peaks, out, h * w, BLOCK=_BLOCK, enable_fp_fusion=False)
    return out


@_fine_grained_op.register_fake
def _(grey):
    return grey.new_empty((grey.shape[0], 1, *grey.shape[1:]))


def fine_grained_maps(grey: Tensor) -> Tensor:
    """The fine-grained map ``[B, 1, H, W]`` float32 of 8-bit grey levels ``[B, H, W]``
    (float32 holding 0..255) with H * W >= 2; the Triton version of the reference's body."""
    return _fine_grained_op(grey.contiguous())
