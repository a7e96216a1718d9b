"""The Triton kernels are torch custom ops whose fake implementations match what they
compute (``torch.library.opcheck``: schema, fake tensors, AOT dispatch), so torch.compile
traces them as single ops; a compiled forward equals the eager one."""

from __future__ import annotations

import pytest
import torch

from hsmix_torch import HSMix
from hsmix_torch.kernels import triton_available

from ..conftest import builtin_batch

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _op_cases():
    from hsmix_torch.functional.slic_grid import slic_grid
    from hsmix_torch.kernels import (
        connectivity,
        mixing,
        mixing_maps,
        saliency,
        slic_features,
        slic_kmeans,
    )

    g = torch.Generator(device=DEVICE).manual_seed(0)
    images = torch.rand((2, 3, 12, 16), generator=g, device=DEVICE)
    labels = torch.randint(0, 3, (2, 6, 8), generator=g, device=DEVICE)
    labels = labels.repeat_interleave(2, 1).repeat_interleave(2, 2)
    sal = torch.rand(labels.shape, generator=g, device=DEVICE)
    hard = torch.rand(labels.shape, generator=g, device=DEVICE) < 0.5
    partner = torch.tensor([1, 0], device=DEVICE)
    key = torch.tensor([3, 4], device=DEVICE)
    feats = slic_features.slic_features(images, 8.0)
    grid = slic_grid((12, 16), torch.tensor([4, 6], device=DEVICE), 6)
    cells = torch.empty((2, *grid.pads, 5), device=DEVICE)
    placed = torch.empty((2, *grid.pads), dtype=torch.bool, device=DEVICE)
    return {
        "slic_features": (slic_features._features_op, (images, 8.0)),
        "slic_kmeans": (
            slic_kmeans._slic_kmeans_op,
            (feats, grid.rows, cells, placed, [1.0, 1.0], 1, 2, True),
        ),
        "connected_labels": (
            connectivity._connected_labels_op,
            (labels, torch.tensor([5, 9], device=DEVICE)),
        ),
        "fine_grained_maps": (saliency._fine_grained_op, (images,)),
        "mix_maps": (
            mixing_maps._mix_maps_op,
            (labels, partner, key, 3, 0.3, sal, "sum", "both", None),
        ),
        "mix_batch": (mixing._mix_batch_op, (images, partner, hard, sal, "both", None)),
        "mix_classes": (mixing._mix_classes_op, (labels, partner, hard, sal, "soft", None, 3, -1)),
    }


@pytest.mark.parametrize(
    "name",
    ["slic_features", "slic_kmeans", "connected_labels", "fine_grained_maps", "mix_maps",
     "mix_batch", "mix_classes"],
)  # fmt: skip
def test_fake_implementations_match_the_kernels(name) -> None:
    op, args = _op_cases()[name]
    torch.library.opcheck(op, args, test_utils=("test_schema", "test_faketensor"))


def test_compiled_forward_with_triton_kernels_equals_eager() -> None:
    """The plan (superpixels, saliency, maps) runs eagerly inside compiled code; the mix
    of images and class masks is traced through its custom ops. Grid superpixels keep the
    interpreted plan short; the SLIC kernels' ops are checked by ``opcheck`` above."""
    torch._dynamo.reset()
    images, masks = builtin_batch(2, size=32)
    x, y = images.float().div(255).to(DEVICE), masks.to(DEVICE)
    aug = HSMix(
        n_segments=(6, 10), num_classes=2, validate=False, kernels="triton", superpixels="grid"
    )
    compiled = torch.compile(aug, backend="aot_eager")
    # One call: a second seed recompiles (a new generator) and costs minutes, testing nothing new.
    out = compiled(x, y, generator=torch.Generator(DEVICE).manual_seed(1))
    ref = aug(x, y, generator=torch.Generator(DEVICE).manual_seed(1))
    assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])
