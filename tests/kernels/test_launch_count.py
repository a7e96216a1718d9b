"""Kernel launches per forward stay within the budget, and none reads a value back: with the
Triton kernels as on CUDA (SLIC features, k-means, connectivity, saliency, the maps of a mix
and the mix itself), a forward at the defaults of ``superpixels="auto"`` on CUDA launches at
most 120 kernels (measured 93 at B = 16 RGB 224; see docs/results/gpu_static.md). Recorded by
``benchmarks/launches.py``: every Triton launch, and every torch op that runs a kernel."""

from __future__ import annotations

import pytest

from benchmarks.launches import record
from hsmix_torch import HSMix
from hsmix_torch.data import sample_batch
from hsmix_torch.kernels import triton_available
from hsmix_torch.superpixels import get_backend

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")


def _forward(validate: bool):
    x, y = sample_batch(40, count=3)
    slic = get_backend("torch", sync_free=True)  # what "auto" runs on CUDA
    aug = HSMix(n_segments=(8, 16), num_classes=2, superpixels=slic, validate=validate)
    return lambda: aug(x, y)


def test_forward_launches_within_the_budget_and_reads_nothing_back() -> None:
    rec = record(_forward(validate=False))
    kernels = {launch.name for launch in rec.launches}
    rounds = 10  # a round kernel per round, a finish kernel between rounds
    assert sum(launch.name == "_round_kernel" for launch in rec.launches) == rounds
    assert sum(launch.name == "_finish_kernel" for launch in rec.launches) == rounds - 1
    assert {"_union_kernel", "_scan_level_kernel", "_mix_kernel", "_classes_kernel"} <= kernels
    assert rec.triton_launches + rec.torch_launches <= 120
    assert not rec.host_reads


def test_validation_reads_one_status_back() -> None:
    """The default value checks (NaN/Inf, labels, the intensity range) cost one read."""
    rec = record(_forward(validate=True))
    assert sum(rec.host_reads.values()) == 1
    assert rec.triton_launches + rec.torch_launches <= 120
