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

Merging small pieces, scikit-image's scan as the reference does it, in 29 kernels:
per-component sizes (integer ``atomic_add``); the breadth-first levels as ``SCAN_DEPTH + 1``
in-place kernels (a level only writes voxels still unreached and only reads the level
before, so programs never race; a level whose predecessor reached nothing returns at once);
three kernels that find each small component's last meeting with an earlier component
(``atomic_max`` of its level, then of its order; then the one meeting that equals both
writes the choice) and each image's first large component (``atomic_min``); and the merge
chains resolved per pixel (each pixel follows its component's chain, at most ``2**jumps``
steps: what the reference's ``jumps`` pointer doublings reach), with the pixel-0 corner
case applied at the end.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..superpixels.connectivity import SCAN_DEPTH

__all__ = ["cc_rounds", "merge_small"]

_BLOCK = 256
_INT64_MAX = torch.iinfo(torch.int64).max


@triton.jit
def _face_neighbour(offs, side: tl.constexpr, D, H, W):
    """``(has, step)``: whether flat voxels ``offs`` of a ``[B, D, H, W]`` block have a face
    neighbour on ``side`` (0-5: x+1, x-1, y+1, y-1, z+1, z-1, scikit-image's order), and
    the flat offset to it."""
    if side // 2 == 0:
        coord = offs % W
        size = W
        stride = 1
    elif side // 2 == 1:
        coord = (offs // W) % H
        size = H
        stride = W
    else:
        coord = (offs // (W * H)) % D
        size = D
        stride = W * H
    if side % 2 == 0:
        has = coord + 1 < size
        step = stride
    else:
        has = coord > 0
        step = -stride
    return has, step


@triton.jit
def _hook_kernel(
    labels_ptr, parent_ptr, m_ptr, hooked_ptr, N, D, H, W, VOLUME: tl.constexpr, BLOCK: tl.constexpr
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    label = tl.load(labels_ptr + offs, mask=inside, other=0)
    parent = tl.load(parent_ptr + offs, mask=inside, other=0)
    m = parent
    # Right, left, down, up (then back, front): min is order-free.
    for side in tl.static_range(6 if VOLUME else 4):
        has, step = _face_neighbour(offs, side, D, H, W)
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
def _sizes_kernel(root_ptr, sizes_ptr, N, BLOCK: tl.constexpr):
    """``sizes[root[p]] += 1`` (``sizes`` ``[N]`` int64, zeroed)."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    slot = tl.load(root_ptr + offs, mask=inside, other=0)
    tl.atomic_add(sizes_ptr + slot, tl.full([BLOCK], 1, tl.int64), mask=inside)


@triton.jit
def _small(sizes_ptr, min_ptr, slot, HW, mask):
    """Whether component slots ``slot`` are smaller than the minimum size of their image
    (slots that are no component's: size 0)."""
    size = tl.load(sizes_ptr + slot, mask=mask, other=0)
    return size < tl.load(min_ptr + slot // HW, mask=mask, other=0)


@triton.jit
def _scan_level_kernel(
    root_ptr,  # [N] int64
    sizes_ptr,  # [N] int64: component sizes per slot
    min_ptr,  # [B] int64
    level_ptr,  # [N] int64: steps from the component's first voxel (-1: not yet, or large)
    key_ptr,  # [N] int64: the visiting order within the level
    active_ptr,  # [SCAN_DEPTH + 1] int32, zeroed: whether level d reached any voxel
    depth,
    N,
    D,
    H,
    W,
    HW,
    START: tl.constexpr,  # depth 0: the first voxels of the small components
    VOLUME: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """One level of the reference's ``_scan_order``, in place: a voxel joins level ``depth``
    from a neighbour on level ``depth - 1`` (only voxels still at -1 are written, and only
    voxels at ``depth - 1`` are read, so programs do not race)."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    rp = tl.load(root_ptr + offs, mask=inside, other=0)
    small_p = _small(sizes_ptr, min_ptr, rp, HW, inside)
    member = inside & small_p
    if START:
        first = member & (offs == rp)
        tl.store(level_ptr + offs, tl.where(first, 0, -1).to(tl.int64), mask=inside)
        tl.store(key_ptr + offs, tl.zeros([BLOCK], tl.int64), mask=inside)
        tl.atomic_max(active_ptr, tl.max(first.to(tl.int32), axis=0))
    elif tl.load(active_ptr + depth - 1) != 0:  # the last level reached something
        todo = member & (tl.load(level_ptr + offs, mask=member, other=0) < 0)
        best = tl.full([BLOCK], 0x7FFFFFFFFFFFFFFF, tl.int64)
        for side in tl.static_range(6 if VOLUME else 4):
            has, step = _face_neighbour(offs, side, D, H, W)
            ok = todo & has
            ok = ok & (tl.load(level_ptr + offs + step, mask=ok, other=-1) == depth - 1)
            ok = ok & (tl.load(root_ptr + offs + step, mask=ok, other=-1) == rp)
            ku = tl.load(key_ptr + offs + step, mask=ok, other=0)
            back = side + 1 - 2 * (side % 2)  # the side from that neighbour to this voxel
            best = tl.where(ok, tl.minimum(best, ku * 6 + back), best)
        reached = best != 0x7FFFFFFFFFFFFFFF
        tl.store(level_ptr + offs, tl.zeros([BLOCK], tl.int64) + depth, mask=reached)
        tl.store(key_ptr + offs, best, mask=reached)
        tl.atomic_max(active_ptr + depth, tl.max(reached.to(tl.int32), axis=0))


@triton.jit
def _straight_order(offs, rp, H, W, HW):
    """The reference's ``_straight_order`` of voxels ``offs`` of components ``rp``."""
    v = offs % HW
    r = rp % HW
    dx = v % W - r % W
    dy = (v // W) % H - (r // W) % H
    dz = v // (W * H) - r // (W * H)
    sx = tl.where(dx > 0, 0, tl.where(dx < 0, 1, 2)).to(tl.int64)
    sy = tl.where(dy > 0, 0, tl.where(dy < 0, 1, 2)).to(tl.int64)
    adx = tl.abs(dx)
    ady = tl.abs(dy)
    order = ((sx * W + (W - 1 - adx)) * 3 + sy) * H + (H - 1 - ady)
    return adx + ady + dz, order


@triton.jit
def _scan_meet_kernel(
    root_ptr,  # [N] int64
    sizes_ptr,  # [N] int64
    min_ptr,  # [B] int64
    level_ptr,  # [N] int64: the scan's levels
    key_ptr,  # [N] int64: the scan's orders within a level
    last_ptr,  # [2, N] int64, -1: the last level, then the last order, met per source slot
    best_ptr,  # [N] int64, INT64_MAX: the chosen neighbour's slot in its image, per source
    first_large_ptr,  # [B] int64, INT64_MAX: the first large component's slot per image
    N,
    D,
    H,
    W,
    HW,
    PASS: tl.constexpr,  # 0: the last level; 1: the last order in it; 2: write the choice
    DEPTH: tl.constexpr,  # SCAN_DEPTH
    VOLUME: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """The reference's ``_scan_targets``: where a voxel of a small component meets an
    earlier component, the meeting's place in the scan is (level, order * 6 + side). The
    first pass also finds each image's first large component (slots are voxels too)."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    rp = tl.load(root_ptr + offs, mask=inside, other=0)
    small_p = _small(sizes_ptr, min_ptr, rp, HW, inside)
    if PASS == 0:
        large = inside & ~_small(sizes_ptr, min_ptr, offs, HW, inside)
        tl.atomic_min(first_large_ptr + offs // HW, offs, mask=large)
    source = inside & small_p
    level = tl.load(level_ptr + offs, mask=source, other=0)
    key = tl.load(key_ptr + offs, mask=source, other=0)
    further = level < 0  # beyond SCAN_DEPTH: after every level, in the straight-line order
    steps, order = _straight_order(offs, rp, H, W, HW)
    level = tl.where(further, DEPTH + 1 + steps, level)
    key = tl.where(further, order, key)
    if PASS > 0:
        source = source & (level == tl.load(last_ptr + rp, mask=source, other=-1))
    if PASS > 1:
        last_key = tl.load(last_ptr + N + rp, mask=source, other=-1)
    for side in tl.static_range(6 if VOLUME else 4):
        has, step = _face_neighbour(offs, side, D, H, W)
        ok = source & has
        rq = tl.load(root_ptr + offs + step, mask=ok, other=0)
        ok = ok & (rq < rp)  # an earlier component: the merges form a forest
        if PASS == 0:
            tl.atomic_max(last_ptr + rp, level, mask=ok)
        elif PASS == 1:
            tl.atomic_max(last_ptr + N + rp, key * 6 + side, mask=ok)
        else:  # the one meeting per component that is last
            tl.store(best_ptr + rp, rq % HW, mask=ok & (key * 6 + side == last_key))


@triton.jit
def _chosen(best_ptr, slot, HW, mask):
    """The slot a component merges into (itself when its search found nothing)."""
    best = tl.load(best_ptr + slot, mask=mask, other=0x7FFFFFFFFFFFFFFF)
    return tl.where(best != 0x7FFFFFFFFFFFFFFF, best + (slot // HW) * HW, slot)


@triton.jit
def _follow_kernel(
    root_ptr,  # [N] int64
    best_ptr,  # [N] int64: each small component's choice (its slot in the image)
    first_large_ptr,  # [B] int64: the first large component's slot per image
    out_ptr,  # [N] int64: each pixel's component after the merges
    unresolved_ptr,  # [1] int32: set where a chain is longer than STEPS
    N,
    HW,
    STEPS,  # the most chain steps: 2**jumps
    BLOCK: tl.constexpr,
):
    """Each pixel follows its component's merge chain; then the reference's corner case:
    the group at pixel 0 of an image joins the image's first large component."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    t = _chosen(best_ptr, tl.load(root_ptr + offs, mask=inside, other=0), HW, inside)
    nxt = _chosen(best_ptr, t, HW, inside)
    steps = 1
    while (steps < STEPS) & (tl.max((nxt != t).to(tl.int32), axis=0) > 0):
        t = nxt
        nxt = _chosen(best_ptr, t, HW, inside)
        steps += 1
    first_large = tl.load(first_large_ptr + offs // HW, mask=inside, other=0)
    joins = (t == (offs // HW) * HW) & (first_large != 0x7FFFFFFFFFFFFFFF)
    tl.store(out_ptr + offs, tl.where(joins, first_large, t), mask=inside)
    # The reference's target == target[target], on every pixel's chain.
    tl.atomic_max(unresolved_ptr, tl.max((inside & (nxt != t)).to(tl.int32), axis=0))


@torch.library.custom_op("hsmix_torch::merge_small", mutates_args=())
def _merge_small_op(parent: Tensor, min_size: Tensor, jumps: int) -> tuple[Tensor, Tensor]:
    d, h, w = _depth_height_width(parent)
    n, hw = parent.numel(), d * h * w
    grid = (triton.cdiv(n, _BLOCK),)
    dims = (n, d, h, w, hw)
    volume = d > 1
    dev = parent.device
    unresolved = torch.zeros(1, dtype=torch.int32, device=dev)
    root = parent.reshape(-1)
    sizes = torch.zeros(n, dtype=torch.int64, device=dev)
    _sizes_kernel[grid](root, sizes, n, BLOCK=_BLOCK)
    level, key = torch.empty_like(root), torch.empty_like(root)
    active = torch.zeros(SCAN_DEPTH + 1, dtype=torch.int32, device=dev)
    for depth in range(SCAN_DEPTH + 1):
        _scan_level_kernel[grid](
            root, sizes, min_size, level, key, active, depth, *dims,
            START=depth == 0, VOLUME=volume, BLOCK=_BLOCK,
        )  # fmt: skip
    last = torch.full((2, n), -1, dtype=torch.int64, device=dev)
    best = torch.full((n,), _INT64_MAX, dtype=torch.int64, device=dev)
    first_large = torch.full((n // hw,), _INT64_MAX, dtype=torch.int64, device=dev)
    for step in range(3):
        _scan_meet_kernel[grid](
            root, sizes, min_size, level, key, last, best, first_large, *dims,
            PASS=step, DEPTH=SCAN_DEPTH, VOLUME=volume, BLOCK=_BLOCK,
        )  # fmt: skip
    merged = torch.empty_like(root)
    _follow_kernel[grid](
        root, best, first_large, merged, unresolved, n, hw, 2**jumps, BLOCK=_BLOCK
    )  # fmt: skip
    return merged, unresolved[0] == 0


@_merge_small_op.register_fake
def _(parent, min_size, jumps):
    return parent.new_empty((parent.numel(),)), parent.new_empty((), dtype=torch.bool)


def merge_small(parent: Tensor, min_size: Tensor, jumps: int) -> tuple[Tensor, Tensor]:
    """The Triton version of ``connectivity._merge_small``: scikit-image's merging.

    Args:
        parent: ``[B, *S]`` int64 component slots (flat indices into the batch); S:
            ``(H, W)``, or ``(D, H, W)`` with 6-connectivity.
        min_size: ``[B]`` int64 minimum component size per image.
        jumps: the reference's pointer doublings of the merge forest.

    Returns:
        ``(group id per pixel [N] int64, whether every merge chain was resolved)``.
    """
    return _merge_small_op(parent.contiguous(), min_size.contiguous(), jumps)
