"""Saliency maps as batched tensor ops that reproduce OpenCV's static saliency.

Both OpenCV maps take ``[B, C, H, W]`` images (float in ``[0, 1]`` or uint8; RGB, grey or
any channel count) and return float32 ``[B, 1, H, W]`` maps in ``[0, 1]`` on the same
device. For volumes ``[B, C, D, H, W]`` (:mod:`.volumes`) the names ``"fine_grained"`` and
``"spectral_residual"`` apply the OpenCV map slice by slice along D, and
``"spectral_residual_3d"`` is a 3-D map; ``"auto"`` is the published ``"fine_grained"`` for
images and :data:`VOLUME_DEFAULT` for volumes, chosen by ``benchmarks/volume_saliency.py``
(table in ``benchmarks/RESULTS.md``, "Volumes"): on the MSD hippocampus MRI crops the 3-D
map is the most coherent across slices (a per-slice map is normalised slice by slice, so
its region sums jump between slices), the least unrelated to the labelled anatomy, and
costs 24 ms per volume on 2 CPU cores.

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
from .volumes import by_rank, per_slice, spectral_residual_3d

__all__ = [
    "NAMES",
    "VOLUME_DEFAULT",
    "SaliencyFn",
    "fine_grained",
    "get_saliency",
    "per_slice",
    "spectral_residual",
    "spectral_residual_3d",
]

SaliencyFn = Callable[[Tensor], Tensor]

NAMES = ("auto", "fine_grained", "spectral_residual", "spectral_residual_3d")
VOLUME_DEFAULT = "spectral_residual_3d"  # what "auto" takes for volumes (see the docstring)


def get_saliency(saliency: str | SaliencyFn, kernels: Kernels = "auto") -> SaliencyFn:
    """Resolve a saliency name (see :data:`NAMES`) or callable into a map
    ``images [B, C, *S] -> [B, 1, *S]`` for images and volumes; ``kernels`` reaches the
    maps that have Triton kernels (fine-grained)."""
    check_kernels(kernels)
    if callable(saliency):
        return saliency
    if not isinstance(saliency, str) or saliency not in NAMES:
        raise ValueError(
            f"saliency must be one of {NAMES} or a callable images -> [B, 1, *S], got {saliency!r}"
        )
    if saliency == "auto":
        return by_rank(get_saliency("fine_grained", kernels), get_saliency(VOLUME_DEFAULT, kernels))
    if saliency == "fine_grained":
        return per_slice(partial(fine_grained, kernels=kernels))
    if saliency == "spectral_residual":
        return per_slice(spectral_residual)
    return spectral_residual_3d
