"""The Triton SLIC: the k-means rounds equal the torch-ops rounds exactly, the features
agree within float32 rounding of the CIELAB powers, and the whole SLIC on either path has
the same superpixel quality against scikit-image.

Without a GPU the kernels run in Triton's interpreter on CPU tensors (conftest sets
TRITON_INTERPRET=1), so shapes are small; with one, the same checks run on CUDA at 224 and
512. The interpreter runs programs one after another: the k-means sums are integer atomics
into slots that one program writes (exact in any order), and no program reads what another
writes within a launch, so nothing it skips can differ on a GPU (``test_adversarial.py``
runs the rounds with programs reordered and interleaved).
"""

from __future__ import annotations

import pytest
import torch

from hsmix_torch.functional.slic_grid import initial_state, slic_grid
from hsmix_torch.kernels import resolve_kernels, triton_available
from hsmix_torch.superpixels import slic
from hsmix_torch.superpixels.torch_slic import _assign, _features, _kmeans

from ..conftest import builtin_batch

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _state(images: torch.Tensor, n: torch.Tensor, jitter: float, seed: int):
    """A SLIC state to start from: features, moved centres (some not placed), home labels."""
    c, *size = images.shape[1:]
    g = torch.Generator(device=images.device).manual_seed(seed)
    feats = _features(images, 10.0 if c == 3 else 0.1)
    grid = slic_grid(tuple(size), n, int(n.max()))
    centres, valid, labels, home = initial_state(feats, grid)
    shape = centres.shape[:-1]
    for a in range(len(size)):
        centres[..., a] += (torch.rand(shape, generator=g, device=images.device) - 0.5) * jitter
    centres[..., len(size) :] = torch.rand(
        (*shape, feats.shape[-1]), generator=g, device=images.device
    )
    return feats, centres, valid, labels, grid, home


@pytest.mark.parametrize(
    "b,c,h,w,n",
    [
        (2, 3, 24, 32, (6, 15)),
        (2, 1, 19, 23, (9, 4)),
        (1, 4, 14, 12, (5,)),
        (1, 3, 12, 12, (1,)),
        (1, 1, 6, 5, (40,)),
    ],
    ids=["rgb", "grey-odd", "four-channel", "one-superpixel", "more-segments-than-pixels"],
)
@pytest.mark.parametrize("radius", [1, 2])
def test_rounds_equal_the_torch_ops_rounds(b, c, h, w, n, radius) -> None:
    """Labels after 1 round (the first and last at once) and 3 rounds (first, middle, last:
    centre updates in between) from grid centres and from moved ones (pixels that no
    candidate window reaches keep their label)."""
    from hsmix_torch.kernels.slic_kmeans import slic_kmeans

    images = builtin_batch(b, channels=1 if c == 1 else 3, size=max(h, w, 8))[0]
    if c == 4:
        images = torch.cat([images, images[:, :1]], dim=1)
    images = images[:, :, :h, :w].float().div(255).to(DEVICE)
    n = torch.tensor(n, device=DEVICE)
    for seed, jitter in ((0, 0.0), (1, 6.0)):
        feats, centres, valid, labels, grid, home = _state(images, n, jitter, seed)
        for rounds in (1, 3):
            ref = _kmeans(feats, centres, valid, labels, grid=grid, home=home, radius=radius,
                          rounds=rounds)  # fmt: skip
            kw = dict(grid=grid, radius=radius, rounds=rounds)
            out = slic_kmeans(feats, centres=centres, valid=valid, **kw)
            assert out.dtype == torch.int32 and torch.equal(out.long(), ref)


@pytest.mark.parametrize(
    "shape,n,spacing",
    [
        ((2, 6, 7, 8), (6, 15), None),
        ((1, 5, 6, 7), (10,), (2.0, 1.0, 0.5)),
        ((2, 1, 9, 8), (6, 9), None),
        ((1, 2, 3, 3), (24,), None),
    ],
    ids=["volume", "odd-spacing", "depth-one", "more-segments-than-voxels"],
)
@pytest.mark.parametrize("radius", [1, 2])
def test_volume_rounds_equal_the_torch_ops_rounds(shape, n, spacing, radius) -> None:
    """Volumes (the built-in phantom): ``(2R+1)^3`` candidates, the window test on three
    axes and the spacing in the distance, from grid centres and from moved ones."""
    from hsmix_torch.data import sample_volumes
    from hsmix_torch.kernels.slic_kmeans import slic_kmeans

    images = sample_volumes(shape[1:], count=shape[0])[0].to(DEVICE)
    n = torch.tensor(n, device=DEVICE)
    for seed, jitter in ((0, 0.0), (1, 4.0)):
        feats, centres, valid, labels, grid, home = _state(images, n, jitter, seed)
        for rounds in (1, 3):
            kw = dict(grid=grid, radius=radius, rounds=rounds, spacing=spacing)
            ref = _kmeans(feats, centres, valid, labels, home=home, **kw)
            out = slic_kmeans(feats, centres=centres, valid=valid, **kw)
            assert torch.equal(out.long(), ref)


def test_pixels_without_a_passing_candidate_keep_their_label() -> None:
    """Centres missing from the grid (some in-grid ones not placed) leave pixels whose every
    candidate fails: the reference keeps their previous label, through several rounds."""
    from hsmix_torch.kernels.slic_kmeans import slic_kmeans

    images = builtin_batch(1, channels=1, size=64)[0][:, :, :48, :64].float().div(255)
    feats, centres, valid, labels, grid, home = _state(
        images.to(DEVICE), torch.tensor([20], device=DEVICE), 0.0, 0
    )
    g = torch.Generator(device=DEVICE).manual_seed(0)
    valid &= torch.rand(valid.shape, generator=g, device=DEVICE) > 0.5
    kept = _assign(
        feats, centres, valid, torch.full_like(labels, -1), grid=grid, home=home, radius=1
    )
    assert (kept == -1).sum() > 100
    for rounds in (1, 3):
        ref = _kmeans(feats, centres, valid, labels, grid=grid, home=home, radius=1, rounds=rounds)
        out = slic_kmeans(feats, grid=grid, radius=1, rounds=rounds, centres=centres, valid=valid)
        assert torch.equal(out.long(), ref)


def test_exact_search_radius() -> None:
    """search_radius=4 (81 candidates, scikit-image's exact search) from moved centres."""
    from hsmix_torch.kernels.slic_kmeans import slic_kmeans

    images = builtin_batch(1, size=24)[0][:, :, :20, :24].float().div(255).to(DEVICE)
    feats, centres, valid, labels, grid, home = _state(
        images, torch.tensor([20], device=DEVICE), 8.0, 2
    )
    ref = _kmeans(feats, centres, valid, labels, grid=grid, home=home, radius=4, rounds=2)
    out = slic_kmeans(feats, grid=grid, radius=4, rounds=2, centres=centres, valid=valid)
    assert torch.equal(out.long(), ref)


def test_ties_go_to_the_first_candidate() -> None:
    """Equal centres everywhere: every distance ties with its mirror; the reference's order
    (rows, then columns, first minimum) decides, and so must the kernel."""
    from hsmix_torch.kernels.slic_kmeans import slic_kmeans

    images = torch.full((1, 1, 32, 32), 0.5, device=DEVICE)
    feats, centres, valid, labels, grid, home = _state(
        images, torch.tensor([16], device=DEVICE), 0.0, 0
    )
    centres[..., 2:] = 0.25  # the colour of every centre
    ref = _kmeans(feats, centres, valid, labels, grid=grid, home=home, radius=2, rounds=1)
    out = slic_kmeans(feats, grid=grid, radius=2, rounds=1, centres=centres, valid=valid)
    assert torch.equal(out.long(), ref)


@pytest.mark.parametrize("channels", [3, 1, "volume"])
def test_start_kernel_places_scikit_images_centres(channels) -> None:
    """From the grid alone (no centres given): the start kernel's centres and the labels of
    ``_kmeans`` from ``initial_state``."""
    from hsmix_torch.kernels.slic_kmeans import slic_kmeans
    from hsmix_torch.superpixels.torch_slic import _kmeans_from_grid

    if channels == "volume":
        from hsmix_torch.data import sample_volumes

        images = sample_volumes((6, 8, 7), count=2)[0].to(DEVICE)
    else:
        images = builtin_batch(2, channels=channels, size=24)[0].float().div(255).to(DEVICE)
    feats = _features(images, 8.0 if channels == 3 else 0.1)
    grid = slic_grid(tuple(images.shape[2:]), torch.tensor([6, 15], device=DEVICE), 15)
    kw = dict(grid=grid, radius=2, rounds=2, spacing=None)
    assert torch.equal(slic_kmeans(feats, **kw).long(), _kmeans_from_grid(feats, **kw))


@pytest.mark.parametrize(
    "layout", ["rgb", "rgb-channels-last", "uint8", "half", "grey", "four", "volume", "view"]
)
def test_features_equal_the_torch_ops_features(layout) -> None:
    """Every operation of ``_features`` in its order; the CIELAB powers (``x ** 2.4``, the
    cube root) are exp2/log2 in the kernel: within 2e-6 of the largest feature. Other
    channel counts involve no power: exact."""
    from hsmix_torch.data import sample_volumes
    from hsmix_torch.kernels.slic_features import slic_features

    x = builtin_batch(2, size=24)[0].float().div(255).to(DEVICE)
    images = {
        "rgb": x,
        "rgb-channels-last": x.contiguous(memory_format=torch.channels_last),
        "uint8": (x * 255).round().to(torch.uint8),
        "half": x.half(),
        "grey": x[:, :1],
        "four": torch.cat([x, x[:, :1]], 1),
        "volume": sample_volumes((4, 6, 5), count=2)[0].to(DEVICE),
        "view": x[:, :, ::2],
    }[layout]
    for m in (8.0, 0.1):
        ref = _features(images, m)
        out = slic_features(images, m)
        assert out.shape == ref.shape and out.is_contiguous()
        if images.shape[1] == 3:
            assert float((out - ref).abs().max()) <= 2e-6 * float(ref.abs().max())
        else:
            assert torch.equal(out, ref)


def test_whole_slic_has_the_quality_of_the_torch_ops(rgb_batch) -> None:
    """With the kernels' features the labels may differ from the torch ops' where a CIELAB
    rounding tips a tie: the superpixel quality against the ground truth (ASA, boundary
    recall, undersegmentation error) stays within 0.01 and nearly every pixel keeps its
    label (Kvasir-SEG, or the built-in samples). Grey features are bit-exact
    (``test_features_equal_the_torch_ops_features``): grey labels are the torch ops'."""
    from hsmix_torch.metrics import average_quality, superpixel_quality

    images, truth = rgb_batch
    images = torch.nn.functional.interpolate(images[:2].float(), size=32, mode="area")
    truth = torch.nn.functional.interpolate(truth[:2, None].float(), size=32)[:, 0].long()
    images = images.round().to(torch.uint8).to(DEVICE)
    n = torch.tensor([10, 20], device=DEVICE)
    kw = dict(max_num_iter=3, max_segments=20)
    ref = slic(images, n, kernels="torch", **kw).cpu()
    out = slic(images, n, kernels="triton", **kw).cpu()
    assert float((out == ref).float().mean()) > 0.97
    q_ref = average_quality([superpixel_quality(r, t) for r, t in zip(ref, truth, strict=True)])
    q_out = average_quality([superpixel_quality(o, t) for o, t in zip(out, truth, strict=True)])
    for key in ("asa", "boundary_recall", "undersegmentation_error"):
        assert abs(q_out[key] - q_ref[key]) <= 0.01, key


def test_kernels_argument_is_checked() -> None:
    from hsmix_torch.superpixels import get_backend

    with pytest.raises(ValueError, match="kernels must be one of"):
        slic(torch.rand(1, 3, 8, 8), torch.tensor([4]), kernels="cuda")
    with pytest.raises(ValueError, match="kernels must be one of"):
        get_backend("torch", kernels="fast")
    with pytest.raises(ValueError, match="fused=True compiles"):
        get_backend("torch", fused=True, kernels="triton")
    assert resolve_kernels("auto", torch.device("cpu")) == "torch"
    assert resolve_kernels("torch", torch.device("cuda")) == "torch"
    with pytest.raises(ValueError, match="cannot run here"):
        resolve_kernels("triton", torch.device("meta"))


def test_auto_falls_back_to_torch_ops_with_a_warning_when_the_kernel_fails() -> None:
    from hsmix_torch import kernels

    def broken(*args, **kwargs):
        raise RuntimeError("no such PTX")

    run = kernels.with_fallback("test_kernel", broken, lambda x: x + 1)
    with pytest.warns(RuntimeWarning, match="test_kernel failed"):
        assert run(1) == 2
    assert run(2) == 3  # the kernel is not tried again
    kernels._FAILED.discard("test_kernel")


@cuda
@pytest.mark.parametrize("size", [224, 512])
def test_cuda_equals_torch_ops_at_full_size(size, any_rgb_batch) -> None:
    images = any_rgb_batch[0][:4].cuda()
    if size != 224:
        images = torch.nn.functional.interpolate(images.float(), size=size).to(torch.uint8)
    n = torch.tensor([30, 50, 80, 60], device="cuda")
    ref = slic(images, n, kernels="torch", max_segments=80, sync_free=True)
    out = slic(images, n, kernels="triton", max_segments=80, sync_free=True)
    assert float((out == ref).float().mean()) > 0.99  # the CIELAB powers, see above
