"""The SLIC assignment round as one Triton kernel.

Reference: ``hsmix_torch.superpixels.torch_slic._assign`` (torch ops), which this kernel
equals label for label. One program takes a block of pixels of one image; for each pixel
it walks the ``(2R+1)^2`` candidate cells around its home cell in the reference's order
(rows, then columns), keeping a running minimum and its centre in registers, so the
``[B, H, W, 2R+1]`` distance tensors of the reference are never written. Arithmetic is the
reference's, operation by operation, in float32 and without fused multiply-adds: the same
roundings, the same ties (the first candidate with the smallest distance wins).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["slic_assign"]

_BLOCK = 256


@triton.jit
def _assign_kernel(
    feats_ptr,  # [B, H*W, F] float32
    centres_ptr,  # [B, K, 2 + F] float32
    alive_ptr,  # [B, K] int8
    labels_ptr,  # [B, H*W] int64: the previous round's labels (kept where no candidate passes)
    out_ptr,  # [B, H*W] int64
    home_y_ptr,  # [B, H] int64
    home_x_ptr,  # [B, W] int64
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
    BLOCK: tl.constexpr,
):
    b = tl.program_id(0).to(tl.int64)
    offs = tl.program_id(1).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    hw = H * W
    inside = offs < hw
    y = offs // W
    x = offs % W
    home_y = tl.load(home_y_ptr + b * H + y, mask=inside, other=0)
    home_x = tl.load(home_x_ptr + b * W + x, mask=inside, other=0)
    ny = tl.load(ny_ptr + b)
    nx = tl.load(nx_ptr + b)
    win_y = tl.load(win_y_ptr + b)
    win_x = tl.load(win_x_ptr + b)
    inv_s2 = tl.load(inv_s2_ptr + b)
    k_pad = NY_PAD * NX_PAD
    yf = y.to(tl.float32)
    xf = x.to(tl.float32)
    best = tl.full([BLOCK], float("inf"), tl.float32)
    label = tl.load(labels_ptr + b * hw + offs, mask=inside, other=0)
    pixel = feats_ptr + (b * hw + offs) * F
    for di in tl.static_range(2 * R + 1):
        cy = home_y + (di - R)
        ok_y = (cy >= 0) & (cy < ny)
        cy = tl.minimum(tl.maximum(cy, 0), NY_PAD - 1)
        for dj in tl.static_range(2 * R + 1):
            cx = home_x + (dj - R)
            ok = inside & ok_y & (cx >= 0) & (cx < nx)
            cx = tl.minimum(tl.maximum(cx, 0), NX_PAD - 1)
            k = cy * NX_PAD + cx
            ok = ok & (tl.load(alive_ptr + b * k_pad + k, mask=inside, other=0) != 0)
            centre = centres_ptr + (b * k_pad + k) * (2 + F)
            c_y = tl.load(centre, mask=inside, other=0.0)
            c_x = tl.load(centre + 1, mask=inside, other=0.0)
            ok = ok & (tl.abs(yf - tl.floor(c_y)) <= win_y)
            ok = ok & (tl.abs(xf - tl.floor(c_x)) <= win_x)
            dy = yf - c_y
            dx = xf - c_x
            dist = (dy * dy + dx * dx) * inv_s2
            colour = tl.zeros([BLOCK], tl.float32)
            for f in tl.static_range(F):
                d = tl.load(pixel + f, mask=inside, other=0.0) - tl.load(
                    centre + 2 + f, mask=inside, other=0.0
                )
                colour = d * d if f == 0 else colour + d * d
            dist = tl.where(ok, dist + colour, float("inf"))
            better = dist < best
            best = tl.where(better, dist, best)
            label = tl.where(better, k, label)
    tl.store(out_ptr + b * hw + offs, label, mask=inside)


@torch.library.custom_op("hsmix_torch::slic_assign", mutates_args=())
def _slic_assign_op(
    feats: Tensor,
    centres: Tensor,
    alive: Tensor,
    labels: Tensor,
    home_y: Tensor,
    home_x: Tensor,
    ny: Tensor,
    nx: Tensor,
    win_y: Tensor,
    win_x: Tensor,
    inv_s2: Tensor,
    radius: int,
) -> Tensor:
    b, h, w, f = feats.shape
    ny_pad, nx_pad = centres.shape[1], centres.shape[2]
    out = torch.empty_like(labels)
    grid = (b, triton.cdiv(h * w, _BLOCK))
    _assign_kernel[grid](
        feats,
        centres,
        alive.view(torch.int8),
        labels,
        out,
        home_y,
        home_x,
        ny,
        nx,
        win_y,
        win_x,
        inv_s2,
        h,
        w,
        ny_pad,
        nx_pad,
        F=f,
        R=radius,
        BLOCK=_BLOCK,
        enable_fp_fusion=False,  # the reference rounds every product and sum separately
    )
    return out


@_slic_assign_op.register_fake
def _(feats, centres, alive, labels, home_y, home_x, ny, nx, win_y, win_x, inv_s2, radius):
    return torch.empty_like(labels)


def slic_assign(
    feats: Tensor,
    centres: Tensor,
    alive: Tensor,
    labels: Tensor,
    *,
    grid: object,
    home: tuple[Tensor, Tensor],
    radius: int,
) -> Tensor:
    """The Triton version of ``torch_slic._assign``: the same arguments, the same labels.

    ``feats`` ``[B, H, W, F]`` float32, ``centres`` ``[B, ny_pad, nx_pad, 2 + F]`` float32,
    ``alive`` ``[B, ny_pad, nx_pad]`` bool, ``labels`` ``[B, H, W]`` int64, ``grid`` a
    :class:`~hsmix_torch.superpixels._grid.SlicGrid`, ``home`` each pixel row's and
    column's home cell ``([B, H], [B, W])`` int64.
    """
    # The reference's per-image constants, computed by the same torch ops.
    inv_s2 = 1.0 / grid.step.float() ** 2
    win_y = (2 * grid.win_y).float()
    win_x = (2 * grid.win_x).float()
    return _slic_assign_op(
        feats.contiguous(),
        centres.contiguous(),
        alive.contiguous(),
        labels.contiguous(),
        home[0].contiguous(),
        home[1].contiguous(),
        grid.ny.contiguous(),
        grid.nx.contiguous(),
        win_y,
        win_x,
        inv_s2,
        radius,
    )
