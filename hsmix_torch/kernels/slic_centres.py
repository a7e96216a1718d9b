"""The per-centre kernels of the SLIC k-means: the start kernel and the finish kernel.

Used by :mod:`.slic_kmeans`, which equals the torch-ops reference as a whole (the round
kernel assigns the pixels; these keep the centres).

1. The start kernel: scikit-image's initial centres (grid positions, colour 0) and which of
   them are placed on each image's grid, from the grid table; the first round's partial
   sums zeroed.
2. The finish kernel: one lane per centre adds the partials of the tiles that can reach it
   (integers: exact in any order, so identical run to run), divides as the reference does
   (in float64: a few values per centre), writes the next round's centres and ``alive``,
   and zeroes the partials it read for the next round.

Grids are 1-D: images times blocks of ``BLOCK_K`` centres.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ._common import split_program


@triton.jit
def _grid_axis(rows_ptr, b, a, G: tl.constexpr, A: tl.constexpr):
    """``(offset, step, count, window step)`` of axis ``a`` of image ``b``'s grid row
    ``[off * A, steps * A, counts * A, step, win * A, min_size]`` (int32)."""
    row = rows_ptr + b * G
    off = tl.load(row + a).to(tl.int32)
    step = tl.load(row + A + a).to(tl.int32)
    count = tl.load(row + 2 * A + a).to(tl.int32)
    win = tl.load(row + 3 * A + 1 + a).to(tl.int32)
    return off, step, count, win


@triton.jit
def _start_kernel(
    rows_ptr,  # [B, G] int64: the grid table rows
    centres_ptr,  # [B, K, A + F] float32 out: grid positions, colour 0
    valid_ptr,  # [B, K] int8 out: placed on the image's grid
    part_ptr,  # [B, K, J, A + 1 + F] int64 out: zeroed, for the first round's sums
    NZ_PAD,
    NY_PAD,
    NX_PAD,
    G: tl.constexpr,
    A: tl.constexpr,
    F: tl.constexpr,
    R: tl.constexpr,
    RZ: tl.constexpr,
    C_PAD: tl.constexpr,
    S_PAD: tl.constexpr,  # >= J * (A + 1 + F): one tile's sums
    BLOCK_K: tl.constexpr,
):
    k_pad = NZ_PAD * NY_PAD * NX_PAD
    b, block = split_program(tl.cdiv(k_pad, BLOCK_K))
    k = block * BLOCK_K + tl.arange(0, BLOCK_K)
    inside = k < k_pad
    kz = k // (NY_PAD * NX_PAD)
    ky = (k // NX_PAD) % NY_PAD
    kx = k % NX_PAD
    col = tl.arange(0, C_PAD)
    placed = inside
    row = tl.zeros([BLOCK_K, C_PAD], tl.float32)
    for a in tl.static_range(A):
        if a == A - 1:
            i = kx
        elif a == A - 2:
            i = ky
        else:
            i = kz
        off, step, count, _ = _grid_axis(rows_ptr, b, a, G, A)
        placed = placed & (i < count)
        row = tl.where(col[None, :] == a, (off + i * step).to(tl.float32)[:, None], row)
    dst = (b * k_pad + k)[:, None] * (A + F) + col[None, :]
    tl.store(centres_ptr + dst, row, mask=inside[:, None] & (col[None, :] < A + F))
    tl.store(valid_ptr + b * k_pad + k, placed.to(tl.int8), mask=inside)
    per_tile = (2 * RZ + 1) * (2 * R + 1) * (2 * R + 1) * (A + 1 + F)
    si = tl.arange(0, S_PAD)
    zeros = tl.zeros([BLOCK_K, S_PAD], tl.int64)
    sums = part_ptr + (b * k_pad + k)[:, None] * per_tile + si[None, :]
    tl.store(sums, zeros, mask=inside[:, None] & (si[None, :] < per_tile))


@triton.jit
def _finish_kernel(
    part_ptr,  # [B, K, J, A + 1 + F] int64
    centres_ptr,  # [B, K, A + F] float32: this round's centres
    valid_ptr,  # [B, K] int8: centres placed on the grid
    out_ptr,  # [B, K, A + F] float32: the next round's centres
    alive_ptr,  # [B, K] int8: the next round's alive flags
    rows_ptr,  # [B, G] int64: the grid table rows
    NZ_PAD,
    NY_PAD,
    NX_PAD,
    G: tl.constexpr,
    A: tl.constexpr,
    F: tl.constexpr,
    R: tl.constexpr,
    RZ: tl.constexpr,
    C_PAD: tl.constexpr,
    SCALE: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    k_pad = NZ_PAD * NY_PAD * NX_PAD
    b, block = split_program(tl.cdiv(k_pad, BLOCK_K))
    k = block * BLOCK_K + tl.arange(0, BLOCK_K)
    ok_k = k < k_pad
    kz = k // (NY_PAD * NX_PAD)
    ky = (k // NX_PAD) % NY_PAD
    kx = k % NX_PAD
    nz = 1
    if A == 3:
        _, _, nz, _ = _grid_axis(rows_ptr, b, 0, G, A)
    _, _, ny, _ = _grid_axis(rows_ptr, b, A - 2, G, A)
    _, _, nx, _ = _grid_axis(rows_ptr, b, A - 1, G, A)
    L: tl.constexpr = 2 * R + 1
    cand: tl.constexpr = (2 * RZ + 1) * L * L
    col = tl.arange(0, C_PAD)
    ok_col = col < A + 1 + F
    total = tl.zeros([BLOCK_K, C_PAD], tl.int64)
    for dk in tl.static_range(2 * RZ + 1):
        for di in tl.static_range(2 * R + 1):
            for dj in tl.static_range(2 * R + 1):
                # The tile whose candidate (dk - RZ, di - R, dj - R) is this centre.
                tz = kz - (dk - RZ)
                ty = ky - (di - R)
                tx = kx - (dj - R)
                ok = ok_k & (tz >= 0) & (tz < nz) & (ty >= 0) & (ty < ny) & (tx >= 0) & (tx < nx)
                tile = (tz * NY_PAD + ty) * NX_PAD + tx
                src = part_ptr + ((b * k_pad + tile) * cand + (dk * L + di) * L + dj) * (A + 1 + F)
                at = src[:, None] + col[None, :]
                read = ok[:, None] & ok_col[None, :]
                total += tl.load(at, mask=read, other=0)
                tl.store(at, tl.zeros([BLOCK_K, C_PAD], tl.int64), mask=read)  # next round
    count = tl.sum(tl.where(col[None, :] == A + F, total, 0), axis=1)
    # The reference's finishing ops: fixed point to float64, divide by the count, to float32.
    means = (total.to(tl.float64) / SCALE) / tl.maximum(count, 1).to(tl.float64)[:, None]
    alive = (tl.load(valid_ptr + b * k_pad + k, mask=ok_k, other=0) != 0) & (count > 0)
    row = (b * k_pad + k) * (A + F)
    ok_row = ok_k[:, None] & (col[None, :] < A + F)
    old = tl.load(centres_ptr + row[:, None] + col[None, :], mask=ok_row, other=0.0)
    new = tl.where(alive[:, None], means.to(tl.float32), old)
    tl.store(out_ptr + row[:, None] + col[None, :], new, mask=ok_row)
    tl.store(alive_ptr + b * k_pad + k, alive.to(tl.int8), mask=ok_k)
