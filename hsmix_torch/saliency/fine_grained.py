"""OpenCV's ``StaticSaliencyFineGrained`` (Montabone & Soto 2010) as batched tensor ops.

Reproduces ``cv2.saliency.StaticSaliencyFineGrained_create().computeSaliency`` on the
8-bit version of each image bit for bit: grey
conversion, two integer 3x3 Gaussian blurs, a float32 integral image, on/off centre-surround
contrast at six scales with OpenCV's asymmetric cropped windows, and its 8-bit mixing
(including the wrap of ON + OFF above 255).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .._checks import check_images
from .._constants import HALF_SIZES
from ..kernels import Kernels, choose
from ._borders import reflect101_pad
from ._common import grey_levels

__all__ = ["fine_grained"]


def _blur121(g: Tensor) -> Tensor:
    """OpenCV's 3x3 ``GaussianBlur`` (sigma 0) on 8-bit data, ``(sum w * g + 8) >> 4``, for
    ``[B, H, W]`` float32 holding 8-bit values (exact: every sum is a small integer)."""
    p = reflect101_pad(g, 1, 2)
    horiz = torch.add(p[:, :, :-2], p[:, :, 2:]).add_(p[:, :, 1:-1], alpha=2)
    p = reflect101_pad(horiz, 1, 1)
    vert = torch.add(p[:, :-2], p[:, 2:]).add_(p[:, 1:-1], alpha=2)
    return vert.add_(8).mul_(1.0 / 16).floor_()


def _integral(g: Tensor) -> Tensor:
    """Float32 integral image ``[B, H + 1, W + 1]``, zero first row and column, of ``g``:
    ``[B, H, W]`` float32 holding 8-bit values.

    Sums are exact (integers) before the single rounding to float32. That equals OpenCV's
    row-by-row float32 accumulation whenever ``255 * H * W < 2**24`` (every image of at most
    65,793 pixels); larger bright images can differ from OpenCV by a few 1/255 steps there.
    """
    if 255 * g.shape[1] * g.shape[2] < 2**24:
        # Every partial sum is an integer below 2**24: exact in float32 in any order, on any
        # device, and float cumsum is several times faster than integer or float64 cumsum.
        t = g.cumsum(2).cumsum(1)
    else:
        t = g.double().cumsum(2).cumsum(1)
    return torch.nn.functional.pad(t, (1, 0, 1, 0)).float()


def fine_grained(images: Tensor, *, kernels: Kernels = "auto") -> Tensor:
    """Fine-grained static saliency, as OpenCV computes it, for a batch of images.

    Args:
        images: ``[B, C, H, W]``. Floating point images are read as values in ``[0, 1]`` and
            quantised to 8 bits first (``round(clamp(x, 0, 1) * 255)``), because OpenCV's
            algorithm is only meaningful on 8-bit input. uint8 images are used as they are.
            C = 3 is RGB (OpenCV's luminance weights, applied in the right order); C = 1 is
            grey; other channel counts use the rounded channel mean as grey.
        kernels: ``"auto"`` (Triton kernels on CUDA, torch ops elsewhere), ``"triton"`` or
            ``"torch"`` (:mod:`hsmix_torch.kernels`); the same map either way.

    Returns:
        float32 ``[B, 1, H, W]`` in ``[0, 1]`` on the input's device, taking the 256 values
        ``k / 255``. It equals OpenCV's map for ``img_u8[..., ::-1]`` (BGR) exactly, for
        images of at most 65,793 pixels (see :func:`_integral` for larger ones). A constant
        image gives an all-zero map.
    """
    check_images(images, allow_empty_batch=True, spatial=(2,))
    return _fine_grained(images, kernels=kernels)


def _fine_grained(images: Tensor, *, kernels: str = "auto") -> Tensor:
    """:func:`fine_grained` of checked images (what HSMix calls after its own check)."""
    b, _, h, w = images.shape
    if b == 0 or h * w <= 1:  # a 1x1 window has no surround: OpenCV's 0/0 gives 0
        return torch.zeros((b, 1, h, w), dtype=torch.float32, device=images.device)
    return _maps_for(kernels, images.device)(images)


def _maps_for(kernels: str, device: torch.device) -> Callable[[Tensor], Tensor]:
    """The map of ``[B, C, H, W]`` images that ``kernels`` picks on ``device``
    (:mod:`hsmix_torch.kernels`): the torch ops, or the Triton kernels that equal them."""

    def load() -> Callable[[Tensor], Tensor]:
        from ..kernels.saliency import fine_grained_maps

        return fine_grained_maps

    return choose("fine_grained", kernels, device, _torch_maps, load)


def _torch_maps(images: Tensor) -> Tensor:
    """The fine-grained map of ``[B, C, H, W]`` images in torch ops."""
    return _maps(grey_levels(images))


def _maps(grey: Tensor) -> Tensor:
    """The fine-grained map ``[B, 1, H, W]`` of 8-bit grey levels ``[B, H, W]`` in torch ops."""
    b, h, w = grey.shape
    centre = _blur121(_blur121(grey))  # 8-bit values, exact in float32
    table = _integral(centre)

    # Window corners are clamped to the table, so a replicate-padded table turns every corner
    # lookup into a plain slice (no gathers): row min(y + n + 1, H) of the table is row
    # pad + y + n + 1 of the padded one, and likewise for max(y - n + 1, 0) and for columns.
    pad = max(HALF_SIZES) + 1
    padded = torch.nn.functional.pad(table[:, None], (pad, pad, pad, pad), mode="replicate")[:, 0]
    dev = grey.device
    ys = torch.arange(h, device=dev)
    xs = torch.arange(w, device=dev)
    # |t| <= 255 per scale, so sums over the six scales fit int16 (half the traffic of int32).
    signed = torch.zeros((b, h, w), dtype=torch.int16, device=dev)  # sum of t over scales
    magnitude = torch.zeros_like(signed)  # sum of |t|
    t = torch.empty_like(signed)
    buf = torch.empty((b, h, w), dtype=torch.float32, device=dev)

    def corner(dy: int, dx: int) -> Tensor:
        return padded[:, dy : dy + h, dx : dx + w]

    for n in HALF_SIZES:
        lo, hi = pad - n + 1, pad + n + 1  # offsets of y1 (x1) and y2 (x2) in the padded table
        rows = (ys + n + 1).clamp(max=h) - (ys - n + 1).clamp(min=0)
        cols = (xs + n + 1).clamp(max=w) - (xs - n + 1).clamp(min=0)
        count = (rows[:, None] * cols[None, :] - 1).float()
        # OpenCV's order of the four corner terms, each step rounded to float32; in place,
        # one buffer per scale.
        torch.add(corner(hi, hi), corner(lo, lo), out=buf)
        buf.sub_(corner(hi, lo)).sub_(corner(lo, hi))
        buf.sub_(centre)  # surround sum without the centre
        # on = c - fl(sum / count) (the surround mean), off = -on; one pass.
        torch.addcdiv(centre, buf, count, value=-1.0, out=buf)
        # u8cast truncates, as the integer conversion does, and trunc(-x) = -trunc(x): with
        # t = trunc(c - mean), on = max(t, 0) and off = max(-t, 0), so accumulating t and
        # |t| gives both sums. On 8-bit data |t| <= 255: OpenCV's wrap modulo 256 never applies.
        t.copy_(buf)
        signed += t
        magnitude += t.abs_()

    def scale_to_255(total: Tensor) -> Tensor:
        # trunc(255.0 * fl32(total / peak)): the ratio in float32, the product in float64
        # (exact), the int conversion truncates. A zero peak means a zero map (OpenCV's 0/0).
        peak = total.amax(dim=(1, 2), keepdim=True).clamp(min=1)
        return (255.0 * (total.float() / peak.float()).double()).to(torch.int32)

    # |t| + t and |t| - t are even and >= 0, so a shift halves them exactly (cheaper than //).
    on_map = scale_to_255((magnitude + signed) >> 1)  # sum of the on responses
    off_map = scale_to_255((magnitude - signed) >> 1)  # sum of the off responses
    # OpenCV scales ON + OFF by 255 / max(max ON, max OFF). That maximum is 255 (the pixel of
    # the peak sum gets exactly 255) or 0 for a flat image, so the result is (ON + OFF) with
    # its 8-bit wrap, or 0.
    out8 = (on_map + off_map) & 255
    # A Python scalar is rounded to the tensor's float32 first: fl32(k * fl32(1/255)).
    return (out8.float() * (1.0 / 255.0)).unsqueeze(1)
