"""Saliency maps as batched tensor ops that reproduce OpenCV's static saliency.

Both functions take ``[B, C, H, W]`` images (float in ``[0, 1]`` or uint8; RGB, grey or any
channel count) and return float32 ``[B, 1, H, W]`` maps in ``[0, 1]`` on the same device.

Why the helpers are ours and not kornia's (kornia is also an optional extra, and the core
imports no adapter): the parity tests hold these maps to OpenCV bit for bit, and kornia's
counterparts compute something else. ``kornia.color.rgb_to_grayscale`` weighs float
channels, OpenCV rounds a fixed-point sum (``_common.grey_levels``); ``kornia.filters``
blurs in float, OpenCV's 3x3 blur of 8-bit data rounds ``(sum + 8) >> 4`` and its 5x5 blur
sums in its own order; kornia's bilinear resize is not OpenCV's 11-bit fixed-point 8-bit
resize. The reflect-101 padding is torch's own ``"reflect"`` mode where it applies.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import Tensor

from ..kernels import Kernels, check_kernels
from .fine_grained import fine_grained
from .spectral_residual import spectral_residual

__all__ = ["SaliencyFn", "fine_grained", "get_saliency", "spectral_residual"]

SaliencyFn = Callable[[Tensor], Tensor]

_BUILTIN: dict[str, SaliencyFn] = {
    "fine_grained": fine_grained,
    "spectral_residual": spectral_residual,
}


def get_saliency(saliency: str | SaliencyFn, kernels: Kernels = "auto") -> SaliencyFn:
    """Resolve a saliency name (``"fine_grained"``, ``"spectral_residual"``) or callable;
    ``kernels`` reaches the maps that have Triton kernels (fine-grained)."""
    check_kernels(kernels)
    if callable(saliency):
        return saliency
    if saliency == "fine_grained":
        return partial(fine_grained, kernels=kernels)
    if isinstance(saliency, str) and saliency in _BUILTIN:
        return _BUILTIN[saliency]
    raise ValueError(
        f"saliency must be one of {sorted(_BUILTIN)} or a callable images -> [B, 1, H, W], "
        f"got {saliency!r}"
    )
