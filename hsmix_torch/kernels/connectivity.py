"""The connectivity step of the torch SLIC as Triton kernels: components, merging, labels.

Reference (torch ops, which this equals exactly): ``enforce_connectivity`` in
``hsmix_torch.superpixels.connectivity`` with converged components (its labelling rounds
run until they are stable, as without ``sync_free``): the components of equal labels
(face neighbours: 4 in 2-D, 6 in 3-D; an image is a volume of depth 1, the depth neighbours
compiled in only for volumes), small pieces merged as scikit-image's scan merges them, and
the groups numbered in raster order.

Components: union-find, in :mod:`.union_find`.

Merging small pieces, scikit-image's scan as the reference does it: the breadth-first
levels as ``SCAN_DEPTH`` in-place kernels (a level only writes voxels still unreached and
only reads the level before, so programs never race; a level whose predecessor reached
nothing returns at once; the first also seeds level 0); three kernels that find each small
component's last meeting with an earlier component (``atomic_max`` of its level, then of its
order; then the one meeting that equals both writes the choice) and each image's first large
component (``atomic_min``); each voxel then follows its component's merge chain to its end
and marks its group's first voxel; a cumulative sum numbers the groups; the last kernel
writes the labels.

Programs work on rows (``[B * D * H]`` rows of W voxels, blocks of them), so coordinates
come from the program, not from divisions per voxel; indices are 32-bit; every grid is 1-D
(rows times blocks on CUDA's first axis, which takes 2**31 - 1 programs).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from .._constants import SCAN_DEPTH
from ._common import check_32bit, flat_grid
from .union_find import _BIG, _compress_kernel, _face, _root, _row, _runs_kernel, _union_kernel

__all__ = ["connected_labels"]

_BLOCK = 256  # voxels of a row per program


# ------------------------------------------------------------------------------- merging
@triton.jit
def _small(sizes_ptr, min_ptr, slot, HW, mask):
    """Whether component slots ``slot`` are smaller than the minimum size of their image
    (slots that are no component's: size 0)."""
    size = tl.load(sizes_ptr + slot, mask=mask, other=0)
    return size < tl.load(min_ptr + slot // HW, mask=mask, other=0)


@triton.jit(do_not_specialize=["depth"])
def _scan_level_kernel(
    parent_ptr,  # [N] int32: flat trees (root + 1, 0 for roots)
    sizes_ptr,  # [N] int32
    min_ptr,  # [B] int32
    links_ptr,  # [N] int8: bit s: the face neighbour on side s is in the same component
    level_ptr,  # [N] int8: steps from the small component's first voxel; -1 not yet, -2 large
    key_ptr,  # [N] int64: the visiting order within the level
    state_ptr,  # [DEPTH + 2 + B] int32: whether level d reached any voxel, ...
    depth,
    D,
    H,
    W,
    BLOCKS,
    HW,
    FIRST: tl.constexpr,  # depth 1
    VOLUME: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """One level of the reference's ``_scan_order``, in place: a voxel joins level ``depth``
    from a neighbour of its component on level ``depth - 1`` (only voxels still at -1 are
    written, and only voxels at ``depth - 1`` are read, so programs do not race). The first
    level also writes level 0 (each small component's first voxel), -1 (its other voxels),
    -2 (voxels of large components) and the links, so later levels read bytes only."""
    row, x, inside = _row(W, BLOCKS, BLOCK)
    p = row * W + x
    # Level 1 seeds level 0; a later level runs only where the level before reached a voxel
    # (most levels of a batch reach none: they return at once, reading nothing).
    if FIRST:
        rp = _root(parent_ptr, p, inside)
        member = inside & _small(sizes_ptr, min_ptr, rp, HW, inside)
        links = tl.zeros([BLOCK], tl.int32)
        for side in tl.static_range(6 if VOLUME else 4):
            has, step = _face(row, x, side, D, H, W)
            ok = member & has
            links |= tl.where(ok & (_root(parent_ptr, p + step, ok) == rp), 1 << side, 0)
        tl.store(links_ptr + p, links.to(tl.int8), mask=inside)
        at_zero = member & (p == rp)
        level = tl.where(at_zero, 0, tl.where(member, -1, -2))
        tl.store(level_ptr + p, level.to(tl.int8), mask=inside)
        tl.store(key_ptr + p, tl.zeros([BLOCK], tl.int64), mask=inside)
        _reach(parent_ptr, level_ptr, key_ptr, state_ptr, row, x, p, member & ~at_zero, links,
               depth, D, H, W, FIRST, VOLUME, BLOCK)  # fmt: skip
    elif tl.load(state_ptr + depth - 1) != 0:
        todo = inside & (tl.load(level_ptr + p, mask=inside, other=-2) == -1)
        links = tl.load(links_ptr + p, mask=todo, other=0).to(tl.int32)
        _reach(parent_ptr, level_ptr, key_ptr, state_ptr, row, x, p, todo, links, depth, D, H,
               W, FIRST, VOLUME, BLOCK)  # fmt: skip


@triton.jit
def _reach(
    parent_ptr,
    level_ptr,
    key_ptr,
    state_ptr,
    row,
    x,
    p,
    todo,
    links,
    depth,
    D,
    H,
    W,
    FIRST: tl.constexpr,
    VOLUME: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """Voxels ``todo`` join level ``depth`` from a linked neighbour on the level before,
    with the smallest visiting order; the level's flag says whether any did."""
    best = tl.full([BLOCK], 0x7FFFFFFFFFFFFFFF, tl.int64)
    for side in tl.static_range(6 if VOLUME else 4):
        _, step = _face(row, x, side, D, H, W)
        ok = todo & ((links & (1 << side)) != 0)
        q = p + step
        if FIRST:  # level 0 (key 0): the neighbour is its component's first voxel
            ok = ok & (tl.load(parent_ptr + q, mask=ok, other=1) == 0)
            ku = tl.zeros([BLOCK], tl.int64)
        else:
            ok = ok & (tl.load(level_ptr + q, mask=ok, other=-2) == depth - 1)
            ku = tl.load(key_ptr + q, mask=ok, other=0)
        back = side + 1 - 2 * (side % 2)  # the side from that neighbour to this voxel
        best = tl.where(ok, tl.minimum(best, ku * 6 + back), best)
    reached = best != 0x7FFFFFFFFFFFFFFF
    tl.store(level_ptr + p, tl.full([BLOCK], 0, tl.int8) + depth, mask=reached)
    tl.store(key_ptr + p, best, mask=reached)
    tl.atomic_max(state_ptr + depth, tl.max(reached.to(tl.int32), axis=0), sem="relaxed")


@triton.jit
def _straight_order(row, x, rp, D, H, W, HW):
    """The reference's ``_straight_order`` of voxels ``(row, x)`` of components ``rp``."""
    r = rp % HW
    dx = x - r % W
    dy = (tl.zeros_like(x) + row % H) - (r // W) % H
    dz = (tl.zeros_like(x) + (row // H) % D) - r // (W * H)
    sx = tl.where(dx > 0, 0, tl.where(dx < 0, 1, 2)).to(tl.int64)
    sy = tl.where(dy > 0, 0, tl.where(dy < 0, 1, 2)).to(tl.int64)
    adx = tl.abs(dx).to(tl.int64)
    ady = tl.abs(dy).to(tl.int64)
    order = ((sx * W + (W - 1 - adx)) * 3 + sy) * H + (H - 1 - ady)
    return adx + ady + dz, order


@triton.jit
def _scan_meet_kernel(
    parent_ptr,
    sizes_ptr,
    min_ptr,
    level_ptr,  # [N] int8: the scan's levels
    key_ptr,  # [N] int64: the scan's orders within a level
    last_ptr,  # [2, N] int64: the last level, then the last order, met per source slot
    best_ptr,  # [N] int32: the chosen neighbour's slot in its image, per source slot
    state_ptr,  # [DEPTH + 2 + B] int32: ..., the first large component's slot per image
    N,
    D,
    H,
    W,
    BLOCKS,
    HW,
    PASS: tl.constexpr,  # 0: the last level; 1: the last order in it; 2: write the choice
    DEPTH: tl.constexpr,  # SCAN_DEPTH
    VOLUME: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """The reference's ``_scan_targets``: where a voxel of a small component meets an
    earlier component, the meeting's place in the scan is (level, order * 6 + side). The
    first pass also initialises the tables and finds each image's first large component
    (slots are voxels too)."""
    row, x, inside = _row(W, BLOCKS, BLOCK)
    p = row * W + x
    rp = _root(parent_ptr, p, inside)
    small_p = _small(sizes_ptr, min_ptr, rp, HW, inside)
    if PASS == 0:  # each image's first large component: one atomic per program
        large = inside & ~_small(sizes_ptr, min_ptr, p, HW, inside)
        first_large = tl.min(tl.where(large, p, _BIG), axis=0)
        image = row // (HW // W)
        tl.atomic_min(state_ptr + DEPTH + 2 + image, first_large, mask=first_large != _BIG,
                      sem="relaxed")  # fmt: skip
    source = inside & small_p
    level = tl.load(level_ptr + p, mask=source, other=0).to(tl.int64)  # -1: not reached
    key = tl.load(key_ptr + p, mask=source, other=0)
    further = level < 0  # beyond SCAN_DEPTH: after every level, in the straight-line order
    steps, order = _straight_order(row, x, rp, D, H, W, HW)
    level = tl.where(further, DEPTH + 1 + steps, level)
    key = tl.where(further, order, key)
    if PASS > 0:
        source = source & (level == tl.load(last_ptr + rp, mask=source, other=-1))
    if PASS > 1:
        last_key = tl.load(last_ptr + N + rp, mask=source, other=-1)
    for side in tl.static_range(6 if VOLUME else 4):
        has, step = _face(row, x, side, D, H, W)
        ok = source & has
        rq = _root(parent_ptr, p + step, ok)
        ok = ok & (rq < rp)  # an earlier component: the merges form a forest
        if PASS == 0:
            tl.atomic_max(last_ptr + rp, level, mask=ok, sem="relaxed")
        elif PASS == 1:
            tl.atomic_max(last_ptr + N + rp, key * 6 + side, mask=ok, sem="relaxed")
        else:  # the one meeting per component that is last
            tl.store(best_ptr + rp, rq % HW, mask=ok & (key * 6 + side == last_key))


@triton.jit
def _chosen(best_ptr, slot, HW, mask):
    """The slot a component merges into (itself when its search found nothing)."""
    best = tl.load(best_ptr + slot, mask=mask, other=_BIG)
    return tl.where(best != _BIG, best + (slot // HW) * HW, slot)


@triton.jit
def _follow_kernel(
    parent_ptr,
    best_ptr,  # [N] int32: each small component's choice (its slot in the image)
    state_ptr,  # [DEPTH + 2 + B] int32: ..., the first large component per image
    group_ptr,  # [N] int32 out: each voxel's group after the merges
    first_ptr,  # [N] int32 out: 1 at each group's first voxel
    W,
    BLOCKS,
    HW,
    DEPTH: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """Each voxel follows its component's merge chain to its end (chains lead to earlier
    components: they end); then the reference's corner case: the group at voxel 0 of an
    image joins the image's first large component."""
    row, x, inside = _row(W, BLOCKS, BLOCK)
    p = row * W + x
    t = _chosen(best_ptr, _root(parent_ptr, p, inside), HW, inside)
    nxt = _chosen(best_ptr, t, HW, inside)
    while tl.max((nxt != t).to(tl.int32), axis=0) > 0:
        t = nxt
        nxt = _chosen(best_ptr, t, HW, inside)
    image = row // (HW // W)
    first_large = tl.load(state_ptr + DEPTH + 2 + image)
    joins = (t == image * HW) & (first_large != _BIG)
    group = tl.where(joins, first_large, t)
    tl.store(group_ptr + p, group, mask=inside)
    # A group's first voxel: its root's, but voxel 0 for the group voxel 0 joined.
    first = (p == image * HW) | ((group == p) & (p != first_large))
    tl.store(first_ptr + p, first.to(tl.int32), mask=inside)


@triton.jit
def _relabel_kernel(
    group_ptr,
    rank_ptr,  # [N] int32: per image, the running count of groups' first voxels
    state_ptr,
    out_ptr,  # [N] int64 out: the labels
    count_ptr,  # [B] int64 out: K
    W,
    BLOCKS,
    HW,
    DEPTH: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """Labels ``0..K-1`` per image in raster order of the groups' first voxels, and K."""
    row, x, inside = _row(W, BLOCKS, BLOCK)
    p = row * W + x
    image = row // (HW // W)
    group = tl.load(group_ptr + p, mask=inside, other=0)
    first_large = tl.load(state_ptr + DEPTH + 2 + image)
    first = tl.where((group == first_large) & (first_large != _BIG), image * HW, group)
    rank = tl.load(rank_ptr + first, mask=inside, other=1)
    tl.store(out_ptr + p, (rank - 1).to(tl.int64), mask=inside)
    last = inside & (p == image * HW + HW - 1)
    total = tl.load(rank_ptr + p, mask=last, other=0)  # every first voxel of the image
    tl.store(count_ptr + image + tl.zeros_like(p), total.to(tl.int64), mask=last)


@torch.library.custom_op("hsmix_torch::connected_labels", mutates_args=())
def _connected_labels_op(labels: Tensor, min_size: Tensor) -> tuple[Tensor, Tensor]:
    b = labels.shape[0]
    d, h, w = (1, *labels.shape[1:]) if labels.ndim == 3 else labels.shape[1:]
    hw = d * h * w  # voxels per image
    n = labels.numel()
    dev = labels.device
    rows = b * d * h
    blocks = triton.cdiv(w, _BLOCK)  # per row: 1 (a constant to the compiler) up to W = 256
    grid = flat_grid(rows, blocks)
    volume = d > 1
    i32 = dict(dtype=torch.int32, device=dev)
    parent = torch.empty(n, **i32)
    sizes = torch.empty(n, **i32)
    state = torch.empty(SCAN_DEPTH + 2 + b, **i32)
    minimum = min_size.to(torch.int32)
    w_pad = triton.next_power_of_2(w)
    _runs_kernel[flat_grid(rows)](
        labels, parent, w, W_PAD=w_pad, num_warps=min(16, max(1, w_pad // 128))
    )
    _union_kernel[grid](labels, parent, sizes, state, d, h, w, blocks, VOLUME=volume,
                        DEPTH=SCAN_DEPTH, BLOCK=_BLOCK)  # fmt: skip
    last = torch.empty((2, n), dtype=torch.int64, device=dev)
    best = torch.empty(n, **i32)
    _compress_kernel[grid](parent, sizes, last, best, n, w, blocks, BLOCK=_BLOCK)
    links = torch.empty(n, dtype=torch.int8, device=dev)
    level = torch.empty(n, dtype=torch.int8, device=dev)
    key = torch.empty(n, dtype=torch.int64, device=dev)
    for depth in range(1, SCAN_DEPTH + 1):
        _scan_level_kernel[grid](
            parent, sizes, minimum, links, level, key, state, depth, d, h, w, blocks, hw,
            FIRST=depth == 1, VOLUME=volume, BLOCK=_BLOCK,
        )  # fmt: skip
    for step in range(3):
        _scan_meet_kernel[grid](
            parent, sizes, minimum, level, key, last, best, state, n, d, h, w, blocks, hw,
            PASS=step, DEPTH=SCAN_DEPTH, VOLUME=volume, BLOCK=_BLOCK,
        )  # fmt: skip
    group = torch.empty(n, **i32)
    first = torch.empty(n, **i32)
    _follow_kernel[grid](
        parent, best, state, group, first, w, blocks, hw, DEPTH=SCAN_DEPTH, BLOCK=_BLOCK
    )
    rank = torch.cumsum(first.view(b, hw), dim=1, dtype=torch.int32)
    out = torch.empty(labels.shape, dtype=torch.int64, device=dev)
    count = torch.empty(b, dtype=torch.int64, device=dev)
    _relabel_kernel[grid](
        group, rank, state, out, count, w, blocks, hw, DEPTH=SCAN_DEPTH, BLOCK=_BLOCK
    )
    return out, count


@_connected_labels_op.register_fake
def _(labels, min_size):
    return (
        torch.empty_like(labels, dtype=torch.int64),
        labels.new_empty(labels.shape[:1], dtype=torch.int64),
    )


def connected_labels(labels: Tensor, min_size: Tensor) -> tuple[Tensor, Tensor]:
    """The Triton connectivity step: components, scikit-image's merging, labels; exact
    (components and merge chains followed to their ends) with no host synchronisation.

    Args:
        labels: ``[B, *S]`` integer k-means labels (S: ``(H, W)``, or ``(D, H, W)`` with
            6-connectivity).
        min_size: ``[B]`` int64 the smallest piece kept per image.

    Returns:
        ``(labels [B, *S] int64 contiguous per image in raster order, K [B] int64)``.
    """
    check_32bit("connectivity step", f"labels of shape {tuple(labels.shape)}", labels.numel() * 2)
    return _connected_labels_op(labels.contiguous(), min_size.contiguous())
