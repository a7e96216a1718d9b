"""Saliency for volumes ``[B, C, D, H, W]``: OpenCV's 2-D maps slice by slice, and a 3-D
spectral residual.

OpenCV's maps are 2-D only. :func:`per_slice` applies one to every slice along D (exactly
OpenCV's map per slice, each slice normalised on its own, no context across slices).
:func:`spectral_residual_3d` is Hou & Zhang's method with one more axis: the FFT, the
log-amplitude mean filter and the Gaussian blur run over (D, H, W), and the map is
normalised per volume. Every step is the 2-D one of
:func:`~hsmix_torch.saliency.spectral_residual` along each axis longer than one sample, so
a volume of depth 1 gives the 2-D map (tested), and the map flips with its volume.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import check_images
from ._borders import reflect101_pad
from ._common import grey_levels
from .spectral_residual import (
    _GAUSS5,
    _WORK,
    _fma32,
    _gaussian5_sigma8,
    _polar32,
    _resize_f32,
    _resize_u8,
    _taps,
)

__all__ = ["by_rank", "per_slice", "spectral_residual_3d"]


class per_slice:  # noqa: N801 - used like a function: per_slice(fn)
    """A 2-D map ``[N, C, H, W] -> [N, 1, H, W]`` made to take volumes too: each slice along
    D of ``[B, C, D, H, W]`` is a 2-D image (``[B, 1, D, H, W]`` back). Images pass
    straight through. A class, not a closure, so modules holding it pickle.

    Args:
        fn: the 2-D saliency map.
    """

    def __init__(self, fn: Callable[[Tensor], Tensor]) -> None:
        self.fn = fn

    def __call__(self, images: Tensor) -> Tensor:
        """The map of images, or of volumes slice by slice.

        Args:
            images: ``[B, C, H, W]`` or ``[B, C, D, H, W]`` float.

        Returns:
            ``[B, 1, H, W]`` or ``[B, 1, D, H, W]``, what ``fn`` gives per slice.
        """
        if images.ndim != 5:
            return self.fn(images)
        b, c, d, h, w = images.shape
        slices = images.movedim(2, 1).reshape(b * d, c, h, w)
        return self.fn(slices).reshape(b, d, h, w).unsqueeze(1)

    def __repr__(self) -> str:
        return f"per_slice({self.fn!r})"


class by_rank:  # noqa: N801 - used like a function
    """``image_map`` for images ``[B, C, H, W]``, ``volume_map`` for volumes."""

    def __init__(
        self, image_map: Callable[[Tensor], Tensor], volume_map: Callable[[Tensor], Tensor]
    ) -> None:
        self.image_map, self.volume_map = image_map, volume_map

    def __call__(self, images: Tensor) -> Tensor:
        return (self.volume_map if images.ndim == 5 else self.image_map)(images)

    def __repr__(self) -> str:
        return f"by_rank(images={self.image_map!r}, volumes={self.volume_map!r})"


def _lerp_depth(x: Tensor, out_d: int) -> Tensor:
    """``[B, D, H, W]`` resized along D with OpenCV's bilinear taps (float lerps)."""
    d = x.shape[1]
    if d == out_d:
        return x
    i0, i1, t = _taps(d, out_d, x.device)
    lo = x.index_select(1, i0)
    t = t.to(x.dtype) if x.dtype == torch.float64 else t.float()
    diff = x.index_select(1, i1) - lo
    if x.dtype == torch.float64:
        return lo + diff * t.view(1, -1, 1, 1)
    return _fma32(diff, t.view(1, -1, 1, 1), lo)


def _along_depth(x: Tensor, fn: Callable[[Tensor], Tensor]) -> Tensor:
    """``fn`` of ``[B, D, H*W]`` (a filter along dim 1) applied to ``[B, D, H, W]``."""
    b, d, h, w = x.shape
    return fn(x.reshape(b, d, h * w)).view(b, -1, h, w)


def _box3_depth(x: Tensor) -> Tensor:
    """3-tap mean along dim 1 of ``[B, D, N]`` with reflect-101 borders."""
    p = reflect101_pad(x, 1, 1)
    d = x.shape[1]
    return (p[:, :d] + p[:, 1 : d + 1] + p[:, 2 : d + 2]) / 3.0


def _gauss5_depth(x: Tensor) -> Tensor:
    """OpenCV's 5-tap sigma-8 Gaussian along dim 1 of ``[B, D, N]``, reflect-101 borders."""
    p = reflect101_pad(x, 2, 1)
    d = x.shape[1]
    return sum(k * p[:, i : i + d] for i, k in enumerate(_GAUSS5))


def spectral_residual_3d(images: Tensor) -> Tensor:
    """Spectral-residual saliency over (D, H, W) (Hou & Zhang 2007 with one more axis).

    The 2-D method's steps (:func:`~hsmix_torch.saliency.spectral_residual`, OpenCV's
    choices) along every axis longer than one sample: the 8-bit grey volume resized to 64
    samples per such axis (OpenCV's exact 8-bit resize over H and W, bilinear over D), the
    log amplitude of its 3-D FFT minus its 3x3x3 mean (reflect-101), the inverse FFT's
    squared magnitude after a 5-tap sigma-8 Gaussian per axis, divided by its maximum per
    volume, resized back bilinearly.

    Args:
        images: ``[B, C, D, H, W]`` volumes (or ``[B, C, H, W]`` images, taken as volumes of
            depth 1), float in ``[0, 1]`` or uint8; C as for the 2-D maps.

    Returns:
        float32 ``[B, 1, D, H, W]`` (``[B, 1, H, W]`` for images) in ``[0, 1]``.
    """
    check_images(images, allow_empty_batch=True)
    return _spectral_residual_3d(images)


def _spectral_residual_3d(images: Tensor) -> Tensor:
    """:func:`spectral_residual_3d` of checked images or volumes."""
    if images.ndim == 4:
        return _spectral_residual_3d(images.unsqueeze(2)).squeeze(2)
    b, _, d, h, w = images.shape
    if b == 0:
        return images.new_zeros((b, 1, d, h, w), dtype=torch.float32)
    wd, wh, ww = (_WORK if n > 1 else 1 for n in (d, h, w))
    g = grey_levels(images).reshape(b * d, h, w)
    small = _resize_u8(g, wh, ww).view(b, d, wh, ww).double()
    small = _lerp_depth(small, wd)

    spectrum = torch.fft.fftn(small, dim=(1, 2, 3))
    mag, phase = _polar32(spectrum.real, spectrum.imag)
    log_amp = torch.log(mag.double() + 1.0)
    flat = log_amp.reshape(b * wd, wh, ww)
    padded = reflect101_pad(reflect101_pad(flat, 1, 1), 1, 2)
    smooth = F.avg_pool2d(padded.unsqueeze(1), 3, stride=1).view(b, wd, wh, ww)
    if wd > 1:
        smooth = _along_depth(smooth, _box3_depth)
    residual = torch.polar(torch.exp(log_amp - smooth), phase.double())

    back = torch.fft.ifftn(residual, dim=(1, 2, 3))
    modulus, _ = _polar32(back.real, back.imag)
    blurred = _gaussian5_sigma8(modulus.double().reshape(b * wd, wh, ww)).view(b, wd, wh, ww)
    if wd > 1:
        blurred = _along_depth(blurred, _gauss5_depth)
    blurred = blurred**2
    sal = (blurred / blurred.amax(dim=(1, 2, 3), keepdim=True)).float()
    out = _resize_f32(sal.reshape(b * wd, wh, ww), h, w).view(b, wd, h, w)
    return _lerp_depth(out, d).clamp(0.0, 1.0).unsqueeze(1)
