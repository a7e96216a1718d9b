"""The components of the connectivity step as Triton kernels: union-find on rows of voxels.

Used by :mod:`.connectivity`, which equals the torch-ops reference as a whole.

Components by union-find, exact in three launches whatever the shapes: (1) per row, each
voxel's parent is the first voxel of its run of equal labels (a max scan); (2) every voxel
whose face neighbour below (and behind) has its label joins their trees: each lane follows
parent pointers to both roots and links the larger root under the smaller with a
compare-and-swap; where another lane linked that root first, the value the CAS returns is
the root's new parent and the lane climbs on from there (a plain load may be served from a
stale cache line on a GPU; the CAS's value is coherent, so every retry makes progress),
so every tree's root ends as its component's smallest voxel whatever the order of the
programs; (3) each voxel's parent becomes its root, and the sizes are counted (integer
``atomic_add``, one per run of voxels with the same root). Parents are stored plus one, 0
meaning a root, so no launch initialises them.

Programs work on rows (``[B * D * H]`` rows of W voxels, blocks of them), so coordinates
come from the program, not from divisions per voxel; indices are 32-bit; the grid is 1-D.
"""

from __future__ import annotations

import triton
import triton.language as tl

from ._common import run_bounds, run_shares, split_program

_BIG = tl.constexpr(0x7FFFFFFF)  # "none": above every voxel index


@triton.jit
def _row(W, BLOCKS, BLOCK: tl.constexpr):
    """``(row, x, inside)`` of this program: its row of the ``[B * D * H, W]`` layout and
    the block of columns it takes (a 1-D grid of rows times ``BLOCKS = cdiv(W, BLOCK)``
    programs; BLOCKS is an argument, so rows of one block compile without a division)."""
    row, block = split_program(BLOCKS)
    x = block * BLOCK + tl.arange(0, BLOCK)
    return row, x, x < W


@triton.jit
def _root(parent_ptr, p, mask):
    """The parent of voxels ``p`` once the trees are flat (after the compress kernel)."""
    v = tl.load(parent_ptr + p, mask=mask, other=0)
    return tl.where(v == 0, p, v - 1)


@triton.jit
def _face(row, x, side: tl.constexpr, D, H, W):
    """``(has, step)``: whether voxels at ``x`` of ``row`` have a face neighbour on ``side``
    (0-5: x+1, x-1, y+1, y-1, z+1, z-1, scikit-image's order), and the flat step to it."""
    if side == 0:
        has = x + 1 < W
        step = 1
    elif side == 1:
        has = x > 0
        step = -1
    elif side == 2:
        has = (tl.zeros_like(x) + row % H) + 1 < H
        step = W
    elif side == 3:
        has = (tl.zeros_like(x) + row % H) > 0
        step = -W
    elif side == 4:
        has = (tl.zeros_like(x) + (row // H) % D) + 1 < D
        step = W * H
    else:
        has = (tl.zeros_like(x) + (row // H) % D) > 0
        step = -(W * H)
    return has, step


@triton.jit
def _max(a, b):
    return tl.maximum(a, b)


@triton.jit
def _runs_kernel(labels_ptr, parent_ptr, W, W_PAD: tl.constexpr):
    """Per row: each voxel's parent is the first voxel of its run of equal labels."""
    row = tl.program_id(0)
    x = tl.arange(0, W_PAD)
    inside = x < W
    base = row * W
    label = tl.load(labels_ptr + base + x, mask=inside, other=0)
    before = tl.load(labels_ptr + base + x - 1, mask=inside & (x > 0), other=0)
    first = (x == 0) | (label != before)
    start = tl.associative_scan(tl.where(first, x, 0), 0, _max)
    tl.store(parent_ptr + base + x, tl.where(first, 0, base + start + 1), mask=inside)


@triton.jit
def _union_kernel(
    labels_ptr,
    parent_ptr,  # [N] int32: 0 for a root, else the parent + 1
    sizes_ptr,  # [N] int32 out: zeroed, for the compress kernel's counts
    state_ptr,  # [SCAN_DEPTH + 2 + B] int32 out: level flags zeroed, first large slots
    D,
    H,
    W,
    BLOCKS,
    VOLUME: tl.constexpr,
    DEPTH: tl.constexpr,
    BLOCK: tl.constexpr,
):
    row, x, inside = _row(W, BLOCKS, BLOCK)
    p = row * W + x
    label = tl.load(labels_ptr + p, mask=inside, other=0)
    tl.store(sizes_ptr + p, tl.zeros_like(p), mask=inside)
    if row == 0:  # the scan's level flags and the unresolved flag
        tl.store(state_ptr + x, tl.zeros_like(x), mask=x < DEPTH + 2)
    if row % (D * H) == 0:  # each image's first large component, none yet
        tl.store(
            state_ptr + DEPTH + 2 + row // (D * H) + x,
            tl.full([BLOCK], _BIG, tl.int32),
            mask=x == 0,
        )
    for side in tl.static_range(2, 6 if VOLUME else 4, 2):  # the neighbour below (behind)
        has, step = _face(row, x, side, D, H, W)
        todo = inside & has
        todo = todo & (tl.load(labels_ptr + p + step, mask=todo, other=0) == label)
        a = p
        b = p + step
        own = tl.where(inside, p, row * W)  # an address in bounds for lanes that do not link
        while tl.max(todo.to(tl.int32), axis=0) > 0:
            pa = tl.load(parent_ptr + a, mask=todo, other=0, cache_modifier=".cg")
            pb = tl.load(parent_ptr + b, mask=todo, other=0, cache_modifier=".cg")
            # One step up a tree per round (a first); at two roots, link or stop.
            up_a = todo & (pa != 0)
            up_b = todo & (pa == 0) & (pb != 0)
            a = tl.where(up_a, pa - 1, a)
            b = tl.where(up_b, pb - 1, b)
            roots = todo & (pa == 0) & (pb == 0)
            todo = todo & ~(roots & (a == b))
            link = roots & (a != b)
            hi = tl.maximum(a, b)
            # atomic_cas takes no mask: lanes that do not link compare their own slot (in
            # bounds) with -1, never a parent, which writes nothing.
            slot = tl.where(link, hi, own)
            old = tl.atomic_cas(
                parent_ptr + slot, tl.where(link, 0, -1), tl.minimum(a, b) + 1, sem="relaxed"
            )
            # Linked; or another lane linked hi first: climb on from its new parent.
            lost = link & (old != 0)
            a = tl.where(lost & (a == hi), old - 1, a)
            b = tl.where(lost & (b == hi), old - 1, b)
            todo = todo & ~(link & (old == 0))


@triton.jit
def _compress_kernel(
    parent_ptr,
    sizes_ptr,  # [N] int32: component sizes per root slot (zeroed by the union kernel)
    last_ptr,  # [2, N] int64 out: -1, for the meeting kernels
    best_ptr,  # [N] int32 out: none chosen yet
    N,
    W,
    BLOCKS,
    BLOCK: tl.constexpr,
):
    """Each voxel's parent becomes its root; the sizes are counted at the roots; the
    meeting kernels' tables start empty."""
    row, x, inside = _row(W, BLOCKS, BLOCK)
    p = row * W + x
    tl.store(last_ptr + p, tl.full([BLOCK], -1, tl.int64), mask=inside)
    tl.store(last_ptr + N + p, tl.full([BLOCK], -1, tl.int64), mask=inside)
    tl.store(best_ptr + p, tl.full([BLOCK], _BIG, tl.int32), mask=inside)
    r = p
    v = tl.load(parent_ptr + p, mask=inside, other=0)
    while tl.max((inside & (v != 0)).to(tl.int32), axis=0) > 0:
        r = tl.where(v != 0, v - 1, r)
        v = tl.load(parent_ptr + r, mask=inside & (v != 0), other=0)
    tl.store(parent_ptr + p, tl.where(r == p, 0, r + 1), mask=inside)
    first, last = run_bounds(tl.where(inside, r, -1))
    count = run_shares(first, last, tl.full([BLOCK], 1, tl.int32))
    tl.atomic_add(sizes_ptr + r, count, mask=inside & (first | last), sem="relaxed")
