"""The Triton component-labelling rounds equal the torch-ops rounds exactly.

The hook is an integer atomic_min: its result does not depend on the order in which
programs run, so the interpreter (programs one after another) checks what a GPU computes;
each round's jumps are separate kernels (global steps), as in the reference."""

from __future__ import annotations

import pytest
import torch

from hsmix_torch.kernels import triton_available
from hsmix_torch.superpixels import connectivity as C

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.parametrize("shape,k", [((2, 48, 64), 5), ((1, 37, 53), 3), ((2, 16, 16), 1)])
@pytest.mark.parametrize("rounds", [1, 3, 16])
def test_rounds_equal_the_torch_ops_rounds(shape, k, rounds) -> None:
    from hsmix_torch.kernels.connectivity import cc_rounds

    g = torch.Generator(device=DEVICE).manual_seed(k)
    labels = torch.randint(0, k, shape, generator=g, device=DEVICE)  # many small pieces
    parent = torch.arange(labels.numel(), device=DEVICE).view(shape)
    ref = C._run_rounds(parent, *C._equal_edges(labels), rounds)
    assert torch.equal(cc_rounds(parent, labels, rounds), ref)


def test_enforce_connectivity_gives_the_same_superpixels() -> None:
    g = torch.Generator(device=DEVICE).manual_seed(0)
    labels = torch.randint(0, 6, (2, 8, 10), generator=g, device=DEVICE)
    labels = labels.repeat_interleave(4, 1).repeat_interleave(4, 2)  # blocks and fragments
    feats = torch.rand(2, 32, 40, 3, generator=g, device=DEVICE)
    min_size = torch.tensor([20, 40], device=DEVICE)
    for sync_free in (True, False):
        ref = C.enforce_connectivity(labels, feats, min_size, sync_free=sync_free)
        out = C.enforce_connectivity(labels, feats, min_size, sync_free=sync_free, kernels="triton")
        assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])


@pytest.mark.parametrize("earlier_only", [True, False])
def test_merge_keys_equal_the_torch_ops_search(earlier_only) -> None:
    """The merge's neighbour search: float64 scores rounded to float32 and packed with the
    slot, the smallest key per source slot (an integer atomic_min)."""
    from hsmix_torch.kernels.connectivity import merge_keys

    g = torch.Generator(device=DEVICE).manual_seed(1)
    labels = torch.randint(0, 4, (2, 6, 8), generator=g, device=DEVICE)
    labels = labels.repeat_interleave(3, 1).repeat_interleave(3, 2)
    eh, ev = C._equal_edges(labels)
    parent = torch.arange(labels.numel(), device=DEVICE).view(labels.shape)
    root = C._run_rounds(parent, eh, ev, 16)
    n = root.numel()
    means = torch.rand(n, 3, generator=g, device=DEVICE, dtype=torch.float64)
    means[::7] = means[1::7]  # equal scores: ties go to the smaller slot
    source = torch.rand(n, generator=g, device=DEVICE) < 0.5
    target = torch.rand(n, generator=g, device=DEVICE) < 0.7
    ref = C._merge_keys_torch(root, means, source, target, earlier_only)
    out = merge_keys(root, means, source, target, earlier_only)
    assert torch.equal(out, ref) and (ref != torch.iinfo(torch.int64).max).any()
