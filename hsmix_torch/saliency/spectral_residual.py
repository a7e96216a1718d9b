"""OpenCV's ``StaticSaliencySpectralResidual`` (Hou & Zhang 2007) as batched tensor ops.

Reproduces ``cv2.saliency.StaticSaliencySpectralResidual_create().computeSaliency`` on the
8-bit version of each image to within one float32 ulp:
OpenCV's exact 8-bit resize to 64x64, the float32 polar form with its fast ``atan2``, the
reflect-101 spectral box filter, the 5x5 sigma-8 blur and the float32 bilinear resize back.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import check_images
from ._borders import linear_taps, reflect101_pad
from ._common import grey_levels

__all__ = ["spectral_residual"]

_WORK = 64  # OpenCV's default resImWidth / resImHeight
# Coefficients of OpenCV's fastAtan2 polynomial, in degrees (float32).
_P1, _P3, _P5, _P7 = 57.283627, -18.667446, 8.9140005, -2.5397246
_DEG2RAD = 0.017453292


def _f32(x: Tensor) -> Tensor:
    return x.float()


def _fma32(a: Tensor, b: Tensor | float, c: Tensor | float) -> Tensor:
    """float32 ``a * b + c`` with one rounding, emulated in float64.

    A product of two float32 numbers is exact in float64, so this equals a true FMA except
    for rare double-rounding cases (about 1 in 2**29).
    """
    b = b.double() if isinstance(b, Tensor) else b
    c = c.double() if isinstance(c, Tensor) else c
    return (a.double() * b + c).float()


def _polar32(re: Tensor, im: Tensor) -> tuple[Tensor, Tensor]:
    """OpenCV 5's float32 ``cartToPolar``: magnitude and fast-atan2 angle in radians."""
    a, b = _f32(re), _f32(im)
    mag = torch.sqrt(_fma32(a, a, b * b))
    ax, ay = a.abs(), b.abs()
    q = torch.minimum(ax, ay) / (torch.maximum(ax, ay) + 2.220446e-16)
    q2 = q * q
    poly = _fma32(q2, _P7, _P5)
    poly = _fma32(q2, poly, _P3)
    poly = _fma32(q2, poly, _P1)
    deg = poly * q
    deg = torch.where(ax < ay, 90.0 - deg, deg)
    deg = torch.where(a < 0, 180.0 - deg, deg)
    deg = torch.where(b < 0, 360.0 - deg, deg)
    return mag, deg * _DEG2RAD  # the scalar is rounded to float32, as OpenCV's constant


@lru_cache(maxsize=64)
def _taps(in_size: int, out_size: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """Bilinear taps on ``device``, cached: after the first call no host-to-device copy."""
    i0, i1, t = linear_taps(in_size, out_size)
    return (
        torch.tensor(i0, device=device),
        torch.tensor(i1, device=device),
        torch.tensor(t, dtype=torch.float64, device=device),
    )


def _resize_u8(g: Tensor, out_h: int, out_w: int) -> Tensor:
    """OpenCV's ``INTER_LINEAR_EXACT`` 8-bit resize (Q8 weights, rounded half up) of int maps."""
    _, h, w = g.shape
    xi0, xi1, xt = _taps(w, out_w, g.device)
    yi0, yi1, yt = _taps(h, out_h, g.device)
    xt8 = torch.round(xt * 256).long()
    yt8 = torch.round(yt * 256).long()
    g = g.long()
    horiz = (256 - xt8) * g.index_select(2, xi0) + xt8 * g.index_select(2, xi1)
    vert = (256 - yt8)[:, None] * horiz.index_select(1, yi0) + yt8[:, None] * horiz.index_select(
        1, yi1
    )
    return (vert + (1 << 15)) >> 16


def _resize_f32(x: Tensor, out_h: int, out_w: int) -> Tensor:
    """OpenCV's float32 bilinear resize: horizontal then vertical FMA lerps."""
    _, h, w = x.shape
    xi0, xi1, xt = _taps(w, out_w, x.device)
    yi0, yi1, yt = _taps(h, out_h, x.device)
    left = x.index_select(2, xi0)
    horiz = _fma32(x.index_select(2, xi1) - left, xt.float(), left)
    top = horiz.index_select(1, yi0)
    return _fma32(horiz.index_select(1, yi1) - top, yt.float()[:, None], top)


# OpenCV's getGaussianKernel(5, 8): normalised exp(-d^2 / (2 sigma^2)), in float64.
_GAUSS5 = [math.exp(-((i - 2) ** 2) / (2 * 8.0**2)) for i in range(5)]
_GAUSS5 = [v / sum(_GAUSS5) for v in _GAUSS5]


def _gaussian5_sigma8(x: Tensor) -> Tensor:
    """OpenCV's 5x5 Gaussian blur with sigma 8 and reflect-101 borders, in float64."""
    _, h, w = x.shape
    p = reflect101_pad(x, 2, 2)
    x = sum(k * p[:, :, i : i + w] for i, k in enumerate(_GAUSS5))
    p = reflect101_pad(x, 2, 1)
    return sum(k * p[:, i : i + h] for i, k in enumerate(_GAUSS5))


def spectral_residual(images: Tensor) -> Tensor:
    """Spectral-residual static saliency, as OpenCV computes it, for a batch of images.

    Args:
        images: ``[B, C, H, W]``, float in ``[0, 1]`` (quantised to 8 bits first, as for
            :func:`~hsmix_torch.saliency.fine_grained`) or uint8. C = 3 is RGB, C = 1 grey,
            other channel counts use the rounded channel mean as grey.

    Returns:
        float32 ``[B, 1, H, W]`` in ``(0, 1]`` on the input's device. Matches OpenCV's map for
        ``img_u8[..., ::-1]`` to about 1e-7 (one float32 ulp). Images whose exact spectrum has
        zero bins (synthetic piecewise-constant patterns, 1-pixel-high images) carry FFT
        rounding noise into the output, as in OpenCV, and can differ from it by ~1e-3.
    """
    check_images(images, allow_empty_batch=True, spatial=(2,))
    return _spectral_residual(images)


def _spectral_residual(images: Tensor) -> Tensor:
    """:func:`spectral_residual` of checked images."""
    b, _, h, w = images.shape
    if b == 0:
        return images.new_zeros((b, 1, h, w), dtype=torch.float32)
    g = grey_levels(images)
    small = _resize_u8(g, _WORK, _WORK).double()

    spectrum = torch.fft.fft2(small)
    mag, phase = _polar32(spectrum.real, spectrum.imag)
    log_amp = torch.log(mag.double() + 1.0)
    padded = reflect101_pad(reflect101_pad(log_amp, 1, 1), 1, 2)
    smooth = F.avg_pool2d(padded.unsqueeze(1), 3, stride=1).squeeze(1)
    residual = torch.polar(torch.exp(log_amp - smooth), phase.double())

    back = torch.fft.ifft2(residual)
    modulus, _ = _polar32(back.real, back.imag)
    blurred = _gaussian5_sigma8(modulus.double()) ** 2
    sal64 = (blurred / blurred.amax(dim=(1, 2), keepdim=True)).float()
    return _resize_f32(sal64, h, w).unsqueeze(1)
