"""Saliency of volumes: OpenCV's maps slice by slice (parity with cv2 on every slice), and
the 3-D spectral residual (its reduction to depth 1, its behaviour under axis flips, what it
finds), on the built-in phantom volumes and the MSD hippocampus MRI crops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hsmix_torch.data import pad_volumes, sample_volumes
from hsmix_torch.saliency import (
    VOLUME_DEFAULT,
    fine_grained,
    get_saliency,
    spectral_residual,
    spectral_residual_3d,
)

from ..conftest import DATA, load_hippocampus

cv2 = pytest.importorskip("cv2")
if not hasattr(cv2, "saliency"):  # pragma: no cover
    pytest.skip("opencv-contrib (cv2.saliency) is not installed", allow_module_level=True)

SR_TOL = 1e-6  # as for 2-D images (tests/saliency/test_opencv_parity.py)
# OpenCV's fast atan2 (the 2-D map's phase, errors up to about 0.3 degrees) is not
# symmetric under flips: the 2-D map itself moves by up to 0.004 when its image is flipped.
FLIP_TOL = 0.02
FLIP_MEAN_TOL = 0.05  # mean |change| over the mean map


def _volumes() -> torch.Tensor:
    """Built-in phantoms, and two hippocampus crops when ../shared/data is there."""
    volumes = [sample_volumes((10, 36, 30), count=2)[0]]
    if DATA.is_dir():
        images = load_hippocampus(limit=2)[0]
        volumes.append(pad_volumes(images)[:, :, :10])
    return volumes


@pytest.mark.parametrize("name", ["fine_grained", "spectral_residual"])
def test_per_slice_maps_are_opencvs_on_every_slice(name) -> None:
    algo = {
        "fine_grained": cv2.saliency.StaticSaliencyFineGrained_create,
        "spectral_residual": cv2.saliency.StaticSaliencySpectralResidual_create,
    }[name]
    for volumes in _volumes():
        ours = get_saliency(name)(volumes)
        assert ours.shape == (volumes.shape[0], 1, *volumes.shape[2:])
        u8 = (volumes * 255).round().to(torch.uint8).numpy()
        for b in range(volumes.shape[0]):
            for z in range(volumes.shape[2]):
                ok, ref = algo().computeSaliency(np.ascontiguousarray(u8[b, 0, z]))
                err = np.abs(ours[b, 0, z].numpy() - ref).max()
                assert ok and err <= (0 if name == "fine_grained" else SR_TOL), (b, z, err)


def test_spectral_residual_3d_of_depth_one_is_the_2d_map() -> None:
    images = sample_volumes((5, 40, 33), count=3)[0][:, :, 2]
    ours = spectral_residual_3d(images[:, :, None])[:, :, 0]
    assert torch.allclose(ours, spectral_residual(images), atol=SR_TOL, rtol=0)
    assert torch.equal(spectral_residual_3d(images), ours)  # images are taken as depth 1


@pytest.mark.parametrize("axis", [2, 3, 4])
def test_spectral_residual_3d_flips_with_its_volume(axis) -> None:
    for volumes in _volumes():
        sal = spectral_residual_3d(volumes)
        flipped = spectral_residual_3d(volumes.flip(axis)).flip(axis)
        change = (flipped - sal).abs()
        assert change.max() <= FLIP_TOL and change.mean() <= FLIP_MEAN_TOL * sal.mean()
        assert torch.corrcoef(torch.stack([flipped.flatten(), sal.flatten()]))[0, 1] > 0.99


def test_spectral_residual_3d_finds_a_small_bright_blob() -> None:
    """A small bright sphere in a noisy volume: the map's maximum is at the sphere, and it
    is salient in every slice through it (a per-slice map sees each slice alone)."""
    g = torch.Generator().manual_seed(0)
    z, y, x = torch.meshgrid(*(torch.arange(32.0),) * 3, indexing="ij")
    blob = ((z - 20) ** 2 + (y - 10) ** 2 + (x - 14) ** 2 <= 9).float()
    volume = (0.3 + 0.05 * torch.rand(32, 32, 32, generator=g) + 0.6 * blob)[None, None]
    sal = spectral_residual_3d(volume)[0, 0]
    peak = torch.stack(torch.unravel_index(sal.argmax(), sal.shape)).float()
    assert (peak - torch.tensor([20.0, 10.0, 14.0])).norm() <= 4
    assert sal[blob > 0].mean() > 5 * sal[blob == 0].mean()


def test_auto_is_fine_grained_for_images_and_the_measured_map_for_volumes() -> None:
    auto = get_saliency("auto")
    images = torch.rand(2, 3, 24, 24)
    assert torch.equal(auto(images), fine_grained(images))
    volumes = sample_volumes(12, count=1)[0]
    assert torch.equal(auto(volumes), get_saliency(VOLUME_DEFAULT)(volumes))


def test_bad_volume_input() -> None:
    with pytest.raises(ValueError, match="D >= 1"):
        spectral_residual_3d(torch.rand(1, 1, 0, 8, 8))
    with pytest.raises(ValueError, match=r"\[B, C, D, H, W\]"):
        spectral_residual_3d(torch.rand(8, 8, 8))
    assert spectral_residual_3d(torch.rand(0, 1, 4, 8, 8)).shape == (0, 1, 4, 8, 8)
    constant = spectral_residual_3d(torch.full((1, 1, 6, 8, 8), 0.5))
    assert torch.isfinite(constant).all() and constant.min() >= 0
