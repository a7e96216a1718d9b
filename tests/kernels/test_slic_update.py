"""The Triton SLIC centre update equals the torch-ops update exactly (interpreter on the CPU
without a GPU; integer atomics, so the order of the additions cannot matter on a GPU)."""

from __future__ import annotations

import pytest
import torch

from hsmix_torch.kernels import triton_available
from hsmix_torch.superpixels.torch_slic import _features, _update

from ..conftest import builtin_batch

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.parametrize(
    "b,c,h,w,k", [(2, 3, 48, 64, 30), (2, 1, 48, 64, 12), (1, 3, 37, 53, 7), (2, 4, 16, 24, 5)]
)
def test_update_equals_the_torch_ops_update(b, c, h, w, k) -> None:
    from hsmix_torch.kernels.slic_update import slic_update

    images = builtin_batch(b, channels=3, size=max(h, w))[0][:, :, :h, :w].float().div(255)
    if c != 3:
        images = images.mean(1, keepdim=True).expand(-1, c, -1, -1)
    feats = _features(images.to(DEVICE), 10.0 if c == 3 else 0.1)  # Lab: negative a and b
    g = torch.Generator(device=DEVICE).manual_seed(c)
    labels = torch.randint(0, k, (b, h, w), generator=g, device=DEVICE)
    labels[:, :, : w // 2] = labels[:, :, : w // 2] // 2  # some centres stay empty
    ref_means, ref_counts = _update(feats, labels, k + 3)
    means, counts = slic_update(feats, labels, k + 3)
    assert torch.equal(counts, ref_counts) and (counts == 0).any()
    assert means.dtype == torch.float32 and torch.equal(means, ref_means)


def test_rounding_of_halves_matches_torch_round() -> None:
    """Features whose fixed-point values fall on .5: round half to even, as torch.round."""
    from hsmix_torch.kernels.slic_update import slic_update

    halves = torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 3.0, 1e-9, -7.25]) * 2.0**-24
    feats = halves.view(1, 2, 4, 1).to(DEVICE)
    labels = torch.arange(8, device=DEVICE).view(1, 2, 4)
    ref = _update(feats, labels, 8)
    out = slic_update(feats, labels, 8)
    assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])
