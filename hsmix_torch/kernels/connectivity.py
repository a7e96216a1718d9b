"""Component labelling rounds of the connectivity step as Triton kernels.

Reference: ``hsmix_torch.superpixels.connectivity._run_rounds`` (torch ops), which these
kernels equal exactly. One round of min-label propagation is the reference's four steps:
each pixel's minimum ``m`` over its own and its equal-label 4-neighbours' parents; the hook
``hooked[parent[p]] = min(hooked[parent[p]], m[p])`` (an integer ``atomic_min``, so the
result does not depend on the order of the programs); ``min(hooked, m)``; two pointer jumps.
They take three kernels, each a global step (a jump reads what the last kernel wrote), and
one copy, instead of the reference's 17 ops.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["cc_rounds", "merge_keys"]

_BLOCK = 256


@triton.jit
def _hook_kernel(labels_ptr, parent_ptr, m_ptr, hooked_ptr, N, H, W, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    x = offs % W
    y = (offs // W) % H
    label = tl.load(labels_ptr + offs, mask=inside, other=0)
    parent = tl.load(parent_ptr + offs, mask=inside, other=0)
    m = parent
    # Right, left, down, up: the reference's order (min is order-free anyway).
    right = inside & (x + 1 < W)
    same = right & (tl.load(labels_ptr + offs + 1, mask=right, other=0) == label)
    m = tl.where(same, tl.minimum(m, tl.load(parent_ptr + offs + 1, mask=same, other=0)), m)
    left = inside & (x > 0)
    same = left & (tl.load(labels_ptr + offs - 1, mask=left, other=0) == label)
    m = tl.where(same, tl.minimum(m, tl.load(parent_ptr + offs - 1, mask=same, other=0)), m)
    down = inside & (y + 1 < H)
    same = down & (tl.load(labels_ptr + offs + W, mask=down, other=0) == label)
    m = tl.where(same, tl.minimum(m, tl.load(parent_ptr + offs + W, mask=same, other=0)), m)
    up = inside & (y > 0)
    same = up & (tl.load(labels_ptr + offs - W, mask=up, other=0) == label)
    m = tl.where(same, tl.minimum(m, tl.load(parent_ptr + offs - W, mask=same, other=0)), m)
    tl.store(m_ptr + offs, m, mask=inside)
    tl.atomic_min(hooked_ptr + parent, m, mask=inside)


@triton.jit
def _min_jump_kernel(hooked_ptr, m_ptr, out_ptr, N, BLOCK: tl.constexpr):
    """``out[p] = h[h[p]]`` with ``h = min(hooked, m)``, computed where it is read."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    h = tl.minimum(
        tl.load(hooked_ptr + offs, mask=inside, other=0),
        tl.load(m_ptr + offs, mask=inside, other=0),
    )
    hh = tl.minimum(
        tl.load(hooked_ptr + h, mask=inside, other=0), tl.load(m_ptr + h, mask=inside, other=0)
    )
    tl.store(out_ptr + offs, hh, mask=inside)


@triton.jit
def _jump_kernel(h_ptr, out_ptr, N, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    h = tl.load(h_ptr + offs, mask=inside, other=0)
    tl.store(out_ptr + offs, tl.load(h_ptr + h, mask=inside, other=0), mask=inside)


@torch.library.custom_op("hsmix_torch::cc_rounds", mutates_args=())
def _cc_rounds_op(parent: Tensor, labels: Tensor, rounds: int) -> Tensor:
    _, h, w = labels.shape
    n = labels.numel()
    grid = (triton.cdiv(n, _BLOCK),)
    m = torch.empty_like(parent)
    jumped = torch.empty_like(parent)
    parent = parent.clone()
    for _ in range(rounds):
        hooked = parent.clone()
        _hook_kernel[grid](labels, parent, m, hooked, n, h, w, BLOCK=_BLOCK)
        _min_jump_kernel[grid](hooked, m, jumped, n, BLOCK=_BLOCK)
        _jump_kernel[grid](jumped, parent, n, BLOCK=_BLOCK)
    return parent


@_cc_rounds_op.register_fake
def _(parent, labels, rounds):
    return torch.empty_like(parent)


def cc_rounds(parent: Tensor, labels: Tensor, rounds: int) -> Tensor:
    """``rounds`` rounds of min-label propagation: the Triton version of
    ``connectivity._run_rounds(parent, *_equal_edges(labels), rounds)``.

    ``parent`` ``[B, H, W]`` int64 flat indices into the batch, ``labels`` ``[B, H, W]``.
    """
    return _cc_rounds_op(parent.contiguous(), labels.contiguous(), rounds)


@triton.jit
def _merge_keys_kernel(
    root_ptr,  # [N] int64: each pixel's component (a flat slot)
    means_ptr,  # [N, F] float64: each slot's mean features
    source_ptr,  # [N] int8: slots that look for a target
    target_ptr,  # [N] int8: slots that may be chosen
    best_ptr,  # [N] int64, INT64_MAX: the smallest key per source slot
    N,
    H,
    W,
    HW,
    EARLIER_ONLY: tl.constexpr,
    F: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    x = offs % W
    y = (offs // W) % H
    rp = tl.load(root_ptr + offs, mask=inside, other=0)
    source = inside & (tl.load(source_ptr + rp, mask=inside, other=0) != 0)
    for side in tl.static_range(4):  # right, left, down, up
        if side == 0:
            has = x + 1 < W
            step = 1
        elif side == 1:
            has = x > 0
            step = -1
        elif side == 2:
            has = y + 1 < H
            step = W
        else:
            has = y > 0
            step = -W
        ok = source & has
        rq = tl.load(root_ptr + offs + step, mask=ok, other=0)
        ok = ok & (rq != rp) & (tl.load(target_ptr + rq, mask=ok, other=0) != 0)
        if EARLIER_ONLY:
            ok = ok & (rq < rp)
        score = tl.zeros([BLOCK], tl.float64)
        for f in tl.static_range(F):
            d = tl.load(means_ptr + rp * F + f, mask=ok, other=0.0) - tl.load(
                means_ptr + rq * F + f, mask=ok, other=0.0
            )
            score = d * d if f == 0 else score + d * d
        bits = score.to(tl.float32).to(tl.int32, bitcast=True).to(tl.int64)
        key = (bits << 32) | (rq % HW)
        tl.atomic_min(best_ptr + rp, key, mask=ok)


@torch.library.custom_op("hsmix_torch::merge_keys", mutates_args=())
def _merge_keys_op(
    root: Tensor, means: Tensor, source: Tensor, target: Tensor, earlier_only: bool
) -> Tensor:
    _, h, w = root.shape
    n = root.numel()
    best = torch.full((n,), torch.iinfo(torch.int64).max, dtype=torch.int64, device=root.device)
    _merge_keys_kernel[(triton.cdiv(n, _BLOCK),)](
        root,
        means,
        source.view(torch.int8),
        target.view(torch.int8),
        best,
        n,
        h,
        w,
        h * w,
        EARLIER_ONLY=earlier_only,
        F=means.shape[1],
        BLOCK=_BLOCK,
        enable_fp_fusion=False,
    )
    return best


@_merge_keys_op.register_fake
def _(root, means, source, target, earlier_only):
    return root.new_empty((root.numel(),))


def merge_keys(
    root: Tensor, means: Tensor, source: Tensor, target: Tensor, earlier_only: bool
) -> Tensor:
    """The Triton version of the key search in ``connectivity._pick_targets``: for each
    source slot the smallest ``(float32 bits of the squared mean distance) << 32 | slot``
    over its 4-neighbour components that may be chosen, else ``INT64_MAX``."""
    return _merge_keys_op(
        root.contiguous(),
        means.contiguous(),
        source.contiguous(),
        target.contiguous(),
        earlier_only,
    )
