"""Saliency maps as batched tensor ops that reproduce OpenCV's static saliency.

Both functions take ``[B, C, H, W]`` images (float in ``[0, 1]`` or uint8; RGB, grey or any
channel count) and return float32 ``[B, 1, H, W]`` maps in ``[0, 1]`` on the same device.
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
