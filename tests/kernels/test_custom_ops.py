"""The Triton kernels are torch custom ops whose fake implementations match what they
compute (``torch.library.opcheck``: schema, fake tensors, AOT dispatch), so torch.compile
traces them as single ops; a compiled forward equals the eager one."""

from __future__ import annotations

import pytest
import torch

from hsmix_torch import HSMix
from hsmix_torch.kernels import triton_available
from hsmix_torch.superpixels import connectivity as C
from hsmix_torch.superpixels import get_backend

from ..conftest import builtin_batch

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _op_cases():
    from hsmix_torch.kernels import connectivity, mixing_maps

    g = torch.Generator(device=DEVICE).manual_seed(0)
    labels = torch.randint(0, 3, (2, 6, 8), generator=g, device=DEVICE)
    labels = labels.repeat_interleave(2, 1).repeat_interleave(2, 2)
    parent = torch.arange(labels.numel(), device=DEVICE).view(labels.shape)
    root = C._run_rounds(parent, C._equal_edges(labels), 12)
    sal = torch.rand(labels.shape, generator=g, device=DEVICE)
    hard = torch.rand(labels.shape, generator=g, device=DEVICE) < 0.5
    partner = torch.tensor([1, 0], device=DEVICE)
    return {
        "cc_rounds": (connectivity._cc_rounds_op, (parent, labels, 2)),
        "merge_small": (
            connectivity._merge_small_op,
            (root, torch.tensor([5, 9], device=DEVICE), 3),
        ),
        "region_uniforms": (mixing_maps._uniforms_op, (torch.tensor([3, 4], device=DEVICE), 7)),
        "soft_lambda": (mixing_maps._soft_lambda_op, (sal, labels, partner, hard, 3, False)),
    }


@pytest.mark.parametrize("name", ["cc_rounds", "merge_small", "region_uniforms", "soft_lambda"])
def test_fake_implementations_match_the_kernels(name) -> None:
    op, args = _op_cases()[name]
    torch.library.opcheck(op, args, test_utils=("test_schema", "test_faketensor"))


def test_compiled_forward_with_triton_kernels_equals_eager() -> None:
    torch._dynamo.reset()
    images, masks = builtin_batch(2, size=32)
    x, y = images.float().div(255).to(DEVICE), masks.to(DEVICE)
    aug = HSMix(n_segments=(6, 10), num_classes=2, validate=False, kernels="triton")
    aug.backend = get_backend("torch", sync_free=True, kernels="triton")
    compiled = torch.compile(aug, backend="aot_eager")
    for seed in (0, 1):
        out = compiled(x, y, generator=torch.Generator(DEVICE).manual_seed(seed))
        ref = aug(x, y, generator=torch.Generator(DEVICE).manual_seed(seed))
        assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])
