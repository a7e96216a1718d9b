"""Connected superpixels on the device: component labelling, small-piece merging, relabelling.

All steps are batched over ``[B, H, W]`` (or ``[B, D, H, W]``: face neighbours along every
spatial axis) with fixed-size scatter/gather ops and no boolean
indexing, so nothing synchronises with the host except the one convergence check per call
(skipped in ``sync_free`` mode, which runs a fixed, larger number of rounds instead).
Sums use integer atomics, so results are identical run to run on CUDA.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .._constants import INT64_MAX, SCAN_DEPTH
from ..kernels import choose

__all__ = ["enforce_connectivity", "relabel_contiguous"]


def _pairs(t: Tensor, axis: int) -> tuple[Tensor, Tensor]:
    """``t`` without its last and without its first entry along spatial ``axis`` (of
    ``[B, *S]``): the two ends of every neighbour pair along that axis."""
    n = t.shape[1 + axis]
    return t.narrow(1 + axis, 0, n - 1), t.narrow(1 + axis, 1, n - 1)


def _equal_edges(labels: Tensor) -> list[Tensor]:
    """Face-neighbour pairs with equal labels, per spatial axis (``[B, ..., S_a - 1, ...]``):
    4-connectivity in 2-D, 6-connectivity in 3-D."""
    return [torch.eq(*_pairs(labels, a)) for a in range(labels.ndim - 1)]


def _neighbour_min(parent: Tensor, edges: list[Tensor]) -> Tensor:
    """Each pixel's minimum over its own and its equal-label face neighbours' parents."""
    m = parent.clone()
    for a, e in enumerate(edges):
        lo, hi = _pairs(m, a)
        p_lo, p_hi = _pairs(parent, a)
        lo.copy_(torch.where(e, torch.minimum(lo, p_hi), lo))
        hi.copy_(torch.where(e, torch.minimum(hi, p_lo), hi))
    return m


def _cc_round(parent: Tensor, edges: list[Tensor]) -> Tensor:
    """One round of min-label propagation with hooking and two pointer jumps."""
    shape = parent.shape
    flat = parent.reshape(-1)
    m = _neighbour_min(parent, edges).reshape(-1)
    hooked = flat.scatter_reduce(0, flat, m, "amin")  # parent[parent[p]] <- min(., m[p])
    hooked = torch.minimum(hooked, m)
    hooked = hooked[hooked]
    return hooked[hooked].view(shape)


def _cc_converged(parent: Tensor, edges: list[Tensor]) -> Tensor:
    flat = parent.reshape(-1)
    stable = (flat == flat[flat]).all()
    for a, e in enumerate(edges):
        lo, hi = _pairs(parent, a)
        stable = stable & (~e | (lo == hi)).all()
    return stable


def _run_rounds(parent: Tensor, edges: list[Tensor], rounds: int) -> Tensor:
    for _ in range(rounds):
        parent = _cc_round(parent, edges)
    return parent


# scikit-image's scan, in parallel. Its merge of a small component takes the label of the
# last earlier neighbour met by the breadth-first search from the component's first voxel,
# which visits voxels by (steps from that voxel, then the smallest sequence of sides on a
# shortest path, sides in the order below). The sequence is an int64 in base 6 up to
# SCAN_DEPTH steps (6**24 < 2**63): exact for every component within SCAN_DEPTH steps of
# its first voxel. Voxels further away come after those, in the order the search would
# give them if nothing stood in the way (``_straight_order``).


def _sides(nd: int) -> list[tuple[int, int]]:
    """(spatial axis, +1 or -1) in scikit-image's neighbour order: x+1, x-1, y+1, y-1, z+1,
    z-1 (x the last axis)."""
    return [(a, s) for a in reversed(range(nd)) for s in (1, -1)]


def _towards(t: Tensor, axis: int, sign: int) -> tuple[Tensor, Tensor]:
    """``(t[p], t[p + sign along axis])`` over the voxels ``p`` that have that neighbour."""
    lo, hi = _pairs(t, axis)
    return (lo, hi) if sign > 0 else (hi, lo)


def _scan_order(root: Tensor, small: Tensor) -> tuple[Tensor, Tensor]:
    """``(level, key)`` ``[B, *S]`` int64 of each voxel of a small component: its steps from
    the component's first voxel and its visiting order within that level (see SCAN_DEPTH;
    beyond it, ``SCAN_DEPTH + 1`` plus the straight-line order). Other voxels: level -1."""
    voxels = torch.arange(root.numel(), device=root.device).view(root.shape)
    member = small[root]
    level = torch.where(member & (voxels == root), 0, -1)
    key = torch.zeros_like(root)
    for depth in range(1, SCAN_DEPTH + 1):
        best = torch.full_like(root, INT64_MAX)
        for i, (a, s) in enumerate(_sides(root.ndim - 1)):
            (lu, lv), (ku, _), (ru, rv), (_, bv) = (
                _towards(t, a, s) for t in (level, key, root, best)
            )
            step = (lu == depth - 1) & (lv < 0) & (ru == rv)  # u at the last level -> v
            bv.copy_(torch.where(step, torch.minimum(bv, ku * 6 + i), bv))
        reached = best != INT64_MAX
        if root.device.type == "cpu" and not bool(reached.any()):
            break  # nothing further on any level: stop (a free check on the host only)
        level = torch.where(reached, depth, level)
        key = torch.where(reached, best, key)
    further = member & (level < 0)
    steps, order = _straight_order(voxels, root)
    return (
        torch.where(further, SCAN_DEPTH + 1 + steps, level),
        torch.where(further, order, key),
    )


def _straight_order(voxels: Tensor, root: Tensor) -> tuple[Tensor, Tensor]:
    """``(level, order)`` the search would give each voxel if nothing stood between it and
    its component's first voxel ``root``: the city-block distance, and the order of the
    smallest sequence of sides (the x-run, then the y-run, then the z-run; a longer run of
    a smaller side comes first). ``voxels``, ``root``: ``[B, *S]`` flat indices."""
    h, w = root.shape[-2:]
    per_image = voxels[0].numel()
    v, r = voxels % per_image, root % per_image
    dx = v % w - r % w
    dy = (v // w) % h - (r // w) % h
    dz = v // (w * h) - r // (w * h)  # >= 0: the first voxel comes first in raster order
    order = torch.zeros_like(root)
    for d, extent in ((dx, w), (dy, h)):
        side = torch.where(d > 0, 0, torch.where(d < 0, 1, 2))  # +1, -1, no run
        order = (order * 3 + side) * extent + (extent - 1 - d.abs())
    return dx.abs() + dy.abs() + dz, order


def _scan_targets(root: Tensor, small: Tensor) -> Tensor:
    """For each small component, the earlier component (first voxel earlier in raster
    order) that scikit-image's search meets last. ``root`` ``[B, *S]``, ``small`` ``[N]``.
    Returns ``[N]`` int64: the chosen root per slot, or the slot itself when none."""
    level, key = _scan_order(root, small)
    n = root.numel()

    # The pairs are made again for each of the three passes, not kept: kept, they would
    # hold about 5 tensors per side at once (some 200 bytes a voxel in 3-D).
    def met():  # (source root, neighbour root, visit order of the meeting, met?) per side
        for i, (a, s) in enumerate(_sides(root.ndim - 1)):
            (ru, rq), (lu, _), (ku, _) = (_towards(t, a, s) for t in (root, level, key))
            ru, rq = ru.reshape(-1), rq.reshape(-1)
            yield ru, rq, lu.reshape(-1), ku.reshape(-1) * 6 + i, small[ru] & (rq < ru)

    # The last meeting: the deepest level first, then the latest in the level and side.
    last_level = torch.full((n,), -1, dtype=torch.long, device=root.device)
    for ru, _, lu, _, ok in met():
        last_level.scatter_reduce_(0, ru, torch.where(ok, lu, -1), "amax")
    last_key = torch.full_like(last_level, -1)
    for ru, _, lu, k, ok in met():
        last_key.scatter_reduce_(0, ru, torch.where(ok & (lu == last_level[ru]), k, -1), "amax")
    target = torch.full_like(last_level, -1)
    for ru, rq, lu, k, ok in met():
        last = ok & (lu == last_level[ru]) & (k == last_key[ru])  # one pair per component
        target.scatter_reduce_(0, ru, torch.where(last, rq, -1), "amax")
    return torch.where(target >= 0, target, torch.arange(n, device=root.device))


def relabel_contiguous(root: Tensor) -> tuple[Tensor, Tensor]:
    """Number the groups of ``root`` (``[B, *S]`` flat-index group ids) ``0..K_b-1`` per
    image, in raster order of each group's first pixel. Returns ``(labels, K [B])``."""
    b = root.shape[0]
    n = root.numel()
    flat = root.reshape(-1)
    pixels = torch.arange(n, device=root.device)
    first = torch.full((n,), INT64_MAX, dtype=torch.long, device=root.device)
    first.scatter_reduce_(0, flat, pixels, "amin")
    rep = first[flat]  # first pixel of each pixel's group
    is_first = (rep == pixels).view(b, -1)
    rank = is_first.long().cumsum(1).view(-1) - 1
    return rank[rep].view(root.shape), is_first.sum(1)


def _torch_connectivity(
    labels: Tensor, min_size: Tensor, jumps: int, rounds: int, sync_free: bool
) -> tuple[Tensor, Tensor, Tensor]:
    """The connectivity step in torch ops: ``(labels, K, resolved)`` after labelling
    ``rounds`` rounds (more until stable, unless ``sync_free``) and ``jumps`` merge jumps."""
    edges = _equal_edges(labels)
    parent = torch.arange(labels.numel(), device=labels.device).view(labels.shape)
    parent = _run_rounds(parent, edges, rounds)
    if not sync_free:  # the one host synchronisation: are the components stable?
        while not bool(_cc_converged(parent, edges)):
            parent = _run_rounds(parent, edges, 4)
    root, resolved = _merge_small(parent, min_size, jumps)
    return (*relabel_contiguous(root.view(labels.shape)), resolved)


def enforce_connectivity(
    labels: Tensor,
    min_size: Tensor,
    rounds: int = 8,
    sync_free: bool = False,
    kernels: str = "torch",
) -> tuple[Tensor, Tensor]:
    """Make every superpixel one face-connected region (4-connected in 2-D, 6-connected in
    3-D) with at least ``min_size`` pixels.

    Components smaller than ``min_size`` merge as scikit-image's scan merges them: into the
    adjacent component, among those whose first pixel comes earlier in raster order, that
    the breadth-first search from the small component's first pixel meets last (exact for
    components within ``SCAN_DEPTH`` steps of their first pixel; further pixels are ordered
    as if the way to them were straight). When the component at pixel 0 is small (it has
    no earlier neighbour), it and everything merged into it join the first large component
    of the scan, as in scikit-image. Unlike scikit-image, no component is cut at
    ``max_size`` (a cap on its search queue, rarely reached).

    Args:
        labels: ``[B, *S]`` raw integer labels (S: ``(H, W)`` or ``(D, H, W)``).
        min_size: ``[B]`` int64 minimum size per image.
        rounds: the torch ops' component-labelling rounds before the convergence check (4
            more at a time, rarely, until it passes).
        sync_free: no host synchronisation: the torch ops run ``2 * rounds`` labelling
            rounds (enough for superpixels; a serpentine component longer than that could
            stay split) and follow merge chains of up to ``2**12`` merges.
        kernels: ``"torch"``, ``"triton"`` or ``"auto"`` (see :mod:`hsmix_torch.kernels`).
            The Triton kernels are exact in any mode (union-find components, merge chains
            followed to their ends) and never synchronise; where the torch ops converge,
            both give the same labels.

    Returns:
        ``(labels [B, *S] int64 contiguous per image in raster order, K [B] int64)``.
    """

    def reference(labels: Tensor, min_size: Tensor) -> tuple[Tensor, Tensor]:
        jumps = 12 if sync_free else 6
        out, count, resolved = _torch_connectivity(
            labels, min_size, jumps, rounds * (1 + sync_free), sync_free
        )
        # Unless sync-free: were the merge chains followed to their ends? (A host read.)
        while not sync_free and not bool(resolved):
            jumps += 4
            out, count, resolved = _torch_connectivity(labels, min_size, jumps, rounds, False)
        return out, count

    def load() -> Callable[..., tuple[Tensor, Tensor]]:
        from ..kernels.connectivity import connected_labels

        return connected_labels

    return choose("connectivity", kernels, labels.device, reference, load)(labels, min_size)


def _merge_small(parent: Tensor, min_size: Tensor, jumps: int) -> tuple[Tensor, Tensor]:
    """scikit-image's merging of the components ``parent`` ``[B, *S]`` (flat slots) smaller
    than ``min_size`` ``[B]``; returns the final group id per pixel ``[N]`` and whether
    ``jumps`` pointer doublings resolved the merge chains."""
    b = parent.shape[0]
    n = parent.numel()
    voxels = n // b
    root = parent.reshape(-1)
    sizes = torch.zeros(n, dtype=torch.long, device=root.device).index_add_(
        0, root, torch.ones_like(root)
    )
    small = sizes < min_size.repeat_interleave(voxels)
    target = _scan_targets(root.view(parent.shape), small)
    # Targets point to strictly earlier roots, so the merges form a forest: jump to its roots.
    for _ in range(jumps):
        target = target[target]
    resolved = (target == target[target]).all()
    root = target[root]

    # The corner case: the component at pixel 0 has no earlier neighbour. When it is small,
    # scikit-image gives it, and every component the scan meets before the first large one
    # (by now all merged into it), the label of that first large component.
    slots = torch.arange(n, device=root.device)
    image = slots // voxels
    first_large = torch.full((b,), INT64_MAX, dtype=torch.long, device=root.device)
    first_large.scatter_reduce_(0, image, torch.where(small, INT64_MAX, slots), "amin")
    joins = (root == image * voxels) & (first_large[image] != INT64_MAX)
    return torch.where(joins, first_large[image], root), resolved
