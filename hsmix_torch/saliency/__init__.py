"""Saliency maps as batched tensor ops that reproduce OpenCV's static saliency.

Both OpenCV maps take ``[B, C, H, W]`` images (float in ``[0, 1]`` or uint8; RGB, grey or
any channel count) and return float32 ``[B, 1, H, W]`` maps in ``[0, 1]`` on the same
device. For volumes ``[B, C, D, H, W]`` (:mod:`.volumes`) the names ``"fine_grained"`` and
``"spectral_residual"`` apply the OpenCV map slice by slice along D, and
``"spectral_residual_3d"`` is a 3-D map; ``"auto"`` is the published ``"fine_grained"`` for
images and :data:`VOLUME_DEFAULT` for volumes, chosen by ``benchmarks/volume_saliency.py``
(table in ``docs/results/volumes.md``): on the MSD hippocampus MRI crops the 3-D
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

from .._checks import check_images
from ..kernels import Kernels, check_kernels
from .fine_grained import _fine_grained, fine_grained
from .spectral_residual import _spectral_residual, spectral_residual
from .volumes import _spectral_residual_3d, by_rank, per_slice, spectral_residual_3d

__all__ = [
    "NAMES",
    "VOLUME_DEFAULT",
    "SaliencyFn",
    "fine_grained",
    "get_saliency",
    "per_slice",
    "saliency_maps",
    "spectral_residual",
    "spectral_residual_3d",
]

SaliencyFn = Callable[[Tensor], Tensor]

NAMES = ("auto", "fine_grained", "spectral_residual", "spectral_residual_3d")
VOLUME_DEFAULT = "spectral_residual_3d"  # what "auto" takes for volumes (see the docstring)


def get_saliency(saliency: str | SaliencyFn, kernels: Kernels = "auto") -> SaliencyFn:
    """Resolve a saliency name (see :data:`NAMES`) or callable into a map
    ``images [B, C, *S] -> [B, 1, *S]`` for images and volumes; ``kernels`` reaches the
    maps that have Triton kernels (fine-grained).

    Args:
        saliency: a name of :data:`NAMES`, or a callable (returned as it is).
        kernels: ``"auto"``, ``"triton"`` or ``"torch"`` (:mod:`hsmix_torch.kernels`).

    Returns:
        A map that checks its images (a ``TypeError`` or ``ValueError`` naming what is
        wrong) and computes the named saliency.

    Raises:
        TypeError: ``saliency`` is neither a string nor a callable, ``kernels`` not a string.
        ValueError: an unknown name or ``kernels`` value.

    Example:
        >>> import torch
        >>> get_saliency("fine_grained")(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 1, 32, 32])
    """
    maps = saliency_maps(saliency, kernels)
    return maps if callable(saliency) else _Checked(maps)


def saliency_maps(saliency: str | SaliencyFn, kernels: Kernels = "auto") -> SaliencyFn:
    """:func:`get_saliency`'s map for images that were checked already (HSMix checks a
    call's batch once): the same values, without a second check.

    Args:
        saliency: a name of :data:`NAMES` or a callable ``images -> [B, 1, *S]`` (returned
            as it is).
        kernels: ``"auto"``, ``"triton"`` or ``"torch"`` for the fine-grained map.

    Returns:
        A callable ``[B, C, *S] -> [B, 1, *S]``.

    Raises:
        TypeError: ``saliency`` is neither a string nor a callable, or ``kernels`` is not a
            string.
        ValueError: ``saliency`` or ``kernels`` is not one of the choices.
    """
    check_kernels(kernels)
    if callable(saliency):
        return saliency
    if not isinstance(saliency, str):
        raise TypeError(
            f"saliency must be a name of {NAMES} or a callable images -> [B, 1, *S], "
            f"got {type(saliency).__name__}"
        )
    if saliency not in NAMES:
        raise ValueError(f"saliency must be one of {NAMES} or a callable, got {saliency!r}")
    if saliency == "auto":
        return by_rank(saliency_maps("fine_grained", kernels), saliency_maps(VOLUME_DEFAULT))
    if saliency == "fine_grained":
        return per_slice(partial(_fine_grained, kernels=kernels))
    if saliency == "spectral_residual":
        return per_slice(_spectral_residual)
    return _spectral_residual_3d


class _Checked:
    """A saliency map that checks its images first (what :func:`get_saliency` returns)."""

    def __init__(self, maps: SaliencyFn) -> None:
        self.maps = maps

    def __call__(self, images: Tensor) -> Tensor:
        check_images(images, allow_empty_batch=True)
        return self.maps(images)

    def __repr__(self) -> str:
        return repr(self.maps)
