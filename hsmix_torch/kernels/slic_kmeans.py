"""SLIC's k-means rounds as two Triton kernels per round, for images and volumes.

Reference: ``hsmix_torch.superpixels.torch_slic._kmeans`` (torch ops: the assignment
``_assign``, the centre update ``_update`` with its fixed-point sums, and the ``alive`` and
centre bookkeeping), which this equals label for label. An image is a volume of depth 1
(as in scikit-image): one kernel serves both, with the depth axis compiled in only for
volumes (``A``, the number of spatial axes, is a compile-time constant).

1. The round kernel: one program per home cell (a tile of the pixels whose nearest initial
   grid centre is that cell). Every pixel of a tile has the same ``(2R+1)^A`` candidate
   centres, so they are loaded once per block as ``[J]`` vectors and the distances of a
   block of pixels to all of them form one ``[BLOCK, J]`` tile in registers: never written.
   The arithmetic is the reference's, operation by operation, in float32 without fused
   multiply-adds, and the first candidate with the smallest distance wins (its tie order:
   candidates in row-major order of their cell offsets). The program then sums each
   candidate's rows ``[coordinates, features, 1]`` over its pixels in 40.24 fixed point and
   writes these per-tile partials: no atomics.
2. The finish kernel: one lane per centre adds the partials of the ``(2R+1)^A`` tiles that
   can reach it (integers: exact in any order, so identical run to run), divides as the
   reference does, and writes the next round's centres and ``alive`` flags.

Between rounds a pixel's label travels as the index of its candidate (two bytes: a label is
always one of its home cell's candidates), since the reference keeps a pixel's previous
label where no candidate passes the window test; the int64 labels are written by the last
round only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..functional.regions import FIXED_POINT_SCALE

if TYPE_CHECKING:
    from ..superpixels._grid import SlicGrid

__all__ = ["slic_kmeans"]

_BLOCK = 128  # pixels per step of a tile's loop (fewer with many candidates: registers)
_BLOCK_K = 64  # centres per program of the finish kernel


@triton.jit
def _round_half_even(v):
    """``torch.round`` of float32 ``v`` without libdevice: below 2**23 the float addition of
    2**23 rounds to an integer (half to even); from 2**23 on every float32 is an integer."""
    t = tl.abs(v)
    r = tl.where(t < 8388608.0, (t + 8388608.0) - 8388608.0, t)
    return tl.where(v < 0, -r, r)


@triton.jit
def _cell_of(k, NY_PAD, NX_PAD):
    """``(z, y, x)`` cell of flat centre indices ``k`` (``z = 0`` for images)."""
    return k // (NY_PAD * NX_PAD), (k // NX_PAD) % NY_PAD, k % NX_PAD


@triton.jit
def _round_kernel(
    feats_ptr,  # [B, V, F] float32 (V voxels per image: D*H*W, D = 1 for images)
    centres_ptr,  # [B, K, A + F] float32 (coordinates, features)
    alive_ptr,  # [B, K] int8
    labels_ptr,  # [B, V] int64: the initial labels (FIRST), each a candidate of its voxel
    prev_ptr,  # [B, V] int16: the previous round's candidate index per voxel (not FIRST)
    next_ptr,  # [B, V] int16: this round's candidate index per voxel (not LAST)
    out_ptr,  # [B, V] int64: the labels (LAST)
    part_ptr,  # [B, K, J, A + 1 + F] int64: per tile and candidate, sums of coords, feats, 1
    tiles_ptr,  # [3, 2, B, PAD] int64: per axis (z, y, x), first and one-past-last coordinate
    counts_ptr,  # [B, 3] int64 centres per axis (z: 1 for images)
    win_ptr,  # [B, 3] float32: 2 * the window step per axis
    inv_s2_ptr,  # [B] float32: 1 / step**2
    SZ,  # the voxel spacing per axis (1.0: none)
    SY,
    SX,
    D,
    H,
    W,
    NZ_PAD,
    NY_PAD,
    NX_PAD,
    PAD,  # the tiles' last axis: max(NZ_PAD, NY_PAD, NX_PAD)
    A: tl.constexpr,  # spatial axes: 2 or 3
    F: tl.constexpr,
    R: tl.constexpr,
    RZ: tl.constexpr,  # R along the depth axis (0 for images)
    J_PAD: tl.constexpr,
    C_PAD: tl.constexpr,
    SCALE: tl.constexpr,
    FIRST: tl.constexpr,
    LAST: tl.constexpr,  # the last round: labels out, no sums (its centres would not be used)
    BLOCK: tl.constexpr,
):
    cell = tl.program_id(0).to(tl.int64)
    b = tl.program_id(1).to(tl.int64)
    B = tl.num_programs(1)
    k_pad = NZ_PAD * NY_PAD * NX_PAD
    voxels = D * H * W
    cz, cy, cx = _cell_of(cell, NY_PAD, NX_PAD)
    tz0 = tl.load(tiles_ptr + (0 * B + b) * PAD + cz)
    ty0 = tl.load(tiles_ptr + ((2 + 0) * B + b) * PAD + cy)
    tx0 = tl.load(tiles_ptr + ((4 + 0) * B + b) * PAD + cx)
    th = tl.load(tiles_ptr + (3 * B + b) * PAD + cy) - ty0
    tw = tl.load(tiles_ptr + (5 * B + b) * PAD + cx) - tx0
    n_pix = (tl.load(tiles_ptr + (1 * B + b) * PAD + cz) - tz0) * th * tw
    nz = tl.load(counts_ptr + b * 3)
    ny = tl.load(counts_ptr + b * 3 + 1)
    nx = tl.load(counts_ptr + b * 3 + 2)
    win_z = tl.load(win_ptr + b * 3)
    win_y = tl.load(win_ptr + b * 3 + 1)
    win_x = tl.load(win_ptr + b * 3 + 2)
    inv_s2 = tl.load(inv_s2_ptr + b)

    # The candidates, in the reference's order: row-major over the cell offsets.
    L = 2 * R + 1
    j = tl.arange(0, J_PAD)
    used = j < (2 * RZ + 1) * L * L
    kz = cz + (j // (L * L) - RZ)
    ky = cy + ((j // L) % L - R)
    kx = cx + (j % L - R)
    in_grid = used & (kz >= 0) & (kz < nz) & (ky >= 0) & (ky < ny) & (kx >= 0) & (kx < nx)
    k = (
        tl.minimum(tl.maximum(kz, 0), NZ_PAD - 1) * NY_PAD
        + tl.minimum(tl.maximum(ky, 0), NY_PAD - 1)
    ) * NX_PAD + tl.minimum(tl.maximum(kx, 0), NX_PAD - 1)
    ok_k = in_grid & (tl.load(alive_ptr + b * k_pad + k, mask=used, other=0) != 0)
    centre = centres_ptr + (b * k_pad + k) * (A + F)
    if A == 3:
        c_z = tl.load(centre, mask=used, other=0.0)
        floor_z = tl.floor(c_z)
    c_y = tl.load(centre + (A - 2), mask=used, other=0.0)
    c_x = tl.load(centre + (A - 1), mask=used, other=0.0)
    floor_y = tl.floor(c_y)
    floor_x = tl.floor(c_x)

    col = tl.arange(0, C_PAD)
    acc = tl.zeros([J_PAD, C_PAD], tl.int64)
    for start in range(0, n_pix, BLOCK):
        p = start + tl.arange(0, BLOCK)
        inside = p < n_pix
        z = tz0 + p // (th * tw)
        y = ty0 + (p // tw) % th
        x = tx0 + p % tw
        pix = b * voxels + (z * H + y) * W + x
        yf = y.to(tl.float32)
        xf = x.to(tl.float32)
        ok = inside[:, None] & ok_k[None, :]
        ok = ok & (tl.abs(yf[:, None] - floor_y[None, :]) <= win_y)
        ok = ok & (tl.abs(xf[:, None] - floor_x[None, :]) <= win_x)
        # Multiplying by a spacing of 1.0 is exact: the reference's distances either way.
        dy = (yf[:, None] - c_y[None, :]) * SY
        dx = (xf[:, None] - c_x[None, :]) * SX
        if A == 3:
            zf = z.to(tl.float32)
            ok = ok & (tl.abs(zf[:, None] - floor_z[None, :]) <= win_z)
            dz = (zf[:, None] - c_z[None, :]) * SZ
            dist = ((dz * dz + dy * dy) + dx * dx) * inv_s2
        else:
            dist = (dy * dy + dx * dx) * inv_s2
        colour = tl.zeros([BLOCK, J_PAD], tl.float32)
        for f in tl.static_range(F):
            d = (
                tl.load(feats_ptr + pix * F + f, mask=inside, other=0.0)[:, None]
                - tl.load(centre + A + f, mask=used, other=0.0)[None, :]
            )
            colour = d * d if f == 0 else colour + d * d
        dist = tl.where(ok, dist + colour, float("inf"))
        best, pick = tl.min(dist, axis=1, return_indices=True, return_indices_tie_break_left=True)
        if FIRST:
            lz, ly, lx = _cell_of(tl.load(labels_ptr + pix, mask=inside, other=0), NY_PAD, NX_PAD)
            previous = ((lz - cz + RZ) * L + (ly - cy + R)) * L + (lx - cx + R)
        else:
            previous = tl.load(prev_ptr + pix, mask=inside, other=0).to(tl.int64)
        pick = tl.where(best < float("inf"), pick.to(tl.int64), previous)
        if LAST:
            lz = tl.minimum(tl.maximum(cz + (pick // (L * L) - RZ), 0), NZ_PAD - 1)
            ly = tl.minimum(tl.maximum(cy + ((pick // L) % L - R), 0), NY_PAD - 1)
            lx = tl.minimum(tl.maximum(cx + (pick % L - R), 0), NX_PAD - 1)
            tl.store(out_ptr + pix, (lz * NY_PAD + ly) * NX_PAD + lx, mask=inside)
        else:
            tl.store(next_ptr + pix, pick.to(tl.int16), mask=inside)
            # A label is always an in-grid candidate of its tile (distinct slots).
            hit = (inside[:, None] & in_grid[None, :]) & (pick[:, None] == j[None, :])
            for c in tl.static_range(A + 1 + F):
                if c == A - 3:
                    v = z * SCALE  # exact in fixed point
                elif c == A - 2:
                    v = y * SCALE
                elif c == A - 1:
                    v = x * SCALE
                elif c == A + F:
                    v = tl.full([BLOCK], 1, tl.int64)
                else:
                    fv = tl.load(feats_ptr + pix * F + (c - A), mask=inside, other=0.0)
                    v = _round_half_even(fv * SCALE).to(tl.int64)  # SCALE is a power of 2
                s = tl.sum(tl.where(hit, v[:, None], 0), axis=0)
                acc += tl.where(col[None, :] == c, s[:, None], 0)
    if not LAST:
        dst = (
            part_ptr
            + ((b * k_pad + cell) * ((2 * RZ + 1) * L * L) + j[:, None]) * (A + 1 + F)
            + col[None, :]
        )
        tl.store(dst, acc, mask=used[:, None] & (col[None, :] < A + 1 + F))


@triton.jit
def _finish_kernel(
    part_ptr,  # [B, K, J, A + 1 + F] int64
    centres_ptr,  # [B, K, A + F] float32: this round's centres
    valid_ptr,  # [B, K] int8: centres placed on the grid
    out_ptr,  # [B, K, A + F] float32: the next round's centres
    alive_ptr,  # [B, K] int8: the next round's alive flags
    counts_ptr,  # [B, 3] int64 centres per axis
    NZ_PAD,
    NY_PAD,
    NX_PAD,
    A: tl.constexpr,
    F: tl.constexpr,
    R: tl.constexpr,
    RZ: tl.constexpr,
    C_PAD: tl.constexpr,
    SCALE: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    k = tl.program_id(0).to(tl.int64) * BLOCK_K + tl.arange(0, BLOCK_K)
    b = tl.program_id(1).to(tl.int64)
    k_pad = NZ_PAD * NY_PAD * NX_PAD
    ok_k = k < k_pad
    kz, ky, kx = _cell_of(k, NY_PAD, NX_PAD)
    nz = tl.load(counts_ptr + b * 3)
    ny = tl.load(counts_ptr + b * 3 + 1)
    nx = tl.load(counts_ptr + b * 3 + 2)
    L = 2 * R + 1
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
                j = (dk * L + di) * L + dj
                tile = (tz * NY_PAD + ty) * NX_PAD + tx
                src = part_ptr + ((b * k_pad + tile) * ((2 * RZ + 1) * L * L) + j) * (A + 1 + F)
                total += tl.load(
                    src[:, None] + col[None, :], mask=ok[:, None] & ok_col[None, :], other=0
                )
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


@torch.library.custom_op("hsmix_torch::slic_kmeans", mutates_args=())
def _slic_kmeans_op(
    feats: Tensor,
    centres: Tensor,
    valid: Tensor,
    labels: Tensor,
    tiles: Tensor,
    counts: Tensor,
    win: Tensor,
    inv_s2: Tensor,
    spacing: list[float],
    radius: int,
    rounds: int,
) -> Tensor:
    b, *size, f = feats.shape
    a = len(size)
    d, h, w = (1, *size) if a == 2 else size
    pads = centres.shape[1:-1]
    nz_pad, ny_pad, nx_pad = (1, *pads) if a == 2 else pads
    k_pad = nz_pad * ny_pad * nx_pad
    cand = (2 * radius + 1) ** a
    j_pad = triton.next_power_of_2(cand)
    consts = dict(
        A=a,
        F=f,
        R=radius,
        RZ=radius if a == 3 else 0,
        SCALE=int(FIXED_POINT_SCALE),
        enable_fp_fusion=False,
    )  # the reference rounds every product and sum separately
    c_pad = triton.next_power_of_2(a + 1 + f)
    partials = torch.empty((b, k_pad, cand, a + 1 + f), dtype=torch.int64, device=feats.device)
    alive = valid.view(torch.int8)
    out = torch.empty_like(labels)
    picks = torch.empty(labels.shape, dtype=torch.int16, device=labels.device)
    spare = torch.empty_like(picks)
    sz, sy, sx = ([1.0] + spacing) if a == 2 else spacing
    for it in range(rounds):
        last = it + 1 == rounds
        _round_kernel[(k_pad, b)](
            feats, centres, alive, labels, spare, picks, out, partials, tiles, counts, win,
            inv_s2, sz, sy, sx, d, h, w, nz_pad, ny_pad, nx_pad, tiles.shape[-1],
            J_PAD=j_pad, C_PAD=c_pad, FIRST=it == 0, LAST=last,
            BLOCK=min(_BLOCK, 4096 // j_pad), **consts,
        )  # fmt: skip
        picks, spare = spare, picks
        if not last:
            new_centres = torch.empty_like(centres)
            new_alive = torch.empty_like(alive)
            _finish_kernel[(triton.cdiv(k_pad, _BLOCK_K), b)](
                partials, centres, valid.view(torch.int8), new_centres, new_alive, counts,
                nz_pad, ny_pad, nx_pad, C_PAD=c_pad, BLOCK_K=_BLOCK_K, **consts,
            )  # fmt: skip
            centres, alive = new_centres, new_alive
    return out


@_slic_kmeans_op.register_fake
def _(feats, centres, valid, labels, tiles, counts, win, inv_s2, spacing, radius, rounds):
    return torch.empty_like(labels)


def slic_kmeans(
    feats: Tensor,
    centres: Tensor,
    valid: Tensor,
    labels: Tensor,
    *,
    grid: SlicGrid,
    home: tuple[Tensor, ...],
    radius: int,
    rounds: int,
    spacing: tuple[float, ...] | None = None,
) -> Tensor:
    """The Triton version of ``torch_slic._kmeans``: the same arguments, the same labels.

    ``feats`` ``[B, *S, F]`` float32 (S: ``(H, W)`` or ``(D, H, W)``), ``centres``
    ``[B, *pads, A + F]`` float32 (the initial centres), ``valid`` ``[B, *pads]`` bool
    (centres placed on the grid), ``labels`` ``[B, *S]`` int64 (the initial labels),
    ``grid`` a :class:`~hsmix_torch.superpixels._grid.SlicGrid`, ``home`` per axis each
    coordinate's home cell ``[B, S_a]`` int64 (non-decreasing), ``spacing`` the voxel size
    per axis (None: 1). Returns the labels ``[B, *S]`` int64 after ``rounds`` assignments.
    """
    b, *size, _ = feats.shape
    a = len(size)
    if a not in (2, 3) or centres.shape[1:-1] != grid.pads:
        raise ValueError(
            f"the SLIC k-means takes features [B, *S, F] with 2 or 3 spatial axes and centres "
            f"[B, *pads, A + F], got {tuple(feats.shape)} and {tuple(centres.shape)}"
        )
    dev = feats.device
    # Tiles: per axis, the coordinates whose home cell is each cell, as ranges. Images get a
    # depth axis of one cell holding their one slice.
    pad = max(grid.pads)
    homes = [torch.zeros((b, 1), dtype=torch.long, device=dev)] * (3 - a) + list(home)
    cells = torch.arange(pad, device=dev).expand(b, pad).contiguous()
    tiles = torch.stack(
        [
            torch.stack([torch.searchsorted(h, cells), torch.searchsorted(h, cells, right=True)])
            for h in (t.contiguous() for t in homes)
        ]
    )
    ones = torch.ones((b, 3 - a), dtype=torch.long, device=dev)
    counts = torch.cat([ones, grid.counts], 1).contiguous()
    # The reference's per-image constants, computed by the same torch ops.
    inv_s2 = 1.0 / grid.step.float() ** 2
    win = torch.cat([ones, 2 * grid.win], 1).float().contiguous()
    return _slic_kmeans_op(
        feats.contiguous(),
        centres.contiguous(),
        valid.contiguous(),
        labels.contiguous(),
        tiles,
        counts,
        win,
        inv_s2,
        [1.0] * a if spacing is None else [float(v) for v in spacing],
        radius,
        rounds,
    )
