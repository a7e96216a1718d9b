"""The Triton component-labelling rounds equal the torch-ops rounds exactly.

The hook is an integer atomic_min: its result does not depend on the order in which
programs run, so the interpreter (programs one after another) checks what a GPU computes;
each round's jumps are separate kernels (global steps), as in the reference."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from hsmix_torch.kernels import triton_available
from hsmix_torch.superpixels import connectivity as C

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.parametrize(
    "shape,k",
    [((2, 48, 64), 5), ((1, 37, 53), 3), ((2, 16, 16), 1), ((2, 5, 9, 11), 4), ((1, 1, 7, 6), 3)],
    ids=["image", "odd", "one-label", "volume", "depth-one-volume"],
)
@pytest.mark.parametrize("rounds", [1, 3, 16])
def test_rounds_equal_the_torch_ops_rounds(shape, k, rounds) -> None:
    from hsmix_torch.kernels.connectivity import cc_rounds

    g = torch.Generator(device=DEVICE).manual_seed(k)
    labels = torch.randint(0, k, shape, generator=g, device=DEVICE)  # many small pieces
    parent = torch.arange(labels.numel(), device=DEVICE).view(shape)
    ref = C._run_rounds(parent, C._equal_edges(labels), rounds)
    assert torch.equal(cc_rounds(parent, labels, rounds), ref)


@pytest.mark.parametrize("volume", [False, True], ids=["image", "volume"])
def test_enforce_connectivity_gives_the_same_superpixels(volume) -> None:
    g = torch.Generator(device=DEVICE).manual_seed(0)
    labels = torch.randint(0, 6, (2, 8, 10), generator=g, device=DEVICE)
    labels = labels.repeat_interleave(4, 1).repeat_interleave(4, 2)  # blocks and fragments
    if volume:  # slices shifted by one column: joined across depth, fragments at the edges
        labels = torch.stack([labels.roll(z, 2) for z in range(3)], 1)
    min_size = torch.tensor([20, 40], device=DEVICE)
    for sync_free in (True, False):
        ref = C.enforce_connectivity(labels, min_size, sync_free=sync_free)
        out = C.enforce_connectivity(labels, min_size, sync_free=sync_free, kernels="triton")
        assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])


def _pieces(case: str) -> tuple[Tensor, Tensor]:
    """``(labels, min_size)``: random blocks (many small pieces, some joined only through
    the depth neighbours in the volume), or a piece deeper than SCAN_DEPTH."""
    g = torch.Generator(device=DEVICE).manual_seed(len(case))
    if case == "volume":
        labels = torch.randint(0, 4, (2, 4, 5, 6), generator=g, device=DEVICE)
        labels = labels.repeat_interleave(2, 2).repeat_interleave(2, 3)
    elif case == "image":
        labels = torch.randint(0, 5, (2, 9, 11), generator=g, device=DEVICE)
        labels = labels.repeat_interleave(3, 1).repeat_interleave(2, 2)
    else:  # four earlier pieces along a row, then a small 40-pixel row below them
        top = torch.arange(4, device=DEVICE).repeat_interleave(10)
        labels = torch.stack([top, torch.full_like(top, 4), torch.full_like(top, 5)])[None]
        return labels, torch.tensor([45], device=DEVICE)
    return labels, torch.tensor([7, 30], device=DEVICE)


@pytest.mark.parametrize("jumps", [0, 1, 12])
@pytest.mark.parametrize("case", ["image", "volume", "deep"])
def test_merging_equals_the_torch_ops_merging(jumps, case) -> None:
    """scikit-image's scan (levels, the order within a level, beyond SCAN_DEPTH the
    straight-line order), the last meeting per small piece, the merge chains followed as
    far as ``jumps`` doublings reach (0 and 1 leave some unresolved) and the pixel-0 corner
    case."""
    from hsmix_torch.kernels.connectivity import merge_small

    labels, min_size = _pieces(case)
    parent = torch.arange(labels.numel(), device=DEVICE).view(labels.shape)
    parent = C._run_rounds(parent, C._equal_edges(labels), 24)
    ref_root, ref_ok = C._merge_small(parent, min_size, jumps)
    root, ok = merge_small(parent, min_size, jumps)
    assert torch.equal(root, ref_root) and bool(ok) == bool(ref_ok)
    assert (root != parent.reshape(-1)).any()
    if jumps == 12:
        assert bool(ok)


def test_a_long_merge_chain_is_followed_or_reported() -> None:
    """A staircase of single pixels, each smaller than min_size and adjacent only to the one
    before it: a chain of merges as long as the image; 2 doublings cannot resolve it."""
    from hsmix_torch.kernels.connectivity import merge_small

    labels = torch.arange(12, device=DEVICE).view(1, 1, 12)
    parent = labels.clone()
    min_size = torch.tensor([2], device=DEVICE)
    for jumps in (2, 4):
        ref = C._merge_small(parent, min_size, jumps)
        out = merge_small(parent, min_size, jumps)
        assert torch.equal(out[0], ref[0]) and bool(out[1]) == bool(ref[1]) == (jumps == 4)
