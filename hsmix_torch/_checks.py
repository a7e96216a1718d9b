"""The checks of an image batch argument and of a voxel spacing, shared by the module,
saliency and backends."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["check_images", "check_spacing"]

_LAYOUTS = {2: "[B, C, H, W]", 3: "[B, C, D, H, W]"}


def check_images(
    images: object,
    name: str = "images",
    *,
    allow_empty_batch: bool = False,
    spatial: tuple[int, ...] = (2, 3),
) -> None:
    """Raise a clear error unless ``images`` is a ``[B, C, H, W]`` (or, where ``spatial``
    allows 3 axes, ``[B, C, D, H, W]``) float or uint8 tensor with non-empty channel and
    spatial axes (and B >= 1 unless ``allow_empty_batch``). A last axis of 1, 3 or 4 after
    more than 4 "channels" is taken for a channels-last batch and refused. Reads no values,
    so it never synchronises with a device."""
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    layouts = " or ".join(_LAYOUTS[s] for s in spatial)
    if images.ndim - 2 not in spatial:
        raise ValueError(
            f"{name} must have shape {layouts} (channels first), got {tuple(images.shape)}"
        )
    c, last = images.shape[1], images.shape[-1]
    if last in (1, 3, 4) and c > 4 and min(images.shape[2:-1]) > 4:
        order = "D, H, W" if images.ndim == 5 else "H, W"
        raise ValueError(
            f"{name} look channels-last [B, {order}, C] = {tuple(images.shape)}; HSMix takes "
            f"channels first [B, C, {order}]: pass {name}.movedim(-1, 1)"
        )
    if not (images.is_floating_point() or images.dtype == torch.uint8):
        raise TypeError(f"{name} must be floating point or uint8, got {images.dtype}")
    if 0 in images.shape[1:] or (images.shape[0] == 0 and not allow_empty_batch):
        batch = "" if allow_empty_batch else "B >= 1, "
        names = ("C", "D", "H", "W") if images.ndim == 5 else ("C", "H", "W")
        axes = ", ".join(f"{a} >= 1" for a in names)
        raise ValueError(
            f"{name} must hold non-empty images ({batch}{axes}), got shape {tuple(images.shape)}"
        )


def check_spacing(spacing: object, axes: int | None = None) -> tuple[float, ...] | None:
    """``spacing`` as a tuple of positive finite floats (one per spatial axis, ``axes`` of
    them when given), or None; a ValueError/TypeError naming what was expected otherwise."""
    if spacing is None:
        return None
    if isinstance(spacing, (str, bytes)) or not isinstance(spacing, (Sequence, Tensor)):
        raise TypeError(f"spacing must be a sequence of floats or None, got {spacing!r}")
    values = [float(v) for v in spacing]
    if axes is not None and len(values) != axes:
        raise ValueError(
            f"spacing must have one value per spatial axis ({axes}), got {len(values)}: "
            f"{tuple(values)}"
        )
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"spacing must hold finite values > 0, got {tuple(values)}")
    return tuple(values)
