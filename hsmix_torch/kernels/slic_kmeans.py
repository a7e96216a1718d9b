"""SLIC's k-means rounds as Triton kernels, for images and volumes.

Reference: ``hsmix_torch.superpixels.torch_slic._kmeans`` from ``slic_grid.initial_state`` (torch
ops: the assignment ``_assign``, the centre update ``_update`` with its fixed-point sums, and
the ``alive`` and centre bookkeeping), which this equals label for label. An image is a
volume of depth 1 (as in scikit-image): one kernel serves both, with the depth axis compiled
in only for volumes (``A``, the number of spatial axes, is a compile-time constant).

1. The start kernel (:mod:`.slic_centres`): scikit-image's initial centres and which of
   them are placed on each image's grid.
2. The round kernel: one program per home cell (the pixels whose nearest initial grid
   centre is that cell: a box, whose bounds follow from the grid table). Every pixel of a
   box has the same ``(2R+1)^A`` candidate centres, so they are loaded once per line of
   cells and the distances of a block of pixels to each candidate are computed side by
   side in registers. The arithmetic is the reference's, operation by operation, in
   float32 without fused multiply-adds (and ``1 / step**2`` divided as IEEE divides, with
   ``tl.div_rn``); the first candidate with the smallest distance wins. The program then
   adds each pixel's row ``[coordinates, features, 1]`` in the reference's 40.24 fixed
   point to its candidate's slots of this tile's partials: integer sums, exact in any
   order. Neighbouring pixels mostly pick the same candidate, so only the two ends of each
   run of equal picks along a row of the box issue an atomic, with their shares of the
   run's sums (closed forms for the coordinates and the count, a prefix sum per feature);
   no other program writes a tile's slots.
3. The finish kernel (:mod:`.slic_centres`): each centre's partials added up (exact in any
   order), the next round's centres and ``alive``.

Between rounds a pixel's label travels as the index of its candidate (one byte: a label is
always one of its home cell's candidates, and the first round starts from the home cell,
``initial_state``'s labels); the labels are written by the last round only, as int32.
Index arithmetic is 32-bit: batches of 2**31 voxels or more are refused. Every grid is 1-D
(images times cells on CUDA's first axis).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import triton
import triton.language as tl
from torch import Tensor

from .._constants import FIXED_POINT_SCALE
from ._common import (
    check_32bit,
    flat_grid,
    round_half_even,
    run_bounds,
    run_shares,
    split_program,
)
from .slic_centres import _finish_kernel, _grid_axis, _start_kernel

if TYPE_CHECKING:
    from ..functional.slic_grid import SlicGrid

__all__ = ["slic_kmeans"]

_BLOCK = 512  # voxels per step of a round program's loop
_BLOCK_K = 64  # centres per program of the start and finish kernels (.slic_centres)


@triton.jit
def _box(rows_ptr, b, a, cell, size, G: tl.constexpr, A: tl.constexpr):
    """``(first, one past the last)`` coordinate along axis ``a`` whose home cell is ``cell``:
    the nearest grid centre, ties to the lower one, clamped to the grid (``_home_cell``)."""
    off, step, count, _ = _grid_axis(rows_ptr, b, a, G, A)
    first = tl.where(cell == 0, 0, off + step * cell - (step - 1) // 2)
    last = tl.where(cell + 1 >= count, size, off + step * (cell + 1) - (step - 1) // 2)
    return tl.where(cell < count, first, 0), tl.where(cell < count, last, 0)


@triton.jit
def _round_kernel(
    feats_ptr,  # [B, V, F] float32 (V voxels per image: D*H*W, D = 1 for images)
    rows_ptr,  # [B, G] int64: the grid table rows
    centres_ptr,  # [B, K, A + F] float32 (coordinates, features)
    alive_ptr,  # [B, K] int8
    prev_ptr,  # [B, V] int8: the previous round's candidate index per voxel (not FIRST)
    next_ptr,  # [B, V] int8: this round's candidate index per voxel (not LAST)
    out_ptr,  # [B, V] int32: the labels (LAST)
    part_ptr,  # [B, K, J, A + 1 + F] int64: per tile and candidate, sums of coords, feats, 1
    SZ,  # the voxel spacing per axis (SPACED only)
    SY,
    SX,
    D,
    H,
    W,
    NZ_PAD,
    NY_PAD,
    NX_PAD,
    G: tl.constexpr,
    A: tl.constexpr,  # spatial axes: 2 or 3
    F: tl.constexpr,
    R: tl.constexpr,
    RZ: tl.constexpr,  # R along the depth axis (0 for images)
    SPACED: tl.constexpr,
    SCALE: tl.constexpr,
    FIRST: tl.constexpr,
    LAST: tl.constexpr,  # the last round: labels out, no sums (its centres would not be used)
    BLOCK: tl.constexpr,
):
    k_pad = NZ_PAD * NY_PAD * NX_PAD
    b, cell = split_program(k_pad)
    voxels = D * H * W
    cz = cell // (NY_PAD * NX_PAD)
    cy = (cell // NX_PAD) % NY_PAD
    cx = cell % NX_PAD
    tz0 = 0
    tz1 = 1
    nz = 1
    win_z = 0
    if A == 3:
        tz0, tz1 = _box(rows_ptr, b, 0, cz, D, G, A)
        _, _, nz, win_z = _grid_axis(rows_ptr, b, 0, G, A)
    ty0, ty1 = _box(rows_ptr, b, A - 2, cy, H, G, A)
    tx0, tx1 = _box(rows_ptr, b, A - 1, cx, W, G, A)
    _, _, ny, win_y = _grid_axis(rows_ptr, b, A - 2, G, A)
    _, _, nx, win_x = _grid_axis(rows_ptr, b, A - 1, G, A)
    th = ty1 - ty0
    tw = tx1 - tx0
    n_pix = (tz1 - tz0) * th * tw
    step = tl.load(rows_ptr + b * G + 3 * A).to(tl.float32)
    inv_s2 = tl.div_rn(tl.full([], 1.0, tl.float32), step * step)  # the reference's 1 / step**2
    L: tl.constexpr = 2 * R + 1
    CAND: tl.constexpr = (2 * RZ + 1) * L * L
    HOME: tl.constexpr = (RZ * L + R) * L + R  # the home cell's candidate: the first label

    for start in range(0, n_pix, BLOCK):
        p = start + tl.arange(0, BLOCK)
        inside = p < n_pix
        if A == 3:
            z = p // (th * tw)
            p_yx = p - z * (th * tw)
            z += tz0
        else:
            z = tl.zeros([BLOCK], tl.int32)
            p_yx = p
        y = p_yx // tw
        x = p_yx - y * tw + tx0
        y += ty0
        pix = b * voxels + (z * H + y) * W + x
        zf = z.to(tl.float32)
        yf = y.to(tl.float32)
        xf = x.to(tl.float32)
        if FIRST:
            pick = tl.full([BLOCK], HOME, tl.int32)
        else:
            pick = tl.load(prev_ptr + pix, mask=inside, other=0).to(tl.int32)
        pixel = ()  # the block's features, loaded once for every candidate
        for f in tl.static_range(F):
            pixel = pixel + (tl.load(feats_ptr + pix * F + f, mask=inside, other=0.0),)
        # The candidates in the reference's order (row-major over the cell offsets): a
        # runtime loop over the lines of cells (a line's few scalars at a time stay in
        # registers), the cells of a line unrolled. A running minimum with a strict < keeps
        # the first of equals; a voxel that no candidate passes keeps its previous label.
        best = tl.full([BLOCK], float("inf"), tl.float32)
        for kz in range(tl.maximum(cz - RZ, 0), tl.minimum(cz + RZ + 1, nz)):
            for ky in range(tl.maximum(cy - R, 0), tl.minimum(cy + R + 1, ny)):
                line = ((kz - cz + RZ) * L + (ky - cy + R)) * L
                for dx in tl.static_range(L):
                    kx = cx + (dx - R)
                    in_grid = (kx >= 0) & (kx < nx)
                    k = (kz * NY_PAD + ky) * NX_PAD + kx
                    alive = in_grid & (
                        tl.load(alive_ptr + b * k_pad + k, mask=in_grid, other=0) != 0
                    )
                    centre = centres_ptr + (b * k_pad + k) * (A + F)
                    c_y = tl.load(centre + (A - 2), mask=alive, other=0.0)
                    c_x = tl.load(centre + (A - 1), mask=alive, other=0.0)
                    # The window test |p - floor(c)| <= 2 * win per axis (exact integers).
                    ok = inside & alive
                    ok = ok & (tl.abs(yf - tl.floor(c_y)) <= 2 * win_y)
                    ok = ok & (tl.abs(xf - tl.floor(c_x)) <= 2 * win_x)
                    dy = yf - c_y
                    dx_ = xf - c_x
                    if SPACED:
                        dy = dy * SY
                        dx_ = dx_ * SX
                    if A == 3:
                        c_z = tl.load(centre, mask=alive, other=0.0)
                        ok = ok & (tl.abs(zf - tl.floor(c_z)) <= 2 * win_z)
                        dz = zf - c_z
                        if SPACED:
                            dz = dz * SZ
                        dist = ((dz * dz + dy * dy) + dx_ * dx_) * inv_s2
                    else:
                        dist = (dy * dy + dx_ * dx_) * inv_s2
                    colour = tl.zeros([BLOCK], tl.float32)
                    for f in tl.static_range(F):
                        d = pixel[f] - tl.load(centre + A + f, mask=alive, other=0.0)
                        colour = d * d if f == 0 else colour + d * d
                    dist = tl.where(ok, dist + colour, float("inf"))
                    better = dist < best
                    best = tl.where(better, dist, best)
                    pick = tl.where(better, line + dx, pick)
        if LAST:
            lz = cz + (pick // (L * L) - RZ)
            ly = cy + ((pick // L) % L - R)
            lx = cx + (pick % L - R)
            tl.store(out_ptr + pix, (lz * NY_PAD + ly) * NX_PAD + lx, mask=inside)
        else:
            tl.store(next_ptr + pix, pick.to(tl.int8), mask=inside)
            # Each voxel adds its row [coordinates, features, 1] in the reference's 40.24
            # fixed point to its candidate's slots of this tile, through the ends of its run
            # of voxels with the same candidate. The finish kernel zeroes the slots.
            # Runs of equal picks along the block, cut at the box's row ends: within one,
            # y and z are constant and x counts up, so the coordinate and count sums are
            # closed forms of the run's ends (a triangular number for x); only the features
            # need a prefix sum.
            first, last = run_bounds(tl.where(inside, pick, -1))
            first = first | (x == tx0)
            last = last | (x == tx1 - 1)
            write = inside & (first | last)
            lane = tl.arange(0, BLOCK).to(tl.int64)
            row = part_ptr + ((b * k_pad + cell) * CAND + pick) * (A + 1 + F)
            for a in tl.static_range(A):
                if a == A - 1:
                    xs = x.to(tl.int64)
                    end = tl.where(last, xs * (xs + 1) // 2, 0)
                    share = end - tl.where(first, xs * (xs - 1) // 2, 0)  # sum of x in the run
                else:
                    v = (y if a == A - 2 else z).to(tl.int64)
                    share = tl.where(last, v * (lane + 1), 0) - tl.where(first, v * lane, 0)
                tl.atomic_add(row + a, share * SCALE, mask=write, sem="relaxed")
            for f in tl.static_range(F):
                fixed = round_half_even(pixel[f] * SCALE).to(tl.int64)  # SCALE: a power of 2
                share = run_shares(first, last, fixed)
                tl.atomic_add(row + A + f, share, mask=write, sem="relaxed")
            count = tl.where(last, lane + 1, 0) - tl.where(first, lane, 0)
            tl.atomic_add(row + A + F, count, mask=write, sem="relaxed")


@torch.library.custom_op("hsmix_torch::slic_kmeans", mutates_args=())
def _slic_kmeans_op(
    feats: Tensor,
    rows: Tensor,
    centres: Tensor,
    valid: Tensor,
    spacing: list[float],
    radius: int,
    rounds: int,
    start: bool,
) -> Tensor:
    b, *size, f = feats.shape
    a = len(size)
    d, h, w = (1, *size) if a == 2 else size
    pads = centres.shape[1:-1]
    nz_pad, ny_pad, nx_pad = (1, *pads) if a == 2 else pads
    k_pad = nz_pad * ny_pad * nx_pad
    cand = (2 * radius + 1) ** a
    rz = radius if a == 3 else 0
    consts = dict(G=rows.shape[1], A=a, F=f, R=radius, RZ=rz, SCALE=int(FIXED_POINT_SCALE))
    shape = (b, k_pad, cand, a + 1 + f)
    if start:  # the initial centres from the grid; the start kernel zeroes the sums
        centres = torch.empty_like(centres)
        valid = torch.empty_like(valid)
        partials = torch.empty(shape, dtype=torch.int64, device=feats.device)
        _start_kernel[flat_grid(b, triton.cdiv(k_pad, _BLOCK_K))](
            rows, centres, valid.view(torch.int8), partials, nz_pad, ny_pad, nx_pad,
            G=rows.shape[1], A=a, F=f, R=radius, RZ=rz, C_PAD=triton.next_power_of_2(a + f),
            S_PAD=triton.next_power_of_2(cand * (a + 1 + f)), BLOCK_K=_BLOCK_K,
        )  # fmt: skip
    else:
        partials = torch.zeros(shape, dtype=torch.int64, device=feats.device)
    alive = valid8 = valid.view(torch.int8)  # alive: this round's; valid8: the grid's
    out = torch.empty((b, *size), dtype=torch.int32, device=feats.device)
    picks = torch.empty((b, *size), dtype=torch.int8, device=feats.device)
    spare = torch.empty_like(picks)
    sz, sy, sx = ([1.0] + spacing) if a == 2 else spacing
    for it in range(rounds):
        last = it + 1 == rounds
        _round_kernel[flat_grid(b, k_pad)](
            feats, rows, centres, alive, spare, picks, out, partials, sz, sy, sx, d, h, w,
            nz_pad, ny_pad, nx_pad, SPACED=any(v != 1.0 for v in spacing), FIRST=it == 0,
            LAST=last, BLOCK=_BLOCK, enable_fp_fusion=False, num_warps=4, num_stages=1, maxnreg=128,
            **consts,
        )  # fmt: skip
        picks, spare = spare, picks
        if not last:
            new_centres = torch.empty_like(centres)
            new_alive = torch.empty_like(alive)
            _finish_kernel[flat_grid(b, triton.cdiv(k_pad, _BLOCK_K))](
                partials, centres, valid8, new_centres, new_alive, rows, nz_pad, ny_pad,
                nx_pad, C_PAD=triton.next_power_of_2(a + 1 + f), BLOCK_K=_BLOCK_K, **consts,
            )  # fmt: skip
            centres, alive = new_centres, new_alive
    return out


@_slic_kmeans_op.register_fake
def _(feats, rows, centres, valid, spacing, radius, rounds, start):
    return feats.new_empty(feats.shape[:-1], dtype=torch.int32)


def slic_kmeans(
    feats: Tensor,
    *,
    grid: SlicGrid,
    radius: int,
    rounds: int,
    spacing: tuple[float, ...] | None = None,
    centres: Tensor | None = None,
    valid: Tensor | None = None,
) -> Tensor:
    """The Triton version of ``torch_slic._kmeans`` from ``initial_state``: the same labels.

    Args:
        feats: ``[B, *S, F]`` float32 (S: ``(H, W)`` or ``(D, H, W)``).
        grid: the batch's :class:`~hsmix_torch.functional.slic_grid.SlicGrid`.
        radius, rounds: the candidate cells per axis around the home cell, the rounds.
        spacing: the voxel size per axis (None: 1).
        centres, valid: ``[B, *pads, A + F]`` float32 and ``[B, *pads]`` bool initial
            centres (None: scikit-image's, ``initial_state``'s); every pixel starts with its
            home cell's label either way.

    Returns:
        ``[B, *S]`` int32 labels (flat centre indices) after ``rounds`` assignments.
    """
    b, *size, f = feats.shape
    a = len(size)
    if a not in (2, 3):
        raise ValueError(
            f"the SLIC k-means takes features [B, *S, F] with 2 or 3 spatial axes, "
            f"got {tuple(feats.shape)}"
        )
    cells = math.prod(grid.pads)
    cand = (2 * radius + 1) ** a
    if cand > 127:
        raise ValueError(
            f"the Triton SLIC k-means holds a candidate in a byte (search_radius <= 5 for "
            f"images, <= 2 for volumes), got radius {radius}; use kernels='torch'"
        )
    check_32bit(
        "SLIC k-means",
        f"features {tuple(feats.shape)} with {cells} cells and radius {radius}",
        feats.numel(),
        b * cells * cand * (a + 1 + f),  # the partial sums
    )
    start = centres is None
    if start:
        centres = feats.new_empty((b, *grid.pads, a + f))
        valid = torch.empty((b, *grid.pads), dtype=torch.bool, device=feats.device)
    return _slic_kmeans_op(
        feats.contiguous(),
        grid.rows,
        centres.contiguous(),
        valid.contiguous(),
        [1.0] * a if spacing is None else [float(v) for v in spacing],
        radius,
        rounds,
        start,
    )
