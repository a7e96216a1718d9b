"""Supervoxels: every backend on volumes [B, C, D, H, W], the torch 3-D SLIC against
scikit-image's 3-D slic (its grid, its distance with spacing, 6-connected supervoxels), on
the built-in phantom volumes and on the MSD hippocampus MRI crops of ../shared/data.

Quality goal (issue: volumes), on every volume at every n: ASA and boundary recall within
1 point of scikit-image's, undersegmentation error at most 1.1 times its, no fragmented
supervoxel.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hsmix_torch.data import sample_volumes
from hsmix_torch.functional.slic_grid import _regular_grid
from hsmix_torch.metrics import (
    achievable_segmentation_accuracy,
    fragmented_fraction,
    superpixel_quality,
)
from hsmix_torch.superpixels import get_backend, resolve_auto, slic

from ..conftest import load_hippocampus

skimage = pytest.importorskip("skimage")
from skimage.segmentation import slic as skimage_slic  # noqa: E402
from skimage.util import regular_grid  # noqa: E402


@pytest.mark.parametrize(
    "shape", [(35, 52, 34), (1, 40, 30), (5, 64, 64), (96, 96, 96), (3, 4, 5), (7, 2, 50)]
)
@pytest.mark.parametrize("n", [1, 8, 50, 100, 200, 1000])
def test_grid_is_scikit_images_regular_grid(shape, n) -> None:
    offsets, steps = _regular_grid(shape, n)
    ref = regular_grid(shape, n)
    assert offsets == [s.start or 0 for s in ref]
    assert steps == [s.step or 1 for s in ref]


def _skimage(volume: torch.Tensor, n: int, spacing=None, **kw) -> np.ndarray:
    return skimage_slic(
        volume[0].double().numpy(),
        n_segments=n,
        compactness=0.1,
        start_label=0,
        channel_axis=None,
        spacing=None if spacing is None else np.asarray(spacing),
        **kw,
    )


@pytest.mark.parametrize("spacing", [None, (1.0, 0.7, 0.5)])
def test_kmeans_labels_agree_with_scikit_image(spacing) -> None:
    """Without the connectivity step, with the exact search (R = 4): the supervoxels of both
    are the same to within 2 % of the voxels either way (float32 against float64 ties)."""
    volumes = sample_volumes((16, 24, 20), count=2)[0]
    ours = slic(
        volumes,
        torch.tensor([60, 150]),
        compactness=0.1,
        search_radius=4,
        enforce_connectivity=False,
        spacing=spacing,
    )
    for i, n in enumerate((60, 150)):
        ref = torch.from_numpy(_skimage(volumes[i], n, spacing, enforce_connectivity=False))
        assert achievable_segmentation_accuracy(ours[i], ref) > 0.98
        assert achievable_segmentation_accuracy(ref, ours[i]) > 0.98


def _quality_gaps(volumes, labels, spacings, n: int) -> list[dict[str, float]]:
    """Per volume: the torch 3-D SLIC's ASA and boundary recall minus scikit-image's (in
    points), its undersegmentation error over scikit-image's, and its fragmented share."""
    backend = get_backend("torch", compactness=0.1)
    gaps = []
    for x, y, sp in zip(volumes, labels, spacings, strict=True):
        a = superpixel_quality(backend(x[None], n, spacing=sp)[0], y)
        b = superpixel_quality(torch.from_numpy(_skimage(x, n, sp)), y)
        gaps.append(
            {
                "asa": 100 * (a.asa - b.asa),
                "br": 100 * (a.boundary_recall - b.boundary_recall),
                "ue": a.undersegmentation_error / b.undersegmentation_error,
                "fragmented": a.fragmented,
            }
        )
    return gaps


def _assert_goals(gaps: list[dict[str, float]]) -> None:
    """The goals on every volume (not only on the means)."""
    for g in gaps:
        assert g["asa"] >= -1 and g["br"] >= -1, g
        assert g["ue"] <= 1.1, g
        assert g["fragmented"] == 0, g


@pytest.mark.parametrize("n", [50, 200])
def test_quality_goals_on_the_builtin_volumes(n) -> None:
    volumes, masks = sample_volumes((24, 32, 32), count=4)
    _assert_goals(_quality_gaps(list(volumes), list(masks), [(1.0, 1.0, 1.0)] * 4, n))


@pytest.mark.parametrize("n", [50, 200])
def test_quality_goals_on_hippocampus_mri(n) -> None:
    """Every sixteenth MSD hippocampus case (3 of 40; benchmarks/superpixel_quality.py
    --volumes measures all 40 per case at n = 50, 100, 200, table in docs/results/volumes.md)."""
    images, labels, spacings, _ = load_hippocampus()
    _assert_goals(_quality_gaps(images[::16], labels[::16], spacings[::16], n))


def test_supervoxels_are_six_connected_and_contiguous() -> None:
    volumes = sample_volumes((16, 24, 20), count=2)[0]
    labels = slic(volumes, torch.tensor([40, 90]), compactness=0.1)
    for lab in labels:
        assert fragmented_fraction(lab) == 0
        assert torch.equal(lab.unique(), torch.arange(int(lab.max()) + 1))


def test_a_volume_of_depth_one_is_the_image() -> None:
    """scikit-image's rule: a 2-D image is a volume of depth 1; so is ours, label for label."""
    volumes = sample_volumes((9, 40, 36), count=2)[0][:, :, 4:5]
    n = torch.tensor([30, 60])
    assert torch.equal(slic(volumes, n)[:, 0], slic(volumes[:, :, 0], n))
    assert torch.equal(
        get_backend("grid")(volumes, n)[:, 0], get_backend("grid")(volumes[:, :, 0], n)
    )


def test_more_segments_than_voxels_gives_one_supervoxel_per_voxel() -> None:
    volumes = sample_volumes((2, 3, 4), count=1)[0]
    labels = slic(volumes, torch.tensor([100]))
    assert torch.equal(labels.flatten().sort().values, torch.arange(24))


@pytest.mark.parametrize("name", ["torch", "skimage", "grid"])
def test_backends_segment_volumes(name) -> None:
    volumes = sample_volumes((12, 20, 16), count=2)[0]
    backend = get_backend(name)
    labels = backend(volumes, torch.tensor([20, 40]), max_segments=40, spacing=(2.0, 1.0, 1.0))
    assert labels.shape == (2, 12, 20, 16) and labels.dtype == torch.int64
    assert labels.min() >= 0
    assert int(labels.max()) < backend.label_bound((12, 20, 16), 40, labels.device)
    for lab in labels:
        assert 10 <= len(lab.unique()) <= 80


def test_grid_cells_follow_the_spacing() -> None:
    """20 slices of 5 mm and 100 x 100 pixels of 1 mm: a cube of 100 mm, so the cells are
    as many along D as along H and W with the spacing (cubes in mm), and fewer without."""
    volumes = torch.zeros(1, 1, 20, 100, 100)
    grid = get_backend("grid")
    flat = grid(volumes, 64)[0]
    thick = grid(volumes, 64, spacing=(5.0, 1.0, 1.0))[0]

    def along(labels: torch.Tensor, axis: int) -> int:  # cells met along one line of voxels
        return len(labels.movedim(axis, 0)[:, 0, 0].unique())

    assert along(thick, 0) == along(thick, 1) == along(thick, 2) == 4
    assert along(flat, 0) < along(flat, 1)
    bound = grid.label_bound((20, 100, 100), 64, volumes.device, (5.0, 1.0, 1.0))
    assert len(thick.unique()) == bound == 64


def test_auto_picks_a_backend_that_segments_volumes() -> None:
    assert resolve_auto(torch.device("cpu"), 3) in ("skimage", "torch")
    assert resolve_auto(torch.device("cuda"), 3) == "torch"
    labels = get_backend("auto")(sample_volumes(10, count=1)[0], 20)
    assert labels.shape == (1, 10, 10, 10)


def test_fast_slic_refuses_volumes_and_spacing() -> None:
    pytest.importorskip("fast_slic")
    backend = get_backend("fast_slic")
    with pytest.raises(ValueError, match="2,\\) spatial axes"):
        backend(sample_volumes(8, count=1)[0], 10)
    with pytest.raises(ValueError, match="no pixel spacing"):
        backend(torch.rand(1, 3, 16, 16), 10, spacing=(2.0, 1.0))


def test_callables_get_volumes_and_the_spacing() -> None:
    seen = {}

    def split(images, n_segments, spacing=None):
        seen["spacing"] = spacing
        return (
            (torch.arange(images.shape[2]) >= images.shape[2] // 2)
            .long()
            .view(1, -1, 1, 1)
            .expand(images.shape[0], *images.shape[2:])
        )

    backend = get_backend(split)
    labels = backend(torch.rand(2, 1, 6, 5, 4), 2, spacing=(3, 1, 1))
    assert labels.shape == (2, 6, 5, 4) and seen["spacing"] == (3.0, 1.0, 1.0)


def test_bad_spacing_and_shapes_are_errors() -> None:
    volumes = torch.rand(1, 1, 6, 8, 8)
    backend = get_backend("torch")
    with pytest.raises(ValueError, match="one value per spatial axis \\(3\\)"):
        backend(volumes, 4, spacing=(1.0, 1.0))
    with pytest.raises(ValueError, match="finite values > 0"):
        backend(volumes, 4, spacing=(1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="finite values > 0"):
        backend(volumes, 4, spacing=(1.0, float("nan"), 1.0))
    with pytest.raises(TypeError, match="sequence of floats"):
        backend(volumes, 4, spacing=2.0)
    with pytest.raises(ValueError, match=r"\[B, C, D, H, W\]"):
        backend(torch.rand(1, 1, 2, 6, 8, 8), 4)
