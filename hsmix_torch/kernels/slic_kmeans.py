"""SLIC's k-means rounds as two Triton kernels per round.

Reference: ``hsmix_torch.superpixels.torch_slic._kmeans`` (torch ops: the assignment
``_assign``, the centre update ``_update`` with its fixed-point sums, and the ``alive`` and
centre bookkeeping), which this equals label for label.

1. The round kernel: one program per home cell (a tile of the pixels whose nearest initial
   grid centre is that cell). Every pixel of a tile has the same ``(2R+1)^2`` candidate
   centres, so they are loaded once per block as ``[J]`` vectors and the distances of a
   block of pixels to all of them form one ``[BLOCK, J]`` tile in registers: never written.
   The arithmetic is the reference's, operation by operation, in float32 without fused
   multiply-adds, and the first candidate with the smallest distance wins (its tie order).
   The program then sums each candidate's rows ``[y, x, features, 1]`` over its pixels in
   40.24 fixed point and writes these per-tile partials: no atomics.
2. The finish kernel: one lane per centre adds the partials of the ``(2R+1)^2`` tiles that
   can reach it (integers: exact in any order, so identical run to run), divides as the
   reference does, and writes the next round's centres and ``alive`` flags.

Between rounds a pixel's label travels as the index of its candidate (two bytes: a label is
always one of its home cell's candidates), since the reference keeps a pixel's previous
label where no candidate passes the window test; the int64 labels are written by the last
round only.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..functional.regions import FIXED_POINT_SCALE

__all__ = ["slic_kmeans"]

_BLOCK = 128  # pixels per step of a tile's loop
_BLOCK_K = 64  # centres per program of the finish kernel


@triton.jit
def _round_half_even(v):
    """``torch.round`` of float32 ``v`` without libdevice: below 2**23 the float addition of
    2**23 rounds to an integer (half to even); from 2**23 on every float32 is an integer."""
    t = tl.abs(v)
    r = tl.where(t < 8388608.0, (t + 8388608.0) - 8388608.0, t)
    return tl.where(v < 0, -r, r)


@triton.jit
def _round_kernel(
    feats_ptr,  # [B, H*W, F] float32
    centres_ptr,  # [B, K, 2 + F] float32 (y, x, features)
    alive_ptr,  # [B, K] int8
    labels_ptr,  # [B, H*W] int64: the initial labels (FIRST), each a candidate of its pixel
    prev_ptr,  # [B, H*W] int16: the previous round's candidate index per pixel (not FIRST)
    next_ptr,  # [B, H*W] int16: this round's candidate index per pixel (not LAST)
    out_ptr,  # [B, H*W] int64: the labels (LAST)
    part_ptr,  # [B, K, J, 3 + F] int64: per tile and candidate, sums of y, x, features, 1
    y0_ptr,  # [B, NY_PAD] int64: first row of each cell row's tile (H past the last)
    y1_ptr,  # [B, NY_PAD] int64: one past its last row
    x0_ptr,  # [B, NX_PAD] int64, likewise for columns
    x1_ptr,
    ny_ptr,  # [B] int64 centre rows
    nx_ptr,  # [B] int64 centre columns
    win_y_ptr,  # [B] float32: 2 * the window step per axis
    win_x_ptr,
    inv_s2_ptr,  # [B] float32: 1 / step**2
    H,
    W,
    NY_PAD,
    NX_PAD,
    F: tl.constexpr,
    R: tl.constexpr,
    J_PAD: tl.constexpr,
    C_PAD: tl.constexpr,
    SCALE: tl.constexpr,
    FIRST: tl.constexpr,
    LAST: tl.constexpr,  # the last round: labels out, no sums (its centres would not be used)
    BLOCK: tl.constexpr,
):
    cell = tl.program_id(0).to(tl.int64)
    b = tl.program_id(1).to(tl.int64)
    k_pad = NY_PAD * NX_PAD
    hw = H * W
    cy = cell // NX_PAD
    cx = cell % NX_PAD
    ty0 = tl.load(y0_ptr + b * NY_PAD + cy)
    tx0 = tl.load(x0_ptr + b * NX_PAD + cx)
    tw = tl.load(x1_ptr + b * NX_PAD + cx) - tx0
    n_pix = (tl.load(y1_ptr + b * NY_PAD + cy) - ty0) * tw
    ny = tl.load(ny_ptr + b)
    nx = tl.load(nx_ptr + b)
    win_y = tl.load(win_y_ptr + b)
    win_x = tl.load(win_x_ptr + b)
    inv_s2 = tl.load(inv_s2_ptr + b)

    # The candidates, in the reference's order (rows of cells, then columns).
    j = tl.arange(0, J_PAD)
    used = j < (2 * R + 1) * (2 * R + 1)
    ky = cy + (j // (2 * R + 1) - R)
    kx = cx + (j % (2 * R + 1) - R)
    in_grid = used & (ky >= 0) & (ky < ny) & (kx >= 0) & (kx < nx)
    k = tl.minimum(tl.maximum(ky, 0), NY_PAD - 1) * NX_PAD + tl.minimum(
        tl.maximum(kx, 0), NX_PAD - 1
    )
    ok_k = in_grid & (tl.load(alive_ptr + b * k_pad + k, mask=used, other=0) != 0)
    centre = centres_ptr + (b * k_pad + k) * (2 + F)
    c_y = tl.load(centre, mask=used, other=0.0)
    c_x = tl.load(centre + 1, mask=used, other=0.0)
    floor_y = tl.floor(c_y)
    floor_x = tl.floor(c_x)

    col = tl.arange(0, C_PAD)
    acc = tl.zeros([J_PAD, C_PAD], tl.int64)
    for start in range(0, n_pix, BLOCK):
        p = start + tl.arange(0, BLOCK)
        inside = p < n_pix
        y = ty0 + p // tw
        x = tx0 + p % tw
        pix = b * hw + y * W + x
        yf = y.to(tl.float32)
        xf = x.to(tl.float32)
        ok = inside[:, None] & ok_k[None, :]
        ok = ok & (tl.abs(yf[:, None] - floor_y[None, :]) <= win_y)
        ok = ok & (tl.abs(xf[:, None] - floor_x[None, :]) <= win_x)
        dy = yf[:, None] - c_y[None, :]
        dx = xf[:, None] - c_x[None, :]
        dist = (dy * dy + dx * dx) * inv_s2
        colour = tl.zeros([BLOCK, J_PAD], tl.float32)
        for f in tl.static_range(F):
            d = (
                tl.load(feats_ptr + pix * F + f, mask=inside, other=0.0)[:, None]
                - tl.load(centre + 2 + f, mask=used, other=0.0)[None, :]
            )
            colour = d * d if f == 0 else colour + d * d
        dist = tl.where(ok, dist + colour, float("inf"))
        best, pick = tl.min(dist, axis=1, return_indices=True, return_indices_tie_break_left=True)
        if FIRST:
            label = tl.load(labels_ptr + pix, mask=inside, other=0)
            previous = (label // NX_PAD - cy + R) * (2 * R + 1) + (label % NX_PAD - cx + R)
        else:
            previous = tl.load(prev_ptr + pix, mask=inside, other=0).to(tl.int64)
        pick = tl.where(best < float("inf"), pick.to(tl.int64), previous)
        if LAST:
            ly = tl.minimum(tl.maximum(cy + (pick // (2 * R + 1) - R), 0), NY_PAD - 1)
            lx = tl.minimum(tl.maximum(cx + (pick % (2 * R + 1) - R), 0), NX_PAD - 1)
            tl.store(out_ptr + pix, ly * NX_PAD + lx, mask=inside)
        else:
            tl.store(next_ptr + pix, pick.to(tl.int16), mask=inside)
            # A label is always an in-grid candidate of its tile (distinct slots).
            hit = (inside[:, None] & in_grid[None, :]) & (pick[:, None] == j[None, :])
            for c in tl.static_range(3 + F):
                if c == 0:
                    v = y * SCALE  # exact in fixed point
                elif c == 1:
                    v = x * SCALE
                elif c == 2 + F:
                    v = tl.full([BLOCK], 1, tl.int64)
                else:
                    fv = tl.load(feats_ptr + pix * F + (c - 2), mask=inside, other=0.0)
                    v = _round_half_even(fv * SCALE).to(tl.int64)  # SCALE is a power of 2
                s = tl.sum(tl.where(hit, v[:, None], 0), axis=0)
                acc += tl.where(col[None, :] == c, s[:, None], 0)
    if not LAST:
        dst = (
            part_ptr
            + ((b * k_pad + cell) * ((2 * R + 1) * (2 * R + 1)) + j[:, None]) * (3 + F)
            + col[None, :]
        )
        tl.store(dst, acc, mask=used[:, None] & (col[None, :] < 3 + F))


@triton.jit
def _finish_kernel(
    part_ptr,  # [B, K, J, 3 + F] int64
    centres_ptr,  # [B, K, 2 + F] float32: this round's centres
    valid_ptr,  # [B, K] int8: centres placed on the grid
    out_ptr,  # [B, K, 2 + F] float32: the next round's centres
    alive_ptr,  # [B, K] int8: the next round's alive flags
    ny_ptr,
    nx_ptr,
    NY_PAD,
    NX_PAD,
    F: tl.constexpr,
    R: tl.constexpr,
    C_PAD: tl.constexpr,
    SCALE: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    k = tl.program_id(0).to(tl.int64) * BLOCK_K + tl.arange(0, BLOCK_K)
    b = tl.program_id(1).to(tl.int64)
    k_pad = NY_PAD * NX_PAD
    ok_k = k < k_pad
    ky = k // NX_PAD
    kx = k % NX_PAD
    ny = tl.load(ny_ptr + b)
    nx = tl.load(nx_ptr + b)
    col = tl.arange(0, C_PAD)
    ok_col = col < 3 + F
    total = tl.zeros([BLOCK_K, C_PAD], tl.int64)
    for di in tl.static_range(2 * R + 1):
        for dj in tl.static_range(2 * R + 1):
            # The tile whose candidate (di - R, dj - R) is this centre.
            ty = ky - (di - R)
            tx = kx - (dj - R)
            ok = ok_k & (ty >= 0) & (ty < ny) & (tx >= 0) & (tx < nx)
            j = di * (2 * R + 1) + dj
            src = part_ptr + ((b * k_pad + ty * NX_PAD + tx) * ((2 * R + 1) * (2 * R + 1)) + j) * (
                3 + F
            )
            total += tl.load(
                src[:, None] + col[None, :], mask=ok[:, None] & ok_col[None, :], other=0
            )
    count = tl.sum(tl.where(col[None, :] == 2 + F, total, 0), axis=1)
    # The reference's finishing ops: fixed point to float64, divide by the count, to float32.
    means = (total.to(tl.float64) / SCALE) / tl.maximum(count, 1).to(tl.float64)[:, None]
    alive = (tl.load(valid_ptr + b * k_pad + k, mask=ok_k, other=0) != 0) & (count > 0)
    row = (b * k_pad + k) * (2 + F)
    ok_row = ok_k[:, None] & (col[None, :] < 2 + F)
    old = tl.load(centres_ptr + row[:, None] + col[None, :], mask=ok_row, other=0.0)
    new = tl.where(alive[:, None], means.to(tl.float32), old)
    tl.store(out_ptr + row[:, None] + col[None, :], new, mask=ok_row)
    tl.store(alive_ptr + b * k_pad + k, alive.to(tl.int8), mask=ok_k)


@torch.library.custom_op("hsmix_torch::slic_kmeans", mutates_args=())
def _slic_kmeans_op(
    feats: Tensor,
    centres: Tensor,
    valid: Tensor,
    labels: Tensor,
    tiles_y: Tensor,
    tiles_x: Tensor,
    ny: Tensor,
    nx: Tensor,
    win_y: Tensor,
    win_x: Tensor,
    inv_s2: Tensor,
    radius: int,
    rounds: int,
) -> Tensor:
    b, h, w, f = feats.shape
    ny_pad, nx_pad = centres.shape[1], centres.shape[2]
    k_pad = ny_pad * nx_pad
    cand = (2 * radius + 1) ** 2
    consts = dict(
        F=f, R=radius, SCALE=int(FIXED_POINT_SCALE), enable_fp_fusion=False
    )  # the reference rounds every product and sum separately
    c_pad = triton.next_power_of_2(3 + f)
    partials = torch.empty((b, k_pad, cand, 3 + f), dtype=torch.int64, device=feats.device)
    alive = valid.view(torch.int8)
    out = torch.empty_like(labels)
    picks = torch.empty(labels.shape, dtype=torch.int16, device=labels.device)
    spare = torch.empty_like(picks)
    for it in range(rounds):
        last = it + 1 == rounds
        _round_kernel[(k_pad, b)](
            feats,
            centres,
            alive,
            labels,
            spare,
            picks,
            out,
            partials,
            tiles_y[0],
            tiles_y[1],
            tiles_x[0],
            tiles_x[1],
            ny,
            nx,
            win_y,
            win_x,
            inv_s2,
            h,
            w,
            ny_pad,
            nx_pad,
            J_PAD=triton.next_power_of_2(cand),
            C_PAD=c_pad,
            FIRST=it == 0,
            LAST=last,
            BLOCK=_BLOCK,
            **consts,
        )
        picks, spare = spare, picks
        if not last:
            new_centres = torch.empty_like(centres)
            new_alive = torch.empty_like(alive)
            _finish_kernel[(triton.cdiv(k_pad, _BLOCK_K), b)](
                partials,
                centres,
                valid.view(torch.int8),
                new_centres,
                new_alive,
                ny,
                nx,
                ny_pad,
                nx_pad,
                C_PAD=c_pad,
                BLOCK_K=_BLOCK_K,
                **consts,
            )
            centres, alive = new_centres, new_alive
    return out


@_slic_kmeans_op.register_fake
def _(
    feats, centres, valid, labels, tiles_y, tiles_x, ny, nx, win_y, win_x, inv_s2, radius, rounds
):
    return torch.empty_like(labels)


def slic_kmeans(
    feats: Tensor,
    centres: Tensor,
    valid: Tensor,
    labels: Tensor,
    *,
    grid: object,
    home: tuple[Tensor, Tensor],
    radius: int,
    rounds: int,
) -> Tensor:
    """The Triton version of ``torch_slic._kmeans``: the same arguments, the same labels.

    ``feats`` ``[B, H, W, F]`` float32, ``centres`` ``[B, ny_pad, nx_pad, 2 + F]`` float32
    (the initial centres), ``valid`` ``[B, ny_pad, nx_pad]`` bool (centres placed on the
    grid), ``labels`` ``[B, H, W]`` int64 (the initial labels), ``grid`` a
    :class:`~hsmix_torch.superpixels._grid.SlicGrid`, ``home`` each pixel row's and
    column's home cell ``([B, H], [B, W])`` int64 (non-decreasing along each row).
    Returns the labels ``[B, H, W]`` int64 after ``rounds`` assignments.
    """
    b = feats.shape[0]
    ny_pad, nx_pad = centres.shape[1], centres.shape[2]
    home_y, home_x = (t.contiguous() for t in home)
    # Tiles: the rows (columns) whose home cell is each cell row (column), as ranges.
    iy = torch.arange(ny_pad, device=feats.device).expand(b, ny_pad).contiguous()
    ix = torch.arange(nx_pad, device=feats.device).expand(b, nx_pad).contiguous()
    tiles_y = torch.stack(
        [torch.searchsorted(home_y, iy), torch.searchsorted(home_y, iy, right=True)]
    )
    tiles_x = torch.stack(
        [torch.searchsorted(home_x, ix), torch.searchsorted(home_x, ix, right=True)]
    )
    # The reference's per-image constants, computed by the same torch ops.
    inv_s2 = 1.0 / grid.step.float() ** 2
    win_y = (2 * grid.win_y).float()
    win_x = (2 * grid.win_x).float()
    return _slic_kmeans_op(
        feats.contiguous(),
        centres.contiguous(),
        valid.contiguous(),
        labels.contiguous(),
        tiles_y,
        tiles_x,
        grid.ny.contiguous(),
        grid.nx.contiguous(),
        win_y,
        win_x,
        inv_s2,
        radius,
        rounds,
    )
