"""The Triton maps of a mix equal their torch-ops references exactly: the per-superpixel
uniforms (a 64-bit integer hash) and the soft weight L (fixed-point region sums by integer
atomics, per-image extremes by integer atomic_min/max of float64 bits: order-free)."""

from __future__ import annotations

import pytest
import torch

from hsmix_torch import HSMix
from hsmix_torch.functional import soft_lambda, superpixel_mask
from hsmix_torch.kernels import triton_available
from hsmix_torch.saliency import fine_grained
from hsmix_torch.sampler import draw, region_uniforms
from hsmix_torch.superpixels import get_backend

from ..conftest import builtin_batch

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.parametrize("num_labels", [1, 5, 300])
def test_uniforms_equal_the_torch_ops_hash(num_labels) -> None:
    key = torch.tensor([0, 1, 7, 2**31, 2**32 - 1, 123456789], device=DEVICE)
    ref = region_uniforms(key, num_labels, kernels="torch")
    out = region_uniforms(key, num_labels, kernels="triton")
    assert out.dtype == torch.float32 and torch.equal(out, ref)
    assert float(out.min()) > 0 and float(out.max()) < 1


def _pairs(channels: int, b: int, h: int, w: int, seed: int, superpixels: str):
    images = builtin_batch(b, channels=channels, size=max(h, w))[0][:, :, :h, :w].to(DEVICE)
    draws = draw(
        b, n_segments=(6, 20), device=DEVICE, generator=torch.Generator(DEVICE).manual_seed(seed)
    )
    labels = get_backend(superpixels)(images, draws.n_segments, max_segments=20)
    selected = region_uniforms(draws.region_key, h * w) < 0.3
    hard = superpixel_mask(labels.index_select(0, draws.partner), selected)
    return fine_grained(images)[:, 0], labels, draws.partner, hard


@pytest.mark.parametrize("aggregate", ["sum", "mean"])
@pytest.mark.parametrize(
    "channels,b,h,w,superpixels",
    [(3, 4, 48, 64, "grid"), (1, 3, 37, 45, "torch"), (3, 1, 24, 24, "grid")],
    ids=["rgb", "grey-odd", "single-sample"],
)
def test_soft_lambda_equals_the_torch_ops_map(channels, b, h, w, superpixels, aggregate) -> None:
    sal, labels, partner, hard = _pairs(channels, b, h, w, 0, superpixels)
    for bound in (int(labels.max()) + 1, h * w):  # the CPU's tight table and CUDA's bound
        ref = soft_lambda(sal, labels, partner, hard, bound, aggregate, kernels="torch")
        out = soft_lambda(sal, labels, partner, hard, bound, aggregate, kernels="triton")
        assert out.dtype == torch.float32 and torch.equal(out, ref)
    assert float(ref.max()) > 0.5 or b == 1
    flat = torch.zeros_like(sal)  # no saliency anywhere: L = 0
    out = soft_lambda(flat, labels, partner, hard, h * w, aggregate, kernels="triton")
    assert torch.equal(
        out, soft_lambda(flat, labels, partner, hard, h * w, aggregate, kernels="torch")
    )
    assert not out.any()


def test_hsmix_with_triton_kernels_mixes_as_with_torch_ops() -> None:
    """Every stage with a kernel (SLIC, connectivity, saliency, uniforms, L) at once."""
    images, masks = builtin_batch(3, size=40)
    x, y = images.float().div(255).to(DEVICE), masks.to(DEVICE)
    for aggregate in ("sum", "mean"):
        outs = []
        for kernels in ("torch", "triton"):
            aug = HSMix(
                n_segments=(8, 16),
                superpixels="torch",
                num_classes=2,
                aggregate=aggregate,
                kernels=kernels,
            )
            g = torch.Generator(device=DEVICE).manual_seed(4)
            outs.append(aug(x, y, generator=g, return_params=True))
        for name in ("superpixels", "selected", "hard_mask", "soft_lambda"):
            assert torch.equal(getattr(outs[0][2], name), getattr(outs[1][2], name)), name
        assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])
    assert "kernels='triton'" in repr(aug.backend)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("size", [224, 512])
def test_cuda_hsmix_equals_torch_ops_at_full_size(size, any_rgb_batch) -> None:
    images, masks = any_rgb_batch[0][:4].cuda(), any_rgb_batch[1][:4].cuda()
    if size != 224:
        images = torch.nn.functional.interpolate(images.float(), size=size).to(torch.uint8)
        masks = torch.nn.functional.interpolate(masks[:, None].float(), size=size)[:, 0].long()
    outs = []
    for kernels in ("torch", "triton"):
        aug = HSMix(num_classes=2, validate=False, kernels=kernels)
        g = torch.Generator(device="cuda").manual_seed(5)
        outs.append(aug(images, masks, generator=g, return_params=True))
    for name in ("superpixels", "selected", "hard_mask", "soft_lambda"):
        assert torch.equal(getattr(outs[0][2], name), getattr(outs[1][2], name)), name
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])
