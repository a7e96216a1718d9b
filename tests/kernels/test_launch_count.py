"""Kernel launches per forward stay under a bound: with the Triton kernels (SLIC rounds and
connectivity labelling), a forward on a small batch launches at most 1,050 kernels
(measured 980, 102 of them inside the Triton ops; the rest: SLIC set-up, the fragment
merge, saliency and mixing in torch ops). With torch ops only it is 3,199. The design
target, once the merge and saliency have kernels and the rest is fused, is about 40."""

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
    aug = HSMix(n_segments=(8, 16), num_classes=2, validate=False)
    aug.backend = get_backend("torch", sync_free=True, kernels=kernels)
    return count_ops(lambda: aug(x, y))


def test_triton_path_launches_under_the_bound() -> None:
    triton = _launches("triton")
    torch_ops = _launches("torch")
    rounds = 10
    assert triton["hsmix_torch::slic_assign"] == rounds
    # No update after the last round; each update zeroes two tables and runs one kernel.
    assert triton["hsmix_torch::slic_update_sums"] == 3 * (rounds - 1)
    assert triton["hsmix_torch::cc_rounds"] == 1 + 4 * 16  # sync-free: 16 labelling rounds
    assert sum(triton.values()) <= 1050
    assert sum(triton.values()) < 0.5 * sum(torch_ops.values())
