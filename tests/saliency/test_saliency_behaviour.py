"""Defined behaviour of the saliency maps beyond OpenCV parity."""

from __future__ import annotations

import pytest
import torch

from hsmix_torch.saliency import fine_grained, get_saliency, spectral_residual

FNS = [fine_grained, spectral_residual]


@pytest.mark.parametrize("fn", FNS)
def test_range_dtype_device(fn, rgb_batch) -> None:
    images, _ = rgb_batch
    out = fn(images[:2].float() / 255)
    assert out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert out.device == images.device


def test_constant_image_has_no_fine_grained_saliency() -> None:
    out = fine_grained(torch.full((2, 3, 40, 50), 0.3))
    assert torch.equal(out, torch.zeros(2, 1, 40, 50))


@pytest.mark.parametrize("fn", FNS)
def test_float_is_read_as_its_uint8_version(fn, rgb_batch) -> None:
    images, _ = rgb_batch
    assert torch.equal(fn(images[:2]), fn(images[:2].double() / 255))
    # Values outside [0, 1] are clamped, NaN reads as 0.
    x = images[:1].float() / 255
    x_bad = x.clone()
    x_bad[..., :5, :5] = float("nan")
    x_bad[..., 5:10, :5] = 7.0
    x_ref = x.clone()
    x_ref[..., :5, :5] = 0.0
    x_ref[..., 5:10, :5] = 1.0
    assert torch.equal(fn(x_bad), fn(x_ref))


@pytest.mark.parametrize("fn", FNS)
def test_other_channel_counts_use_the_channel_mean(fn, rgb_batch) -> None:
    images, _ = rgb_batch
    four = torch.cat([images[:2], images[:2, :1]], dim=1)  # 4 channels
    mean = ((four.int().sum(1, keepdim=True) + 2) // 4).to(torch.uint8)
    assert torch.equal(fn(four), fn(mean))


@pytest.mark.parametrize("fn", FNS)
def test_empty_and_half_precision(fn) -> None:
    assert fn(torch.zeros(0, 3, 32, 32)).shape == (0, 1, 32, 32)
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(fn(x.half()), fn(x.half().float()))


def test_bad_input_errors() -> None:
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        fine_grained(torch.rand(3, 32, 32))
    for fn in FNS:
        with pytest.raises(ValueError, match="C >= 1"):
            fn(torch.rand(1, 0, 8, 8))
    with pytest.raises(TypeError, match="floating point or uint8"):
        spectral_residual(torch.zeros(1, 1, 8, 8, dtype=torch.int32))
    with pytest.raises(TypeError, match="torch.Tensor"):
        fine_grained([[1.0]])
    with pytest.raises(ValueError, match="saliency must be one of"):
        get_saliency("itti")
    images = torch.rand(2, 3, 24, 20)
    assert torch.equal(get_saliency("spectral_residual")(images), spectral_residual(images))
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        spectral_residual(torch.rand(1, 1, 4, 8, 8))  # the OpenCV maps are 2-D; see volumes
