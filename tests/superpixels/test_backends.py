"""The superpixel backend protocol, the registry, and the grid and scikit-image backends."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hsmix_torch.superpixels import (
    CallableBackend,
    GridBackend,
    SkimageBackend,
    available_backends,
    default_compactness,
    get_backend,
)


def _contiguous(labels: torch.Tensor) -> bool:
    return all(torch.equal(lab.unique(), torch.arange(int(lab.max()) + 1)) for lab in labels)


def test_registry() -> None:
    assert {"grid", "skimage"} <= set(available_backends())
    assert isinstance(get_backend("grid"), GridBackend)
    backend = get_backend("skimage", compactness=3.0)
    assert isinstance(backend, SkimageBackend) and backend.compactness == 3.0
    assert get_backend(backend) is backend
    assert isinstance(get_backend(lambda x, n: x[:, 0].long()), CallableBackend)
    with pytest.raises(ValueError, match="superpixels must be"):
        get_backend("nope")
    with pytest.raises(TypeError, match="superpixels must be"):
        get_backend(3)
    assert default_compactness(3) == 8.0 and default_compactness(1) == 0.1


@pytest.mark.parametrize("h,w", [(224, 224), (37, 101), (1, 9)])
def test_grid_is_contiguous_and_close_to_requested(h, w) -> None:
    n = torch.tensor([1, 4, 30, 80, 10_000])
    labels = get_backend("grid")(torch.rand(5, 3, h, w), n)
    assert labels.shape == (5, h, w) and labels.dtype == torch.long
    assert _contiguous(labels)
    counts = labels.flatten(1).amax(1) + 1
    if h == w == 224:
        assert counts[0] == 1 and counts[1] == 4
        assert ((counts[:4] - n[:4]).abs() <= 0.15 * n[:4]).all()
    assert (counts <= h * w).all()


def test_skimage_backend_equals_skimage(rgb_batch, grey_batch) -> None:
    from skimage.segmentation import slic

    backend = get_backend("skimage")
    for images, axis, m in [(rgb_batch[0][:3], -1, 8.0), (grey_batch[0][:3], None, 0.1)]:
        x = images.float() / 255
        n = torch.tensor([30, 50, 80])
        labels = backend(x, n)
        assert _contiguous(labels)
        for i in range(3):
            img = x[i].permute(1, 2, 0).numpy()
            img = img[..., 0] if axis is None else img
            ref = slic(img, n_segments=int(n[i]), compactness=m, start_label=0, channel_axis=axis)
            assert np.array_equal(labels[i].numpy(), ref)


def test_scalar_n_segments_broadcasts_and_bad_shapes_fail() -> None:
    x = torch.rand(3, 1, 20, 20)
    assert get_backend("grid")(x, torch.tensor(4)).shape == (3, 20, 20)
    with pytest.raises(ValueError, match="n_segments must be a scalar or have shape"):
        get_backend("grid")(x, torch.tensor([4, 5]))
    with pytest.raises(ValueError, match=r"images must have shape \[B, C, H, W\]"):
        get_backend("grid")(x[0], torch.tensor(4))
    assert get_backend("grid")(x[:0], torch.tensor([], dtype=torch.long)).shape == (0, 20, 20)


def test_callable_output_is_checked() -> None:
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match="must have shape"):
        get_backend(lambda x, n: torch.zeros(2, 8, 7, dtype=torch.long))(x, torch.tensor([2, 2]))
    with pytest.raises(TypeError, match="integer"):
        get_backend(lambda x, n: torch.zeros(2, 8, 8))(x, torch.tensor([2, 2]))
    with pytest.raises(ValueError, match=r"\[0, H\*W\)"):
        get_backend(lambda x, n: torch.full((2, 8, 8), -1))(x, torch.tensor([2, 2]))


def test_auto_backend_runs_on_cpu(rgb_batch) -> None:
    x = rgb_batch[0][:2].float() / 255
    labels = get_backend("auto")(x, torch.tensor([30, 60]))
    assert labels.shape == (2, 224, 224) and _contiguous(labels)
