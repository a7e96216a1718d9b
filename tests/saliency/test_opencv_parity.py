"""Saliency parity with OpenCV (cv2.saliency, opencv-contrib) on real images.

Tolerances: fine-grained is bit-exact (max |diff| = 0); spectral residual within 1e-6
(OpenCV and torch FFTs round differently; saliency.md measured about 1.2e-7).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hsmix_torch.saliency import fine_grained, spectral_residual

from ..conftest import GREY_SETS, RGB_SETS, load_set

cv2 = pytest.importorskip("cv2")
if not hasattr(cv2, "saliency"):  # pragma: no cover
    pytest.skip("opencv-contrib (cv2.saliency) is not installed", allow_module_level=True)

SR_TOL = 1e-6


def _opencv(kind: str, image_chw_u8: torch.Tensor) -> np.ndarray:
    """OpenCV's map for an RGB (or grey) uint8 [C, H, W] tensor: BGR order, uint8 input."""
    arr = image_chw_u8.permute(1, 2, 0).numpy()
    arr = (
        np.ascontiguousarray(arr[..., ::-1])
        if arr.shape[2] == 3
        else np.ascontiguousarray(arr[..., 0])
    )
    assert arr.dtype == np.uint8  # never hand OpenCV's fine-grained saliency a float image
    algo = (
        cv2.saliency.StaticSaliencyFineGrained_create()
        if kind == "fine_grained"
        else cv2.saliency.StaticSaliencySpectralResidual_create()
    )
    ok, sal = algo.computeSaliency(arr)
    assert ok
    return sal


def _compare(images_u8: torch.Tensor, as_float: bool) -> tuple[float, float]:
    inputs = images_u8.float() / 255 if as_float else images_u8
    ours_fg = fine_grained(inputs)
    ours_sr = spectral_residual(inputs)
    assert ours_fg.shape == ours_sr.shape == (images_u8.shape[0], 1, *images_u8.shape[2:])
    assert ours_fg.dtype == ours_sr.dtype == torch.float32
    fg_err = sr_err = 0.0
    for i in range(images_u8.shape[0]):
        fg_err = max(
            fg_err,
            float(np.abs(ours_fg[i, 0].numpy() - _opencv("fine_grained", images_u8[i])).max()),
        )
        sr_err = max(
            sr_err, float(np.abs(ours_sr[i, 0].numpy() - _opencv("spectral", images_u8[i])).max())
        )
    return fg_err, sr_err


@pytest.mark.parametrize("name", RGB_SETS + GREY_SETS)
@pytest.mark.parametrize("as_float", [False, True], ids=["uint8", "float01"])
def test_parity_on_shared_data(name: str, as_float: bool) -> None:
    images, _ = load_set(name, size=224, limit=4)
    fg_err, sr_err = _compare(images, as_float)
    assert fg_err == 0.0
    assert sr_err <= SR_TOL


def test_parity_on_skimage_samples(skimage_samples: list[torch.Tensor]) -> None:
    for image in skimage_samples:
        for as_float in (False, True):
            fg_err, sr_err = _compare(image[None], as_float)
            assert fg_err == 0.0
            assert sr_err <= SR_TOL


def test_parity_odd_sizes_and_uncropped_shapes() -> None:
    """Non-square, odd and tiny sizes, smaller than SR's 64x64 working size included."""
    from skimage import data

    ihc = torch.from_numpy(data.immunohistochemistry()).permute(2, 0, 1)
    for h, w in [(97, 131), (255, 201), (33, 47), (17, 9)]:
        img = ihc[:, 100 : 100 + h, 50 : 50 + w].contiguous()
        fg_err, sr_err = _compare(img[None], as_float=False)
        assert fg_err == 0.0
        assert sr_err <= SR_TOL


def test_fine_grained_parity_on_axes_shorter_than_the_border() -> None:
    """1- and 2-pixel axes take the gather path of reflect-101 padding, longer ones torch's pad."""
    from skimage import data

    ihc = torch.from_numpy(data.immunohistochemistry()).permute(2, 0, 1)
    for h, w in [(1, 40), (40, 1), (2, 3), (1, 1), (2, 2), (3, 2)]:
        img = ihc[:, 200 : 200 + h, 300 : 300 + w].contiguous()
        ours = fine_grained(img[None])[0, 0].numpy()
        assert np.abs(ours - _opencv("fine_grained", img)).max() == 0.0


def test_batch_equals_single_images(rgb_batch) -> None:
    images, _ = rgb_batch
    for fn in (fine_grained, spectral_residual):
        batch = fn(images[:3])
        for i in range(3):
            assert torch.equal(batch[i], fn(images[i : i + 1])[0])


def test_fine_grained_parity_on_synthetic_edge_cases() -> None:
    """Blocks, a dark dot on white (OFF response only), stripes, a bright corner: bit-exact."""
    cases = []
    a = np.zeros((120, 140), np.uint8)
    a[50:54, 60:64] = 255
    b = np.full((90, 100), 255, np.uint8)
    b[40:43, 50:53] = 0
    c = np.zeros((100, 100), np.uint8)
    c[::7, :] = 255
    c[:, ::9] = 128
    d = np.zeros((64, 64), np.uint8)
    d[0:3, 0:3] = 255
    cases += [a, b, c, d, np.full((10, 12), 77, np.uint8), np.zeros((1, 1), np.uint8)]
    for img in cases:
        ref = _opencv("fine_grained", torch.from_numpy(img)[None])
        ours = fine_grained(torch.from_numpy(img)[None, None])[0, 0].numpy()
        assert np.array_equal(ours, ref)
