"""The Triton maps of a mix equal the torch ops exactly (the pasted set from the per-sample
hash, M, the soft weight L from fixed-point region sums by integer atomics, the float64
normalisation per region, ``mixed``), and the Triton mix equals ``torch.where`` exactly and
``torch.lerp`` within its one rounding (the interpreter rounds the product before the add;
a GPU fuses it as torch does)."""

from __future__ import annotations

import pytest
import torch

from hsmix_torch import HSMix
from hsmix_torch.functional import mix_batch, mix_classes, mix_maps
from hsmix_torch.kernels import triton_available
from hsmix_torch.saliency import fine_grained
from hsmix_torch.sampler import draw
from hsmix_torch.superpixels import get_backend

from ..conftest import builtin_batch

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _case(channels: int, b: int, h: int, w: int, superpixels: str, either: bool):
    images = builtin_batch(b, channels=channels, size=max(h, w))[0][:, :, :h, :w].to(DEVICE)
    g = torch.Generator(DEVICE).manual_seed(b + h)
    draws = draw(b, n_segments=(6, 20), p_soft=0.5 if either else None, device=DEVICE,
                 generator=g)  # fmt: skip
    labels = get_backend(superpixels)(images, draws.n_segments, max_segments=20)
    return fine_grained(images)[:, 0], labels, draws


@pytest.mark.parametrize("output", ["both", "hard", "soft", "either"])
@pytest.mark.parametrize(
    "channels,b,h,w,superpixels",
    [(3, 4, 24, 32, "grid"), (1, 3, 19, 23, "skimage"), (3, 1, 16, 16, "grid")],
    ids=["rgb", "grey-odd", "single-sample"],
)
def test_maps_equal_the_torch_ops(channels, b, h, w, superpixels, output) -> None:
    sal, labels, draws = _case(channels, b, h, w, superpixels, output == "either")
    if b == 4:
        labels[1] = 3  # a partner of one superpixel does not mix
    for aggregate in ("sum", "mean"):
        for slots in (int(labels.max()) + 1, h * w):  # a tight table and the largest
            kw = dict(saliency=sal, aggregate=aggregate, output=output, soft=draws.soft)
            args = (labels, draws.partner, draws.region_key, slots, 0.3)
            ref = mix_maps(*args, kernels="torch", **kw)
            out = mix_maps(*args, kernels="triton", **kw)
            for name, r, o in zip(ref._fields, ref, out, strict=True):
                assert o.dtype == r.dtype and torch.equal(o, r), (name, aggregate, slots)
    assert bool(ref.mixed.any()) or b == 1
    flat = torch.zeros_like(sal)  # no saliency anywhere: L = 0
    kw = dict(saliency=flat, output=output, soft=draws.soft)
    out = mix_maps(labels, draws.partner, draws.region_key, h * w, 0.3, kernels="triton", **kw)
    assert not out.soft_lambda.any()


def _maps(b: int, size: tuple[int, ...], seed: int):
    g = torch.Generator(DEVICE).manual_seed(seed)
    hard = torch.rand((b, *size), generator=g, device=DEVICE) < 0.4
    lam = torch.rand((b, *size), generator=g, device=DEVICE)
    lam.view(-1)[:3] = torch.tensor([0.0, 1.0, 0.5])
    soft = torch.rand(b, generator=g, device=DEVICE) < 0.5
    return torch.tensor([1, 2, 0], device=DEVICE)[:b], hard, lam, soft, g


@pytest.mark.parametrize("output", ["both", "hard", "soft", "either"])
@pytest.mark.parametrize(
    "kind", ["float32", "float64", "float16", "bfloat16", "uint8", "channels-last", "no-channel",
             "volume"],
)  # fmt: skip
def test_mix_equals_torch_where_and_lerp(kind, output) -> None:
    size = (2, 7, 9) if kind == "volume" else (7, 9)
    partner, hard, lam, soft, g = _maps(3, size, 1)
    a = torch.rand((3, 2, *size), generator=g, device=DEVICE)
    a = {
        "float64": lambda: a.double(),
        "float16": lambda: a.half(),
        "bfloat16": lambda: a.bfloat16(),
        "uint8": lambda: (a * 255).round().to(torch.uint8),
        "channels-last": lambda: torch.rand((3, 3, *size), generator=g, device=DEVICE).contiguous(
            memory_format=torch.channels_last
        ),
        "no-channel": lambda: a[:, 0],
    }.get(kind, lambda: a)()
    s = soft if output == "either" else None
    ref = mix_batch(a, partner, hard, lam, output, s, kernels="torch")
    out = mix_batch(a, partner, hard, lam, output, s, kernels="triton")
    assert out.shape == ref.shape and out.dtype == ref.dtype
    if output == "hard" or kind in ("float64",):
        assert torch.equal(out, ref)
    elif kind == "uint8":
        assert int((out.int() - ref.int()).abs().max()) <= 1
    else:  # one rounding of the float32 lerp (then that of a half-precision dtype)
        ulp = torch.finfo(a.dtype).eps
        assert float((out.double() - ref.double()).abs().max()) <= ulp
    if kind == "channels-last":
        assert out.is_contiguous(memory_format=torch.channels_last) or output == "both"


@pytest.mark.parametrize("output", ["both", "soft", "either"])
@pytest.mark.parametrize("classes,ignore", [(4, None), (4, 2), (5, 255)])
def test_class_maps_mix_one_hot_as_the_torch_ops(classes, ignore, output) -> None:
    partner, hard, lam, soft, g = _maps(3, (7, 9), 2)
    labels = torch.randint(0, 4, (3, 7, 9), generator=g, device=DEVICE)
    labels[1, 0] = 255 if ignore == 255 else labels[1, 0]
    s = soft if output == "either" else None
    args = (labels, partner, hard, lam, output, s, classes, ignore)
    ref = mix_classes(*args, kernels="torch")
    out = mix_classes(*args, kernels="triton")
    assert out.dtype == torch.float32
    assert float((out - ref).abs().max()) <= torch.finfo(torch.float32).eps


def test_hsmix_with_triton_kernels_mixes_as_with_torch_ops() -> None:
    """Every stage at once (features, k-means, connectivity, saliency, maps, mix): the same
    superpixels, maps and mixed masks; images within the lerp's rounding."""
    images, masks = builtin_batch(2, size=24)
    x, y = images.float().div(255).to(DEVICE), masks.to(DEVICE)
    outs = []
    for kernels in ("torch", "triton"):
        aug = HSMix(n_segments=(4, 8), superpixels="torch", num_classes=2, kernels=kernels)
        g = torch.Generator(device=DEVICE).manual_seed(4)
        outs.append(aug(x, y, generator=g, return_params=True))
    for name in ("segments", "selected", "hard_mask", "soft_lambda", "mixed"):
        assert torch.equal(getattr(outs[0][2], name), getattr(outs[1][2], name)), name
    assert float((outs[0][0] - outs[1][0]).abs().max()) <= torch.finfo(torch.float32).eps
    assert torch.equal(outs[0][1], outs[1][1])
    assert "kernels='triton'" in repr(aug.backend)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("size", [224, 512])
def test_cuda_hsmix_equals_torch_ops_at_full_size(size, any_rgb_batch) -> None:
    images, masks = any_rgb_batch[0][:4].cuda(), any_rgb_batch[1][:4].cuda()
    if size != 224:
        images = torch.nn.functional.interpolate(images.float(), size=size).to(torch.uint8)
        masks = torch.nn.functional.interpolate(masks[:, None].float(), size=size)[:, 0].long()
    n = torch.tensor([30, 50, 80, 60], device="cuda")
    labels = get_backend("torch", kernels="torch", sync_free=True)(images, n, max_segments=80)
    outs = []
    for kernels in ("torch", "triton"):
        aug = HSMix(num_classes=2, validate=False, kernels=kernels)
        g = torch.Generator(device="cuda").manual_seed(5)
        outs.append(aug(images, masks, segments=labels, generator=g, return_params=True))
    for name in ("selected", "hard_mask", "soft_lambda", "mixed"):
        assert torch.equal(getattr(outs[0][2], name), getattr(outs[1][2], name)), name
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1], outs[1][1])
