"""The Triton connectivity step equals the torch ops' converged result exactly: the
components (union-find: roots are each component's smallest voxel whatever the order of the
programs), scikit-image's merging of small pieces (the scan's levels, the order within a
level, beyond SCAN_DEPTH the straight-line order, the last meeting, the pixel-0 corner case),
merge chains followed to their ends, and the labels numbered in raster order.

The interpreter runs programs one after another; the union's compare-and-swap retries and
the relaxed atomics are order-free by construction (a root only ever links under a smaller
root, and a lane that lost a link climbs on from the value its compare-and-swap returned),
which the lane order within a program exercises here (two lanes linking the same root in
one step is the common case of the images below) and ``test_adversarial.py`` exercises
with programs interleaved at every memory operation."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from hsmix_torch._constants import SCAN_DEPTH
from hsmix_torch.kernels import triton_available
from hsmix_torch.superpixels import connectivity as C

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _check(labels: Tensor, min_size: Tensor) -> tuple[Tensor, Tensor]:
    from hsmix_torch.kernels.connectivity import connected_labels

    ref = C.enforce_connectivity(labels, min_size)  # torch ops, run until converged
    out = connected_labels(labels, min_size)
    assert out[0].dtype == torch.int64 and torch.equal(out[0], ref[0])
    assert torch.equal(out[1], ref[1])
    return out


def _blocks(shape: tuple[int, ...], k: int, repeat: int, seed: int) -> Tensor:
    g = torch.Generator(device=DEVICE).manual_seed(seed)
    labels = torch.randint(0, k, shape, generator=g, device=DEVICE)
    for axis in range(1, len(shape)):
        labels = labels.repeat_interleave(repeat, axis)
    return labels


@pytest.mark.parametrize(
    "labels,min_size",
    [
        (_blocks((2, 8, 10), 6, 4, 0), [20, 40]),  # blocks and fragments
        (_blocks((2, 9, 11), 5, 2, 1), [7, 30]),
        (_blocks((2, 4, 5, 6), 4, 2, 2), [7, 30]),  # a volume: pieces joined through depth
        (_blocks((1, 1, 7, 6), 3, 1, 3), [3]),  # a volume of depth one
        (_blocks((2, 37, 53), 3, 1, 4), [5, 9]),  # noise: thousands of small pieces
        (_blocks((2, 16, 16), 1, 1, 5), [4, 4]),  # one label
    ],
    ids=["blocks", "image", "volume", "depth-one", "noise", "one-label"],
)
def test_equals_the_converged_torch_ops(labels, min_size) -> None:
    _check(labels, torch.tensor(min_size, device=DEVICE))


def test_serpentine_is_one_component_and_chains_are_followed_to_their_ends() -> None:
    """A single label winding through the image (many labelling rounds for the torch ops;
    one union-find for the kernels), a staircase of pixels each merging into the one before
    it (a merge chain as long as the image) and pieces deeper than SCAN_DEPTH."""
    snake = torch.zeros(1, 21, 21, dtype=torch.long, device=DEVICE)
    snake[0, ::2] = 1
    snake[0, 1::4, -1] = 1
    snake[0, 3::4, 0] = 1
    out = _check(snake, torch.tensor([3], device=DEVICE))
    assert int(out[1]) == 11  # the snake and the ten gaps between its rows
    stairs = torch.arange(80, device=DEVICE).view(1, 8, 10)
    assert int(_check(stairs, torch.tensor([2], device=DEVICE))[1]) == 1
    top = torch.arange(4, device=DEVICE).repeat_interleave(10)
    deep = torch.stack([top, torch.full_like(top, 4), torch.full_like(top, 5)])[None]
    assert deep.shape[-1] > SCAN_DEPTH
    _check(deep, torch.tensor([45], device=DEVICE))


def test_the_connected_labels_op_is_compilable() -> None:
    """The op is a custom op with a fake implementation (torch.compile, CUDA graphs)."""
    from hsmix_torch.kernels import connectivity

    labels = _blocks((2, 6, 8), 3, 1, 6)
    torch.library.opcheck(
        connectivity._connected_labels_op,
        (labels, torch.tensor([2, 3], device=DEVICE)),
        test_utils=("test_schema", "test_faketensor"),
    )
