"""Connected superpixels on the device: component labelling, small-piece merging, relabelling.

All steps are batched over ``[B, H, W]`` (or ``[B, D, H, W]``: face neighbours along every
spatial axis) with fixed-size scatter/gather ops and no boolean
indexing, so nothing synchronises with the host except the one convergence check per call
(skipped in ``sync_free`` mode, which runs a fixed, larger number of rounds instead).
Sums use integer atomics, so results are identical run to run on CUDA.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor

from ..functional import fixed_point_sums
from ..kernels import choose

__all__ = ["enforce_connectivity", "relabel_contiguous"]

_INT64_MAX = torch.iinfo(torch.int64).max


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


def _neighbour_pairs(root: Tensor) -> list[tuple[Tensor, Tensor]]:
    """(root of p, root of q) over all face-neighbour pairs, both directions, flattened; per
    axis (last first, as in the Triton kernels' order): (lower, upper), (upper, lower)."""
    pairs = []
    for a in reversed(range(root.ndim - 1)):
        lo, hi = (t.reshape(-1) for t in _pairs(root, a))
        pairs += [(lo, hi), (hi, lo)]
    return pairs


def _merge_keys_torch(
    root: Tensor, means: Tensor, source: Tensor, target: Tensor, earlier_only: bool
) -> Tensor:
    """For each source slot, the smallest ``score bits << 32 | slot`` over its adjacent
    components that may be chosen (score: squared distance of the mean features), else
    ``INT64_MAX``. ``root`` ``[B, *S]`` flat slots, ``means`` ``[N, F]`` float64."""
    voxels = root[0].numel()
    best = torch.full((root.numel(),), _INT64_MAX, dtype=torch.long, device=root.device)
    for rp, rq in _neighbour_pairs(root):
        ok = (rp != rq) & source[rp] & target[rq]
        if earlier_only:
            ok &= rq < rp
        score = ((means[rp] - means[rq]) ** 2).sum(-1).float()  # >= 0: orders like its bits
        key = (score.view(torch.int32).long() << 32) | (rq % voxels)
        best.scatter_reduce_(0, rp, torch.where(ok, key, _INT64_MAX), "amin")
    return best


def _pick_targets(
    root: Tensor,
    features: Tensor,
    sizes: Tensor,
    eligible_source: Tensor,
    eligible_target: Tensor,
    earlier_only: bool,
) -> Tensor:
    """For each eligible component, its adjacent component with the closest mean features.

    Returns ``[N]`` int64: the chosen root per root slot, or the slot itself when nothing is
    chosen. Ties go to the smaller root.
    """
    n = root.numel()
    voxels = root[0].numel()
    sums, _ = fixed_point_sums(features.reshape(1, n, -1), root.reshape(1, n), n)
    means = sums[0] / sizes.clamp(min=1)[:, None]
    best = _merge_keys_torch(root, means, eligible_source, eligible_target, earlier_only)
    slots = torch.arange(n, device=root.device)
    chosen = (best & 0xFFFFFFFF) + (slots // voxels) * voxels
    return torch.where(best != _INT64_MAX, chosen, slots)


def relabel_contiguous(root: Tensor) -> tuple[Tensor, Tensor]:
    """Number the groups of ``root`` (``[B, *S]`` flat-index group ids) ``0..K_b-1`` per
    image, in raster order of each group's first pixel. Returns ``(labels, K [B])``."""
    b = root.shape[0]
    n = root.numel()
    flat = root.reshape(-1)
    pixels = torch.arange(n, device=root.device)
    first = torch.full((n,), _INT64_MAX, dtype=torch.long, device=root.device)
    first.scatter_reduce_(0, flat, pixels, "amin")
    rep = first[flat]  # first pixel of each pixel's group
    is_first = (rep == pixels).view(b, -1)
    rank = is_first.long().cumsum(1).view(-1) - 1
    return rank[rep].view(root.shape), is_first.sum(1)


def _implementations(
    labels: Tensor, edges: Callable[[], list[Tensor]], kernels: str
) -> tuple[Callable[..., Tensor], Callable[..., tuple[Tensor, Tensor]]]:
    """``(run_rounds(parent, rounds), merge_small(parent, features, min_size, jumps))`` in
    the implementation that ``kernels`` picks (see :mod:`hsmix_torch.kernels`)."""

    def torch_rounds(parent: Tensor, rounds: int) -> Tensor:
        return _run_rounds(parent, edges(), rounds)

    def load_rounds() -> Callable[..., Tensor]:
        from ..kernels.connectivity import cc_rounds

        return lambda parent, rounds: cc_rounds(parent, labels, rounds)

    def load_merge() -> Callable[..., tuple[Tensor, Tensor]]:
        from ..kernels.connectivity import merge_small

        return merge_small

    return (
        choose("cc_rounds", kernels, labels.device, torch_rounds, load_rounds),
        choose("merge_small", kernels, labels.device, _merge_small, load_merge),
    )


def enforce_connectivity(
    labels: Tensor,
    features: Tensor,
    min_size: Tensor,
    rounds: int = 8,
    sync_free: bool = False,
    kernels: str = "torch",
) -> tuple[Tensor, Tensor]:
    """Make every superpixel one face-connected region (4-connected in 2-D, 6-connected in
    3-D) with at least ``min_size`` pixels.

    Components smaller than ``min_size`` merge into the adjacent component whose first pixel
    comes earlier in raster order (scikit-image's candidate set), choosing the one with the
    closest mean features (scikit-image takes the last one its search met). A second pass
    merges what is still small (only possible for the component at pixel 0) into its closest
    adjacent large component.

    Args:
        labels: ``[B, *S]`` raw integer labels (S: ``(H, W)`` or ``(D, H, W)``).
        features: ``[B, *S, F]`` float features for the merge score.
        min_size: ``[B]`` int64 minimum size per image.
        rounds: component-labelling rounds before the single convergence check (4 more
            at a time, rarely, until it passes).
        sync_free: run ``2 * rounds`` rounds and 12 merge jumps and skip the check: no host
            synchronisation (enough for superpixels; a serpentine component longer than that
            could stay split).
        kernels: the labelling rounds and the merging in Triton or torch ops (the same
            result).

    Returns:
        ``(labels [B, *S] int64 contiguous per image in raster order, K [B] int64)``.
    """
    n = labels.numel()
    # The equal-label edge maps, made only where used (not by the sync-free Triton path).
    edges = functools.cache(lambda: _equal_edges(labels))
    run_rounds, merge_small = _implementations(labels, edges, kernels)
    parent = torch.arange(n, device=labels.device).view(labels.shape)
    parent = run_rounds(parent, 2 * rounds if sync_free else rounds)
    jumps = 12 if sync_free else 6
    while True:
        root, merged_ok = merge_small(parent, features, min_size, jumps)
        # The one host synchronisation: were the components and the merge chains resolved?
        if sync_free or bool(_cc_converged(parent, edges()) & merged_ok):
            break
        parent = run_rounds(parent, 4)
        jumps += 4
    return relabel_contiguous(root.view(labels.shape))


def _merge_small(
    parent: Tensor, features: Tensor, min_size: Tensor, jumps: int
) -> tuple[Tensor, Tensor]:
    """Both merge passes over the components ``parent`` ``[B, *S]`` (flat slots), with
    ``features`` ``[B, *S, F]`` and ``min_size`` ``[B]``; returns the final group id per
    pixel ``[N]`` and whether ``jumps`` pointer doublings resolved the first pass's merges."""
    b = parent.shape[0]
    n = parent.numel()
    slot_min = min_size[:, None].expand(b, n // b).reshape(-1)  # min size of each slot's image
    root = parent.reshape(-1)
    ones = torch.ones_like(root)
    everyone = torch.ones(n, dtype=torch.bool, device=root.device)

    sizes = torch.zeros(n, dtype=torch.long, device=root.device).index_add_(0, root, ones)
    small = sizes < slot_min
    target = _pick_targets(root.view(parent.shape), features, sizes, small, everyone, True)
    # Targets point to strictly earlier roots, so the merges form a forest: jump to its roots.
    for _ in range(jumps):
        target = target[target]
    resolved = (target == target[target]).all()
    root = target[root]

    sizes = torch.zeros(n, dtype=torch.long, device=root.device).index_add_(0, root, ones)
    small = (sizes < slot_min) & (sizes > 0)
    target = _pick_targets(root.view(parent.shape), features, sizes, small, ~small, False)
    return target[root], resolved
