"""The Triton fine-grained saliency equals the torch-ops map bit for bit (and so OpenCV's):
RGB, grey, odd sizes, constant images, 1- and 2-pixel axes. Per-image maxima are integer
atomic_max, whose result does not depend on the order of the programs."""

from __future__ import annotations

import pytest
import torch

from hsmix_torch.kernels import triton_available
from hsmix_torch.saliency import fine_grained

from ..conftest import builtin_batch

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.parametrize(
    "shape",
    [(2, 3, 48, 48), (2, 1, 40, 48), (1, 3, 37, 45), (1, 3, 2, 5), (1, 3, 1, 7), (1, 4, 24, 20)],
)
def test_map_equals_the_torch_ops_map(shape) -> None:
    b, c, h, w = shape
    images = builtin_batch(b, channels=1 if c == 1 else 3, size=48)[0][:, :, :h, :w]
    if c == 4:
        images = torch.cat([images, images[:, :1]], dim=1)
    for x in (images, images.float() / 255):
        x = x.to(DEVICE)
        assert torch.equal(fine_grained(x, kernels="triton"), fine_grained(x, kernels="torch"))
    flat = torch.full((1, 3, 20, 24), 0.4, device=DEVICE)
    assert not fine_grained(flat, kernels="triton").any()


def test_map_equals_opencv() -> None:
    cv2 = pytest.importorskip("cv2")
    if not hasattr(cv2, "saliency"):
        pytest.skip("opencv-contrib (cv2.saliency) is not installed")
    images = builtin_batch(2, size=40)[0]
    ours = fine_grained(images.to(DEVICE), kernels="triton").cpu()
    for i in range(2):
        bgr = images[i].permute(1, 2, 0).numpy()[..., ::-1].copy()
        ok, ref = cv2.saliency.StaticSaliencyFineGrained_create().computeSaliency(bgr)
        assert ok and torch.equal(ours[i, 0], torch.from_numpy(ref))


def test_hsmix_passes_kernels_to_the_saliency() -> None:
    from hsmix_torch import HSMix

    for saliency in ("auto", "fine_grained"):  # images and volumes (slice by slice)
        aug = HSMix(superpixels="grid", kernels="triton", saliency=saliency)
        assert "kernels='triton'" in repr(aug.saliency_fn)
    with pytest.raises(ValueError, match="cannot run here"):
        fine_grained(torch.rand(1, 3, 8, 8, device="meta"), kernels="triton")
