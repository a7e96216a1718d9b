"""Kernel launches per forward stay under a bound: with the Triton kernels (SLIC k-means,
connectivity labelling and merging, fine-grained saliency, the per-superpixel uniforms and
the soft weight L), a forward on a small batch launches at most 300 kernels (measured 282,
105 of them by the Triton ops, 24 of those the levels of scikit-image's merge scan; the
rest: the SLIC features and set-up, the relabelling, the draws, the selection and the
mixing in torch ops). With torch ops only it is about 4,400 (on the CPU, where the torch
scan stops after its last level that reached a pixel; on CUDA it runs all 23)."""

from __future__ import annotations

import pytest

from hsmix_torch import HSMix
from hsmix_torch.data import sample_batch
from hsmix_torch.kernels import triton_available
from hsmix_torch.superpixels import get_backend

from ..ops import count_ops

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")


def _launches(kernels: str):
    x, y = sample_batch(48, count=2)
    aug = HSMix(n_segments=(8, 16), num_classes=2, validate=False, kernels=kernels)
    aug.backend = get_backend("torch", sync_free=True, kernels=kernels)
    return count_ops(lambda: aug(x, y))


def test_triton_path_launches_under_the_bound() -> None:
    triton = _launches("triton")
    torch_ops = _launches("torch")
    rounds = 10
    # A round kernel per round, a finish kernel between rounds.
    assert triton["hsmix_torch::slic_kmeans"] == 2 * rounds - 1
    assert triton["hsmix_torch::cc_rounds"] == 2 + 2 * 16  # sync-free: 16 labelling rounds
    assert triton["hsmix_torch::merge_small"] == 36  # scikit-image's scan
    assert triton["hsmix_torch::fine_grained_maps"] == 9
    assert triton["hsmix_torch::region_uniforms"] == 1
    assert triton["hsmix_torch::soft_lambda"] == 6  # two zeroed tables, a fill, 3 kernels
    assert sum(triton.values()) <= 300
    assert sum(triton.values()) < 0.1 * sum(torch_ops.values())
