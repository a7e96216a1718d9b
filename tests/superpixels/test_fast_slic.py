"""The fast-slic CPU backend: labels, input conversion, and quality against scikit-image.

fast-slic is a different SLIC implementation (subsampled updates, Manhattan distances), so
it is held to looser bounds than the torch backend: mean ASA within 1 point of
scikit-image's, boundary recall within 5 points, undersegmentation error at most 1.5 times,
no fragmented labels, and a segment count within 30 % of scikit-image's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import hsmix_torch.superpixels.fast_slic as fs
from hsmix_torch.metrics import average_quality, superpixel_quality
from hsmix_torch.superpixels import get_backend, resolve_auto

from .test_torch_slic import _skimage, load_case

pytest.importorskip("fast_slic")


@pytest.mark.parametrize(
    "name,m",
    [("builtin_rgb", 8.0), ("Kvasir_SEG", 8.0), ("CHASE_DB1", 8.0), ("BUSI", 0.1)],
)
@pytest.mark.parametrize("n", [50, 150])
def test_quality_against_skimage(name, m, n) -> None:
    images, masks = load_case(name)
    labels = get_backend("fast_slic", compactness=m)(images, torch.full((len(images),), n))
    ours, ref = [], []
    for i in range(len(images)):
        lab = labels[i].numpy()
        assert np.array_equal(np.unique(lab), np.arange(lab.max() + 1))
        ours.append(superpixel_quality(lab, masks[i]))
        ref.append(superpixel_quality(_skimage(images[i], n, m), masks[i]))

    ours, ref = average_quality(ours), average_quality(ref)

    assert ours["asa"] >= ref["asa"] - 0.01
    assert ours["boundary_recall"] >= ref["boundary_recall"] - 0.05
    assert ours["undersegmentation_error"] <= 1.5 * ref["undersegmentation_error"]
    assert ours["fragmented"] == 0.0
    assert abs(ours["n_segments"] - ref["n_segments"]) <= 0.3 * ref["n_segments"]


def test_labels_are_renumbered_when_fast_slic_leaves_gaps() -> None:
    raw = np.array([[7, 7, 2], [2, 9, 0]], dtype=np.int16)  # labels 1, 3-6 and 8 are unused
    out = np.empty(raw.shape, dtype=np.int64)
    fs._write_contiguous(raw, out)
    assert np.array_equal(out, np.unique(raw, return_inverse=True)[1].reshape(raw.shape))
    fs._write_contiguous(np.array([[1, 0, 0], [2, 1, 3]], dtype=np.int16), out)  # contiguous
    assert np.array_equal(out, [[1, 0, 0], [2, 1, 3]])


def test_thread_pool_gives_the_same_labels_as_one_thread(rgb_batch, grey_batch) -> None:
    """Images spread over a pool, a pool wider than the batch, and one by one agree."""
    for images in (rgb_batch[0][:5], grey_batch[0][:3]):
        n = torch.tensor([30, 45, 60, 75, 90])[: len(images)]
        one_by_one = get_backend("fast_slic", num_threads=1)(images, n)
        for threads in (2, 3, 8, -1):
            assert torch.equal(get_backend("fast_slic", num_threads=threads)(images, n), one_by_one)
        single = get_backend("fast_slic", num_threads=2)(images[:1], n[:1])  # 2 threads, 1 image
        assert torch.equal(single, one_by_one[:1])


def test_default_threads_follow_torch(monkeypatch, rgb_batch) -> None:
    """num_threads=-1 uses torch's thread count: one thread (DataLoader workers) means no pool."""
    pools = []

    class RecordingPool(fs.ThreadPoolExecutor):
        def __init__(self, workers: int) -> None:
            pools.append(workers)
            super().__init__(workers)

    monkeypatch.setattr(fs, "ThreadPoolExecutor", RecordingPool)
    backend, images, n = get_backend("fast_slic"), rgb_batch[0][:3], torch.tensor([30, 40, 50])
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        backend(images, n)
        assert pools == []
        torch.set_num_threads(2)
        backend(images, n)
        assert pools == [2]
    finally:
        torch.set_num_threads(threads)


def test_num_threads_must_be_an_int() -> None:
    for bad in (True, 2.0, "2"):
        with pytest.raises(TypeError, match="num_threads must be an int"):
            fs.FastSlicBackend(num_threads=bad)
    with pytest.raises(ValueError, match="num_threads"):
        fs.FastSlicBackend(num_threads=-2)


def test_value_ranges_and_channel_counts(rgb_batch, grey_batch) -> None:
    backend = get_backend("fast_slic")
    n = torch.tensor([40, 60, 80])
    images = rgb_batch[0][:3]
    ref = backend(images, n)
    # Any value range is stretched per image to 0..255 (up to rounding), as scikit-image does.
    for same_image in (images.float() / 255, images.double() * 4 - 300):
        u8 = torch.from_numpy(fs._to_uint8_rgb(same_image)).int()
        assert (u8 - torch.from_numpy(fs._to_uint8_rgb(images)).int()).abs().max() <= 1
    assert (backend(images.float() / 255, n) == ref).float().mean() > 0.97
    grey = grey_batch[0][:3]
    grey_ref = backend(grey, n)
    hounsfield = backend(grey.float() / 255 * 1400 - 1000, n)  # a CT-like value range
    k_hu, k_ref = hounsfield.flatten(1).amax(1), grey_ref.flatten(1).amax(1)
    assert ((k_hu - k_ref).abs() <= 0.1 * k_ref).all()
    four = torch.cat([grey, grey, grey, grey], dim=1)  # channel mean = the grey image
    assert torch.equal(backend(four, n), grey_ref)
    # Real superpixels, not a handful (low-contrast grey histology merges to about n / 3).
    assert (grey_ref.flatten(1).amax(1) + 1 >= n // 4).all()


def test_auto_and_missing_package(monkeypatch) -> None:
    from hsmix_torch.superpixels import SkimageBackend, available_backends, registry

    assert resolve_auto(torch.device("cpu")) == "fast_slic"
    monkeypatch.setattr(fs, "fast_slic_available", lambda: False)
    with pytest.raises(ImportError, match="no-build-isolation"):
        fs.FastSlicBackend()
    # The registry says what can run here; "auto" follows it.
    monkeypatch.setitem(registry._REGISTRY, "fast_slic", (fs.FastSlicBackend, lambda: False))
    assert "fast_slic" not in available_backends()
    assert resolve_auto(torch.device("cpu")) == "skimage"
    monkeypatch.setitem(registry._REGISTRY, "skimage", (SkimageBackend, lambda: False))
    assert resolve_auto(torch.device("cpu")) == "torch"  # no optional package at all
