"""The connectivity step of the torch SLIC as Triton kernels: labelling rounds and merging.

References (torch ops, which these equal exactly): ``_run_rounds`` and ``_merge_small`` in
``hsmix_torch.superpixels.connectivity``.

Labelling: one round of min-label propagation is the reference's steps: each pixel's
minimum ``m`` over its own and its equal-label face neighbours' parents (4 in 2-D, 6 in
3-D: a 2-D image is a volume of depth 1, and the depth neighbours are compiled in only for
volumes); the hook
``hooked[parent[p]] = min(hooked[parent[p]], m[p])`` (an integer ``atomic_min``, so the
result does not depend on the order of the programs); ``h = min(hooked, m)`` and two
pointer jumps, which are ``h(h(h(h(p))))``: four reads of tables the hook has finished. So a
round is two kernels (the hook and the jumps), where the reference takes 17 ops.

Merging small pieces, both passes of the reference in nine launches: per-component sizes
and fixed-point feature sums (integer ``atomic_add``), the neighbour search (each pixel on
a component's border proposes the neighbouring component with a packed
``score bits << 32 | slot`` key, integer ``atomic_min``), and the resolution of the merge
chains per pixel (each pixel follows its component's chain, at most ``2**jumps`` steps: what
the reference's ``jumps`` pointer doublings reach).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..functional.regions import FIXED_POINT_SCALE
from .slic_kmeans import _round_half_even

__all__ = ["cc_rounds", "merge_small"]

_BLOCK = 256
_INT64_MAX = torch.iinfo(torch.int64).max


@triton.jit
def _hook_kernel(
    labels_ptr, parent_ptr, m_ptr, hooked_ptr, N, D, H, W, VOLUME: tl.constexpr, BLOCK: tl.constexpr
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    x = offs % W
    y = (offs // W) % H
    label = tl.load(labels_ptr + offs, mask=inside, other=0)
    parent = tl.load(parent_ptr + offs, mask=inside, other=0)
    m = parent
    # Right, left, down, up (then back, front): min is order-free.
    for side in tl.static_range(6 if VOLUME else 4):
        if side == 0:
            has = x + 1 < W
            step = 1
        elif side == 1:
            has = x > 0
            step = -1
        elif side == 2:
            has = y + 1 < H
            step = W
        elif side == 3:
            has = y > 0
            step = -W
        elif side == 4:
            has = (offs // (W * H)) % D + 1 < D
            step = W * H
        else:
            has = (offs // (W * H)) % D > 0
            step = -W * H
        ok = inside & has
        same = ok & (tl.load(labels_ptr + offs + step, mask=ok, other=0) == label)
        m = tl.where(same, tl.minimum(m, tl.load(parent_ptr + offs + step, mask=same, other=0)), m)
    tl.store(m_ptr + offs, m, mask=inside)
    tl.atomic_min(hooked_ptr + parent, m, mask=inside)


def _depth_height_width(t: Tensor) -> tuple[int, int, int]:
    """``(D, H, W)`` of a ``[B, H, W]`` (D = 1) or ``[B, D, H, W]`` tensor."""
    return (1, *t.shape[1:]) if t.ndim == 3 else tuple(t.shape[1:])  # type: ignore[return-value]


@triton.jit
def _h(hooked_ptr, m_ptr, q, mask):
    """``min(hooked, m)[q]``: the hooked parent, read where it is needed."""
    return tl.minimum(
        tl.load(hooked_ptr + q, mask=mask, other=0), tl.load(m_ptr + q, mask=mask, other=0)
    )


@triton.jit
def _jumps_kernel(hooked_ptr, m_ptr, parent_ptr, next_hooked_ptr, N, BLOCK: tl.constexpr):
    """``parent = h[h][h[h]]`` (two pointer jumps of ``h = min(hooked, m)``), also written to
    the next round's hook table (which starts as a copy of the parents)."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    q = _h(hooked_ptr, m_ptr, offs, inside)
    q = _h(hooked_ptr, m_ptr, q, inside)
    q = _h(hooked_ptr, m_ptr, q, inside)
    q = _h(hooked_ptr, m_ptr, q, inside)
    tl.store(parent_ptr + offs, q, mask=inside)
    tl.store(next_hooked_ptr + offs, q, mask=inside)


@torch.library.custom_op("hsmix_torch::cc_rounds", mutates_args=())
def _cc_rounds_op(parent: Tensor, labels: Tensor, rounds: int) -> Tensor:
    d, h, w = _depth_height_width(labels)
    n = labels.numel()
    grid = (triton.cdiv(n, _BLOCK),)
    m = torch.empty_like(parent)
    parent = parent.clone()
    hooked, spare = parent.clone(), torch.empty_like(parent)
    for _ in range(rounds):
        _hook_kernel[grid](labels, parent, m, hooked, n, d, h, w, VOLUME=d > 1, BLOCK=_BLOCK)
        _jumps_kernel[grid](hooked, m, parent, spare, n, BLOCK=_BLOCK)
        hooked, spare = spare, hooked
    return parent


@_cc_rounds_op.register_fake
def _(parent, labels, rounds):
    return torch.empty_like(parent)


def cc_rounds(parent: Tensor, labels: Tensor, rounds: int) -> Tensor:
    """``rounds`` rounds of min-label propagation: the Triton version of
    ``connectivity._run_rounds(parent, *_equal_edges(labels), rounds)``.

    ``parent`` ``[B, *S]`` int64 flat indices into the batch, ``labels`` ``[B, *S]`` (S:
    ``(H, W)``, or ``(D, H, W)`` with 6-connectivity).
    """
    return _cc_rounds_op(parent.contiguous(), labels.contiguous(), rounds)


# ------------------------------------------------------------------------------- merging
@triton.jit
def _stats_kernel(
    root_ptr,  # [N] int64: each pixel's component (a flat slot)
    feats_ptr,  # [N, F] float32
    stats_ptr,  # [N, 1 + F] int64, zeroed: size, then fixed-point feature sums, per slot
    N,
    F: tl.constexpr,
    SCALE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    row = stats_ptr + tl.load(root_ptr + offs, mask=inside, other=0) * (1 + F)
    tl.atomic_add(row, tl.full([BLOCK], 1, tl.int64), mask=inside)
    for f in tl.static_range(F):
        v = tl.load(feats_ptr + offs * F + f, mask=inside, other=0.0) * SCALE
        tl.atomic_add(row + 1 + f, _round_half_even(v).to(tl.int64), mask=inside)


@triton.jit
def _small(stats_ptr, min_ptr, slot, HW, mask, F: tl.constexpr):
    """(size, size < the minimum size of the slot's image) of component slots ``slot``."""
    size = tl.load(stats_ptr + slot * (1 + F), mask=mask, other=0)
    return size, size < tl.load(min_ptr + slot // HW, mask=mask, other=0)


@triton.jit
def _keys_kernel(
    root_ptr,  # [N] int64
    stats_ptr,  # [N, 1 + F] int64
    min_ptr,  # [B] int64: the minimum size per image
    best_ptr,  # [N] int64, INT64_MAX: the smallest key per source slot
    N,
    D,
    H,
    W,
    HW,  # voxels per image
    FIRST: tl.constexpr,  # the first pass (small into earlier) or the second (small into large)
    VOLUME: tl.constexpr,  # D > 1: back and front neighbours too
    F: tl.constexpr,
    SCALE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    x = offs % W
    y = (offs // W) % H
    rp = tl.load(root_ptr + offs, mask=inside, other=0)
    size_p, small_p = _small(stats_ptr, min_ptr, rp, HW, inside, F)
    source = inside & small_p
    if not FIRST:
        source = source & (size_p > 0)
    for side in tl.static_range(6 if VOLUME else 4):  # right, left, down, up, back, front
        if side == 0:
            has = x + 1 < W
            step = 1
        elif side == 1:
            has = x > 0
            step = -1
        elif side == 2:
            has = y + 1 < H
            step = W
        elif side == 3:
            has = y > 0
            step = -W
        elif side == 4:
            has = (offs // (W * H)) % D + 1 < D
            step = W * H
        else:
            has = (offs // (W * H)) % D > 0
            step = -W * H
        ok = source & has
        rq = tl.load(root_ptr + offs + step, mask=ok, other=0)
        ok = ok & (rq != rp)
        if FIRST:
            ok = ok & (rq < rp)  # earlier components only: the merges form a forest
        else:
            size_q, small_q = _small(stats_ptr, min_ptr, rq, HW, ok, F)
            ok = ok & ~(small_q & (size_q > 0))
        size_q = tl.maximum(tl.load(stats_ptr + rq * (1 + F), mask=ok, other=1), 1)
        score = tl.zeros([BLOCK], tl.float64)
        for f in tl.static_range(F):
            # The reference's means: fixed point to float64, divided by the size.
            mp = (
                tl.load(stats_ptr + rp * (1 + F) + 1 + f, mask=ok, other=0).to(tl.float64) / SCALE
            ) / tl.maximum(size_p, 1).to(tl.float64)
            mq = (
                tl.load(stats_ptr + rq * (1 + F) + 1 + f, mask=ok, other=0).to(tl.float64) / SCALE
            ) / size_q.to(tl.float64)
            d = mp - mq
            score = d * d if f == 0 else score + d * d
        bits = score.to(tl.float32).to(tl.int32, bitcast=True).to(tl.int64)
        tl.atomic_min(best_ptr + rp, (bits << 32) | (rq % HW), mask=ok)


@triton.jit
def _chosen(best_ptr, slot, HW, mask):
    """The slot a component merges into (itself when its search found nothing)."""
    best = tl.load(best_ptr + slot, mask=mask, other=0x7FFFFFFFFFFFFFFF)
    return tl.where(best != 0x7FFFFFFFFFFFFFFF, (best & 0xFFFFFFFF) + (slot // HW) * HW, slot)


@triton.jit
def _follow_kernel(
    root_ptr,  # [N] int64
    best_ptr,  # [N] int64: the search's keys
    out_ptr,  # [N] int64: each pixel's component after the merges
    unresolved_ptr,  # [1] int32: set where a chain is longer than STEPS
    N,
    HW,
    STEPS,  # the most chain steps: 2**jumps (1: one step, no check)
    CHECK: tl.constexpr,
    BLOCK: tl.constexpr,
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    t = _chosen(best_ptr, tl.load(root_ptr + offs, mask=inside, other=0), HW, inside)
    nxt = _chosen(best_ptr, t, HW, inside)
    steps = 1
    while (steps < STEPS) & (tl.max((nxt != t).to(tl.int32), axis=0) > 0):
        t = nxt
        nxt = _chosen(best_ptr, t, HW, inside)
        steps += 1
    tl.store(out_ptr + offs, t, mask=inside)
    if CHECK:  # the reference's target == target[target], on every pixel's chain
        tl.atomic_max(unresolved_ptr, tl.max((inside & (nxt != t)).to(tl.int32), axis=0))


@torch.library.custom_op("hsmix_torch::merge_small", mutates_args=())
def _merge_small_op(
    parent: Tensor, features: Tensor, min_size: Tensor, jumps: int
) -> tuple[Tensor, Tensor]:
    d, h, w = _depth_height_width(parent)
    n, f = parent.numel(), features.shape[-1]
    grid = (triton.cdiv(n, _BLOCK),)
    consts = dict(F=f, SCALE=int(FIXED_POINT_SCALE), BLOCK=_BLOCK)
    unresolved = torch.zeros(1, dtype=torch.int32, device=parent.device)
    root = parent.reshape(-1)
    for first in (True, False):
        stats = torch.zeros((n, 1 + f), dtype=torch.int64, device=parent.device)
        _stats_kernel[grid](root, features, stats, n, **consts)
        best = torch.full((n,), _INT64_MAX, dtype=torch.int64, device=parent.device)
        _keys_kernel[grid](
            root,
            stats,
            min_size,
            best,
            n,
            d,
            h,
            w,
            d * h * w,
            FIRST=first,
            VOLUME=d > 1,
            enable_fp_fusion=False,
            **consts,
        )
        merged = torch.empty_like(root)
        _follow_kernel[grid](
            root,
            best,
            merged,
            unresolved,
            n,
            d * h * w,
            2**jumps if first else 1,
            CHECK=first,
            BLOCK=_BLOCK,
        )
        root = merged
    return root, unresolved[0] == 0


@_merge_small_op.register_fake
def _(parent, features, min_size, jumps):
    return parent.new_empty((parent.numel(),)), parent.new_empty((), dtype=torch.bool)


def merge_small(
    parent: Tensor, features: Tensor, min_size: Tensor, jumps: int
) -> tuple[Tensor, Tensor]:
    """The Triton version of ``connectivity._merge_small``: both merge passes.

    Args:
        parent: ``[B, *S]`` int64 component slots (flat indices into the batch); S:
            ``(H, W)``, or ``(D, H, W)`` with 6-connectivity.
        features: ``[B, *S, F]`` float32 features for the merge score.
        min_size: ``[B]`` int64 minimum component size per image.
        jumps: the reference's pointer doublings of the first pass's merge forest.

    Returns:
        ``(group id per pixel [N] int64, whether every merge chain was resolved)``.
    """
    feats = features.reshape(parent.numel(), -1).float().contiguous()
    return _merge_small_op(parent.contiguous(), feats, min_size.contiguous(), jumps)
