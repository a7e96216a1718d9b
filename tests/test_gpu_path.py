"""The GPU path: no host synchronisation, determinism, CPU agreement, and torch.compile.

CUDA tests skip cleanly without a GPU (benchmarks/gpu_check.sh runs them on a lent one).
"""

from __future__ import annotations

import pytest
import torch

from hsmix_torch import HSMix

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _batch(any_rgb_batch, device):
    images, masks = any_rgb_batch
    return (images.float() / 255).to(device), masks.to(device)


@cuda
@pytest.mark.parametrize("lam", ["saliency", "beta"])
def test_cuda_forward_does_not_synchronise(any_rgb_batch, lam) -> None:
    images, masks = _batch(any_rgb_batch, "cuda")
    aug = HSMix(superpixels="auto", lam=lam, num_classes=2, validate=False)
    g = torch.Generator(device="cuda")
    aug(images, masks, generator=g.manual_seed(0))  # warm-up: caches device constants
    torch.cuda.set_sync_debug_mode("error")
    try:
        out, out_masks = aug(images, masks, generator=g.manual_seed(1))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert out.shape == (2 * len(images), 3, 224, 224) and out.device.type == "cuda"
    again, again_masks = aug(images, masks, generator=g.manual_seed(1))
    assert torch.equal(out, again) and torch.equal(out_masks, again_masks)


@cuda
def test_cuda_under_torch_deterministic_algorithms(any_rgb_batch) -> None:
    """No op of the CUDA forward lacks a deterministic implementation; results are unchanged."""
    images, masks = _batch(any_rgb_batch, "cuda")
    aug = HSMix(superpixels="auto", num_classes=2, validate=False)
    g = torch.Generator(device="cuda")
    free = aug(images, masks, generator=g.manual_seed(4))
    torch.use_deterministic_algorithms(True)
    try:
        strict = aug(images, masks, generator=g.manual_seed(4))
    finally:
        torch.use_deterministic_algorithms(False)
    assert torch.equal(free[0], strict[0]) and torch.equal(free[1], strict[1])


@cuda
def test_cuda_matches_cpu_with_the_same_superpixels(any_rgb_batch) -> None:
    """Grid superpixels are identical on both devices, saliency is exact, region sums are
    fixed point: the whole mix agrees to float rounding (tolerance 1e-6)."""
    images, masks = _batch(any_rgb_batch, "cpu")
    aug = HSMix(superpixels="grid", num_classes=2)
    _, _, params = aug(
        images, masks, generator=torch.Generator().manual_seed(0), return_params=True
    )
    out_cpu = aug.mix(images, masks, params)
    out_gpu = aug.mix(images.cuda(), masks.cuda(), params.to("cuda"))
    assert torch.allclose(out_gpu[0].cpu(), out_cpu[0], atol=1e-6)
    assert torch.equal(aug._saliency(images.cuda()).cpu(), aug._saliency(images))


@cuda
def test_cuda_memory_does_not_grow(any_rgb_batch) -> None:
    images, masks = _batch(any_rgb_batch, "cuda")
    aug = HSMix(superpixels="auto", num_classes=2, validate=False)
    for _ in range(3):
        aug(images, masks)
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    for _ in range(50):
        aug(images, masks)
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() <= before + 1024**2


@cuda
def test_compile_gives_the_eager_result() -> None:
    """torch.compile(HSMix) with inductor, the default backend, on CUDA where users compile:
    runs (graph breaks allowed) and mixes as eager does. On the CPU the compile tests use
    ``aot_eager`` (``test_module_api.py``): inductor's C++ build takes minutes there."""
    torch._dynamo.reset()
    images = torch.rand(2, 3, 32, 32, device="cuda")
    masks = torch.randint(0, 2, (2, 32, 32), device="cuda")
    aug = HSMix(n_segments=(4, 8), superpixels="grid", num_classes=2, validate=False)
    compiled = torch.compile(aug)
    out = compiled(images, masks, generator=torch.Generator("cuda").manual_seed(3))
    ref = aug(images, masks, generator=torch.Generator("cuda").manual_seed(3))
    assert torch.allclose(out[0], ref[0], atol=1e-6) and torch.allclose(out[1], ref[1], atol=1e-6)


@cuda
def test_cuda_graph_replay_equals_eager(any_rgb_batch) -> None:
    """The whole sync-free forward captures in a CUDA graph; with the same seed of the
    default generator a replay gives exactly the eager result, and new draws per replay."""
    images, masks = _batch(any_rgb_batch, "cuda")
    aug = HSMix(superpixels="auto", num_classes=2, validate=False)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up off the capture: caches and allocator
        for _ in range(2):
            aug(images, masks)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_images, static_masks = aug(images, masks)
    torch.cuda.manual_seed(11)
    graph.replay()
    replayed = static_images.clone(), static_masks.clone()
    graph.replay()
    assert not torch.equal(static_images, replayed[0])  # the generator moved on
    torch.cuda.manual_seed(11)
    eager = aug(images, masks)
    assert torch.equal(replayed[0], eager[0]) and torch.equal(replayed[1], eager[1])
