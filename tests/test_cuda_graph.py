"""``HSMix(cuda_graph=True)``: captured once per signature, replayed, equal to eager.

On the CPU the graph is emulated (:class:`ReplayOnStatic` runs the captured function again
on the static buffers at each replay, which is what a CUDA graph computes), so the cache,
the static-buffer copies, the clones handed out, the eager draws and the eager value checks
are all exercised here; the CUDA tests capture real graphs.
"""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from hsmix_torch import HSMix
from hsmix_torch.cuda_graph import GraphCache
from hsmix_torch.structure import BatchFields
from hsmix_torch.superpixels import get_backend

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


class ReplayOnStatic(GraphCache):
    """A GraphCache for CPU tensors whose 'graph' recomputes from the static inputs into the
    static outputs, as a replayed CUDA graph does."""

    def handles(self, t: torch.Tensor) -> bool:
        return True

    def _capture(self, fn, static):
        outputs = fn(*static)

        def replay() -> None:
            for out, new in zip(outputs, fn(*static), strict=True):
                if out is not None:
                    out.copy_(new)

        return outputs, replay


def _pair(**kw):
    kw = {"n_segments": (6, 12), "superpixels": "grid", "num_classes": 2, **kw}
    graphed = HSMix(cuda_graph=True, **kw)
    graphed._graphs = ReplayOnStatic()
    return graphed, HSMix(**kw)


def _batch(seed: int, b: int = 4, size: int = 32, c: int = 3):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(b, c, size, size, generator=g)
    return images, torch.randint(0, 2, (b, size, size), generator=g)


@pytest.mark.parametrize("output", ["both", "either", "hard"])
@pytest.mark.parametrize("lam", ["saliency", "beta"])
def test_replays_equal_eager_calls_with_the_same_seed(output, lam) -> None:
    graphed, eager = _pair(output=output, lam=lam)
    kept = []
    for seed in range(3):  # new images and new draws at every replay
        images, masks = _batch(seed)
        g = torch.Generator().manual_seed(seed)
        out = graphed(images, masks, generator=g, return_params=True)
        ref = eager(
            images, masks, generator=torch.Generator().manual_seed(seed), return_params=True
        )
        assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])
        for name in ("partner", "mixed", "segments", "selected", "hard_mask", "soft_lambda"):
            assert torch.equal(getattr(out[2], name), getattr(ref[2], name)), name
        kept.append((out[0], out[0].clone()))
    assert graphed._graphs.captures == 1
    assert all(torch.equal(a, b) for a, b in kept)  # earlier results are the caller's to keep
    torch.manual_seed(5)  # the default generator, too
    first = graphed(*_batch(0))
    torch.manual_seed(5)
    assert torch.equal(first[0], eager(*_batch(0))[0])


def test_one_graph_per_signature_and_options() -> None:
    graphed, _ = _pair()
    graphed(*_batch(0))
    graphed(*_batch(1))
    assert graphed._graphs.captures == 1
    graphed(*_batch(0, size=40))  # another shape
    graphed(_batch(0)[0].to(torch.float64), _batch(0)[1])  # another dtype
    graphed(_batch(0)[0].contiguous(memory_format=torch.channels_last), _batch(0)[1])
    assert graphed._graphs.captures == 4
    with pytest.raises(AttributeError, match="fixed at construction"):
        graphed.p_hard = 0.7  # options are the graphs' key: they cannot change
    other = graphed.replace(p_hard=0.7)
    other._graphs = ReplayOnStatic()
    other(*_batch(0))
    assert other._graphs.captures == 1 and graphed.p_hard == 0.2 and other.p_hard == 0.7
    graphed._graphs.max_graphs = 2
    graphed(*_batch(0, b=3))
    assert len(graphed._graphs) == 2  # least recently used graphs are dropped


def test_structures_masks_and_superpixels_go_through_the_graph() -> None:
    tv_tensors = pytest.importorskip("torchvision.tv_tensors")
    graphed, eager = _pair(output="either")
    images, masks = _batch(3)
    labels = torch.arange(32 * 32).view(1, 32, 32).expand(4, -1, -1) // 64
    sample = {"image": tv_tensors.Image(images), "mask": tv_tensors.Mask(masks), "id": [1, 2, 3, 4]}
    out = graphed(sample, segments=labels, generator=torch.Generator().manual_seed(1))
    ref = eager(sample, segments=labels, generator=torch.Generator().manual_seed(1))
    assert type(out["image"]) is tv_tensors.Image and type(out["mask"]) is tv_tensors.Mask
    assert torch.equal(out["image"], ref["image"]) and torch.equal(out["mask"], ref["mask"])
    assert out["id"] == [1, 2, 3, 4]
    batch = {"image": images, "label": masks, "w": torch.rand(4, 1, 32, 32)}
    fields = BatchFields(image="image", masks=("label", "w"), dense=("w",))
    out = graphed.mix_structure(batch, fields, generator=torch.Generator().manual_seed(2))
    ref = eager.mix_structure(batch, fields, generator=torch.Generator().manual_seed(2))
    out, ref = out[0], ref[0]
    assert all(torch.equal(out[k], ref[k]) for k in ("image", "label", "w"))


def test_dictionaries_and_collates_reach_the_graph() -> None:
    from hsmix_torch import HSMixd

    kw = {"keys": ("image", "label"), "superpixels": "grid", "num_classes": 2}
    graphed, eager = HSMixd(cuda_graph=True, **kw), HSMixd(**kw)
    graphed.aug._graphs = ReplayOnStatic()
    images, masks = _batch(4)
    for t in (graphed, eager):
        t.set_random_state(seed=3)
    for _ in range(2):
        out = graphed({"image": images, "label": masks, "name": list("abcd")})
        ref = eager({"image": images, "label": masks, "name": list("abcd")})
        assert torch.equal(out["image"], ref["image"]) and torch.equal(out["label"], ref["label"])
    assert graphed.aug._graphs.captures == 1


def test_value_checks_run_eagerly_before_the_replay() -> None:
    graphed, _ = _pair()
    images, masks = _batch(0)
    graphed(images, masks)
    bad = images.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        graphed(bad, masks)
    with pytest.raises(ValueError, match="num_classes=2"):
        graphed(images, masks + 2)
    with pytest.raises(ValueError, match=r"labels in \[0, H\*W\)"):
        graphed(images, masks, segments=torch.full((4, 32, 32), 5000))
    with pytest.warns(RuntimeWarning, match="intensity_range"):
        graphed(images * 3, masks)
    unchecked, eager = _pair(validate=False)
    out = unchecked(bad, masks, generator=torch.Generator().manual_seed(0))  # no read-back
    assert out[0].shape == (8, 3, 32, 32)


def test_eager_path_where_a_graph_cannot_serve() -> None:
    graphed, eager = _pair()
    images, masks = _batch(0)
    grad_images = images.clone().requires_grad_()
    out = graphed(grad_images, masks, generator=torch.Generator().manual_seed(0))
    out[0].sum().backward()
    assert grad_images.grad is not None and graphed._graphs.captures == 0
    real = HSMix(n_segments=(6, 12), superpixels="grid", num_classes=2, cuda_graph=True)
    real(images, masks)  # CPU tensors: a real GraphCache leaves them to the eager path
    assert real._graphs.captures == 0 and real._graphs.handles(images) is False


def test_construction_copies_and_pickles() -> None:
    for superpixels in ("skimage", lambda x, n: torch.zeros(x.shape[0], *x.shape[2:]).long()):
        with pytest.raises(ValueError, match="cuda_graph=True needs superpixels"):
            HSMix(superpixels=superpixels, cuda_graph=True)
    with pytest.raises(ValueError, match="cuda_graph=True needs superpixels"):
        HSMix(superpixels=get_backend("torch", sync_free=False), cuda_graph=True)
    with pytest.raises(TypeError, match="cuda_graph must be a bool"):
        HSMix(cuda_graph=1)
    with pytest.raises(ValueError, match="max_graphs"):
        GraphCache(max_graphs=0)
    aug = HSMix(cuda_graph=True, num_classes=2)
    assert "cuda_graph=True" in repr(aug)
    assert aug.backend.capturable(torch.device("cuda"))
    graphed, _ = _pair()
    graphed(*_batch(0))
    for clone in (copy.deepcopy(graphed), pickle.loads(pickle.dumps(graphed))):
        assert clone.cuda_graph and len(clone._graphs) == 0
    assert len(graphed._graphs) == 1


@cuda
@pytest.mark.parametrize("validate", [False, True])
def test_cuda_graph_replays_equal_eager_calls(any_rgb_batch, validate) -> None:
    images, masks = any_rgb_batch
    x, y = (images.float() / 255).cuda(), masks.cuda()
    graphed = HSMix(num_classes=2, validate=validate, cuda_graph=True)
    eager = HSMix(num_classes=2, validate=validate)
    for seed in range(3):
        out = graphed(x, y, generator=torch.Generator("cuda").manual_seed(seed))
        ref = eager(x, y, generator=torch.Generator("cuda").manual_seed(seed))
        assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])
    torch.cuda.manual_seed(3)
    out = graphed(x, y)
    torch.cuda.manual_seed(3)
    assert torch.equal(out[0], eager(x, y)[0])
    assert graphed._graphs.captures == 1


@cuda
def test_cuda_graph_replay_does_not_synchronise(any_rgb_batch) -> None:
    images, masks = any_rgb_batch
    x, y = (images.float() / 255).cuda(), masks.cuda()
    graphed = HSMix(num_classes=2, validate=False, cuda_graph=True)
    graphed(x, y)  # the capture
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(20):
            out = graphed(x, y)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    del out
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() <= before + 1024**2


@pytest.mark.parametrize("superpixels", ["grid", "torch"])
def test_volumes_go_through_the_graph(superpixels) -> None:
    """Volumes [B, 1, D, H, W] (the built-in phantoms), with the sync-free torch 3-D SLIC."""
    from hsmix_torch.data import sample_volumes

    backend = get_backend("torch", sync_free=True) if superpixels == "torch" else "grid"
    graphed, eager = _pair(superpixels=backend, num_classes=3, spacing=(2.0, 1.0, 1.0))
    x, y = sample_volumes((8, 16, 14), count=3)
    for seed in range(2):
        out = graphed(x, y, generator=torch.Generator().manual_seed(seed))
        ref = eager(x, y, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])
    assert graphed._graphs.captures == 1


@cuda
def test_cuda_graph_of_volumes_equals_eager_without_synchronising() -> None:
    from hsmix_torch.data import sample_volumes

    x, y = (t.cuda() for t in sample_volumes(48, count=2))
    graphed = HSMix(num_classes=3, validate=False, cuda_graph=True)
    eager = HSMix(num_classes=3, validate=False)
    out = graphed(x, y, generator=torch.Generator("cuda").manual_seed(0))
    ref = eager(x, y, generator=torch.Generator("cuda").manual_seed(0))
    assert torch.equal(out[0], ref[0]) and torch.equal(out[1], ref[1])
    torch.cuda.set_sync_debug_mode("error")
    try:
        graphed(x, y)
    finally:
        torch.cuda.set_sync_debug_mode("default")
