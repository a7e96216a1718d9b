"""OpenCV's fine-grained saliency in five Triton kernels.

Reference: ``hsmix_torch.saliency.fine_grained`` (torch ops: ``grey_levels`` then
``_maps``), which these kernels equal bit for bit: its arithmetic is integers carried in
float32 except, per scale, one division and one subtraction, and the final normalisation,
which the kernels round the same way.

1. The 8-bit grey levels of the images, read in their dtype and layout.
   Per row: the two 3x3 blurs with reflect-101 borders (25 reads a pixel, in the cache)
   and the running sum along the row (exact integers).
2. Per block of columns: the running sums down the columns, which completes the integral
   image (exact integers below 2**31, rounded once to float32 as the reference rounds its
   float64 sums).
3. The six centre-surround scales from the integral table (window corners clamped to the
   table), the on and off sums, and per-image maxima by integer ``atomic_max``.
4. The normalisation and 8-bit wrap.

Divisions are ``tl.div_rn`` (IEEE, as torch divides; a plain ``/`` compiles to an
approximate division on a GPU, which would truncate a whole quotient to the integer below).
Every grid is 1-D (rows times blocks on CUDA's first axis).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from .._constants import HALF_SIZES
from ._common import (
    INT32_LIMIT,
    check_32bit,
    flat_grid,
    largest_offset,
    round_half_even,
    split_program,
)

__all__ = ["fine_grained_maps"]

_BLOCK = 256
_COLUMNS = 64  # columns per program of the integral's second pass
_ROWS = 16  # rows per step of that pass


@triton.jit
def _reflect101(i, n):
    """reflect-101 index of ``i`` in ``[-2, n + 1]`` on an axis of length ``n`` (0 if n == 1)."""
    i = tl.where(i < 0, -i, i)
    i = tl.where(i >= n, 2 * (n - 1) - i, i)
    i = tl.where(i < 0, -i, i)  # n == 2 and i == 3: reflected twice
    return tl.where(n == 1, 0, i)


@triton.jit
def _grey(row_ptr, x, mask, STRIDE_C, STRIDE_X, C: tl.constexpr, FLOAT: tl.constexpr):
    """OpenCV's 8-bit grey level (``grey_levels``) of pixels ``x`` of an image row."""
    base = row_ptr + x * STRIDE_X
    total = tl.zeros(x.shape, tl.float32)
    for c in tl.static_range(C):
        v = tl.load(base + c * STRIDE_C, mask=mask, other=0).to(tl.float32)
        if FLOAT:  # [0, 1] to 8 bits: NaN as 0, clamped, rounded half to even
            v = tl.where(v != v, 0.0, v)
            v = round_half_even(tl.minimum(tl.maximum(v, 0.0), 1.0) * 255.0)
        if C == 3:
            w = 9798.0 if c == 0 else (19235.0 if c == 1 else 3735.0)
            total = v * w if c == 0 else total + v * w
        else:
            total = v if c == 0 else total + v
    if C == 3:
        return tl.floor((total + 16384.0) * (1.0 / 32768.0))
    if C == 1:
        return total
    return tl.floor(tl.div_rn(total + C // 2, tl.full(total.shape, C, tl.float32)))


@triton.jit
def _row_sums(grey_ptr, y, x, H, W, mask):
    """``g[x-1] + 2 g[x] + g[x+1]`` at columns ``x - 1, x, x + 1`` of grey row ``y``
    (reflected into the image)."""
    row = grey_ptr + (_reflect101(y, H) + tl.zeros_like(x)) * W
    g0 = tl.load(row + _reflect101(x - 2, W), mask=mask, other=0).to(tl.float32)
    g1 = tl.load(row + _reflect101(x - 1, W), mask=mask, other=0).to(tl.float32)
    g2 = tl.load(row + x, mask=mask, other=0).to(tl.float32)
    g3 = tl.load(row + _reflect101(x + 1, W), mask=mask, other=0).to(tl.float32)
    g4 = tl.load(row + _reflect101(x + 2, W), mask=mask, other=0).to(tl.float32)
    return g0 + 2.0 * g1 + g2, g1 + 2.0 * g2 + g3, g2 + 2.0 * g3 + g4


@triton.jit
def _blur_row(above, here, below, weight: tl.constexpr):
    """The first blur at the three columns of one row, weighted for the second blur."""
    left = tl.floor((above[0] + 2.0 * here[0] + below[0] + 8.0) * (1.0 / 16))
    mid = tl.floor((above[1] + 2.0 * here[1] + below[1] + 8.0) * (1.0 / 16))
    right = tl.floor((above[2] + 2.0 * here[2] + below[2] + 8.0) * (1.0 / 16))
    return weight * (left + 2.0 * mid + right)


@triton.jit
def _grey_kernel(
    images_ptr,
    grey_ptr,  # [B, H, W] uint8 out
    H,
    W,
    BLOCKS,  # cdiv(W, BLOCK)
    STRIDE_B,
    STRIDE_C,
    STRIDE_Y,
    STRIDE_X,
    C: tl.constexpr,
    FLOAT: tl.constexpr,
    BLOCK: tl.constexpr,
):
    row, block = split_program(BLOCKS)
    x = block * BLOCK + tl.arange(0, BLOCK)
    inside = x < W
    base = images_ptr + (row // H) * STRIDE_B + (row % H) * STRIDE_Y
    grey = _grey(base, x, inside, STRIDE_C, STRIDE_X, C, FLOAT)
    tl.store(grey_ptr + row * W + x, grey.to(tl.uint8), mask=inside)


@triton.jit
def _centre_kernel(
    grey_ptr,  # [B, H, W] uint8: the grey levels
    centre_ptr,  # [B, H, W] float32 out: the blurred grey levels
    rowsum_ptr,  # [B, H, W] int32 out: running sums of centre along each row
    peaks_ptr,  # [B, 2] int32 out: zeroed, for the scales kernel
    H,
    W,
    W_PAD: tl.constexpr,
):
    row = tl.program_id(0)
    b = row // H
    y = row % H
    x = tl.arange(0, W_PAD)
    inside = x < W
    # OpenCV's 3x3 Gaussian twice: floor((sum w g + 8) / 16), reflect-101 borders. The
    # stencil is symmetric, so the first blur at a reflected position is the first blur of
    # the reflected grey levels: one 5x5 neighbourhood of grey levels serves both blurs.
    # Per row of it, the horizontal sums at the three columns of the second blur.
    grey = grey_ptr + b * H * W
    r0 = _row_sums(grey, y - 2, x, H, W, inside)
    r1 = _row_sums(grey, y - 1, x, H, W, inside)
    r2 = _row_sums(grey, y, x, H, W, inside)
    r3 = _row_sums(grey, y + 1, x, H, W, inside)
    r4 = _row_sums(grey, y + 2, x, H, W, inside)
    acc = _blur_row(r0, r1, r2, 1.0) + _blur_row(r1, r2, r3, 2.0) + _blur_row(r2, r3, r4, 1.0)
    centre = tl.floor((acc + 8.0) * (1.0 / 16))
    tl.store(centre_ptr + row * W + x, centre, mask=inside)
    tl.store(rowsum_ptr + row * W + x, tl.cumsum(centre.to(tl.int32), axis=0), mask=inside)
    if y == 0:
        tl.store(peaks_ptr + b * 2 + x, tl.zeros([W_PAD], tl.int32), mask=x < 2)


@triton.jit
def _integral_kernel(
    rowsum_ptr,  # [B, H, W] int32
    table_ptr,  # [B, H + 1, W + 1] float32 out: the integral image, zero first row, column
    H,
    W,
    BLOCKS,  # cdiv(W, COLUMNS)
    COLUMNS: tl.constexpr,
    ROWS: tl.constexpr,
):
    b, block = split_program(BLOCKS)
    x = block * COLUMNS + tl.arange(0, COLUMNS)
    r = tl.arange(0, ROWS)
    tw = W + 1
    table = table_ptr + b * (H + 1) * tw
    tl.store(table + 1 + x, tl.zeros([COLUMNS], tl.float32), mask=x < W)
    if block == 0:  # the zero first column
        for start in range(0, H + 1, COLUMNS):
            t = start + tl.arange(0, COLUMNS)
            tl.store(table + t * tw, tl.zeros([COLUMNS], tl.float32), mask=t < H + 1)
    carry = tl.zeros([COLUMNS], tl.int32)
    for start in range(0, H, ROWS):
        y = start + r
        ok = (y[:, None] < H) & (x[None, :] < W)
        sums = tl.load(rowsum_ptr + (b * H + y[:, None]) * W + x[None, :], mask=ok, other=0)
        sums = tl.cumsum(sums, axis=0) + carry[None, :]
        tl.store(table + (y[:, None] + 1) * tw + x[None, :] + 1, sums.to(tl.float32), mask=ok)
        carry = tl.sum(tl.where(y[:, None] == tl.minimum(start + ROWS, H) - 1, sums, 0), axis=0)


@triton.jit
def _scales_kernel(
    centre_ptr,  # [B, H, W] float32
    table_ptr,  # [B, H + 1, W + 1] float32 integral image
    on_ptr,  # [B, H, W] int32 on sums
    off_ptr,  # [B, H, W] int32 off sums
    peaks_ptr,  # [B, 2] int32, zeroed: the largest on and off sums
    H,
    W,
    BLOCKS,  # cdiv(W, BLOCK)
    N0: tl.constexpr,
    N1: tl.constexpr,
    N2: tl.constexpr,
    N3: tl.constexpr,
    N4: tl.constexpr,
    N5: tl.constexpr,
    BLOCK: tl.constexpr,
):
    row, block = split_program(BLOCKS)
    b = row // H
    y = row % H
    x = block * BLOCK + tl.arange(0, BLOCK)
    inside = x < W
    tw = W + 1
    table = table_ptr + b * (H + 1) * tw
    c = tl.load(centre_ptr + row * W + x, mask=inside, other=0.0)
    signed = tl.zeros([BLOCK], tl.int32)
    magnitude = tl.zeros([BLOCK], tl.int32)
    for s in tl.static_range(6):
        if s == 0:
            n = N0
        elif s == 1:
            n = N1
        elif s == 2:
            n = N2
        elif s == 3:
            n = N3
        elif s == 4:
            n = N4
        else:
            n = N5
        # The window's corners, clamped to the table (the reference's replicate padding).
        y2 = tl.minimum(y + n + 1, H)
        y1 = tl.maximum(y - n + 1, 0)
        x2 = tl.minimum(x + n + 1, W)
        x1 = tl.maximum(x - n + 1, 0)
        count = ((y2 - y1) * (x2 - x1) - 1).to(tl.float32)
        hh = tl.load(table + y2 * tw + x2, mask=inside, other=0.0)
        ll = tl.load(table + y1 * tw + x1, mask=inside, other=0.0)
        hl = tl.load(table + y2 * tw + x1, mask=inside, other=0.0)
        lh = tl.load(table + y1 * tw + x2, mask=inside, other=0.0)
        surround = (hh + ll) - hl - lh - c
        t = (c + tl.div_rn(-surround, count)).to(tl.int32)  # the reference's addcdiv, truncated
        signed += t
        magnitude += tl.abs(t)
    on = (magnitude + signed) >> 1
    off = (magnitude - signed) >> 1
    tl.store(on_ptr + row * W + x, on, mask=inside)
    tl.store(off_ptr + row * W + x, off, mask=inside)
    tl.atomic_max(peaks_ptr + b * 2, tl.max(tl.where(inside, on, 0), axis=0), sem="relaxed")
    tl.atomic_max(peaks_ptr + b * 2 + 1, tl.max(tl.where(inside, off, 0), axis=0), sem="relaxed")


@triton.jit
def _scale_to_255(total, peak):
    """``trunc(255.0 * fl32(total / peak))`` exactly, without float64: with the ratio
    ``m * 2**(e - 23)`` (m its 24-bit significand), the product is ``255 * m`` shifted."""
    q = tl.div_rn(total.to(tl.float32), tl.maximum(peak, 1).to(tl.float32))
    bits = q.to(tl.int32, bitcast=True)
    e = ((bits >> 23) & 255) - 127  # q in [0, 1]: e <= 0
    m = (bits & 0x7FFFFF) | 0x800000
    shift = tl.minimum(23 - e, 40)
    wide = (255 * m.to(tl.int64)) >> shift.to(tl.int64)
    return tl.where(q > 0, wide.to(tl.int32), 0)


@triton.jit
def _normalise_kernel(on_ptr, off_ptr, peaks_ptr, out_ptr, H, W, BLOCKS, BLOCK: tl.constexpr):
    row, block = split_program(BLOCKS)
    b = row // H
    x = block * BLOCK + tl.arange(0, BLOCK)
    inside = x < W
    on = tl.load(on_ptr + row * W + x, mask=inside, other=0)
    off = tl.load(off_ptr + row * W + x, mask=inside, other=0)
    on8 = _scale_to_255(on, tl.load(peaks_ptr + b * 2))
    off8 = _scale_to_255(off, tl.load(peaks_ptr + b * 2 + 1))
    out = ((on8 + off8) & 255).to(tl.float32) * (1.0 / 255.0)
    tl.store(out_ptr + row * W + x, out, mask=inside)


@torch.library.custom_op("hsmix_torch::fine_grained_maps", mutates_args=())
def _fine_grained_op(images: Tensor) -> Tensor:
    b, c, h, w = images.shape
    dev = images.device
    rows = b * h
    w_pad = triton.next_power_of_2(w)
    blocks = triton.cdiv(w, _BLOCK)  # per row: 1 (a constant to the compiler) up to W = 256
    grid = flat_grid(rows, blocks)
    grey = torch.empty((b, h, w), dtype=torch.uint8, device=dev)
    _grey_kernel[grid](images, grey, h, w, blocks, *images.stride(), C=c,
                       FLOAT=images.is_floating_point(), BLOCK=_BLOCK,
                       enable_fp_fusion=False)  # fmt: skip
    centre = torch.empty((b, h, w), dtype=torch.float32, device=dev)
    rowsum = torch.empty((b, h, w), dtype=torch.int32, device=dev)
    peaks = torch.empty((b, 2), dtype=torch.int32, device=dev)
    _centre_kernel[flat_grid(rows)](grey, centre, rowsum, peaks, h, w, W_PAD=w_pad,
                            num_warps=min(16, max(1, w_pad // 128)))  # fmt: skip
    table = torch.empty((b, h + 1, w + 1), dtype=torch.float32, device=dev)
    columns = triton.cdiv(w, _COLUMNS)
    _integral_kernel[flat_grid(b, columns)](rowsum, table, h, w, columns, COLUMNS=_COLUMNS,
                                            ROWS=_ROWS)  # fmt: skip
    on = rowsum  # reused: the running sums are read
    off = torch.empty((b, h, w), dtype=torch.int32, device=dev)
    _scales_kernel[grid](centre, table, on, off, peaks, h, w, blocks, *HALF_SIZES, BLOCK=_BLOCK,
                         enable_fp_fusion=False)  # fmt: skip
    out = torch.empty((b, 1, h, w), dtype=torch.float32, device=dev)
    _normalise_kernel[grid](on, off, peaks, out, h, w, blocks, BLOCK=_BLOCK, enable_fp_fusion=False)
    return out


@_fine_grained_op.register_fake
def _(images):
    return images.new_empty((images.shape[0], 1, *images.shape[2:]), dtype=torch.float32)


def fine_grained_maps(images: Tensor) -> Tensor:
    """The fine-grained map ``[B, 1, H, W]`` float32 of ``[B, C, H, W]`` images (uint8, or
    float read as [0, 1]; any layout) with H * W >= 2: the Triton version of the
    reference's ``_maps(grey_levels(images))``."""
    b, _, h, w = images.shape
    if largest_offset(images) >= INT32_LIMIT:  # a view of a huge tensor: read a copy
        images = images.contiguous()
    check_32bit(
        "saliency",
        f"images of shape {tuple(images.shape)}",
        images.numel(),
        b * (h + 1) * (w + 1),  # the integral tables
        255 * h * w,  # an image's sum
    )
    return _fine_grained_op(images)
