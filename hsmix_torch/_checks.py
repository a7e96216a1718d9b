"""The one check of an image batch argument, shared by the module, saliency and backends."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["check_images"]


def check_images(images: object, name: str = "images", *, allow_empty_batch: bool = False) -> None:
    """Raise a clear error unless ``images`` is a ``[B, C, H, W]`` float or uint8 tensor with
    C, H, W >= 1 (and B >= 1 unless ``allow_empty_batch``). A last axis of 1, 3 or 4 after
    more than 4 "channels" is taken for a channels-last batch and refused. Reads no values,
    so it never synchronises with a device."""
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(
            f"{name} must have shape [B, C, H, W] (channels first), got {tuple(images.shape)}"
        )
    _, c, h, w = images.shape
    if w in (1, 3, 4) and c > 4 and h > 4:
        raise ValueError(
            f"{name} look channels-last [B, H, W, C] = {tuple(images.shape)}; HSMix takes "
            f"channels first [B, C, H, W]: pass {name}.permute(0, 3, 1, 2)"
        )
    if not (images.is_floating_point() or images.dtype == torch.uint8):
        raise TypeError(f"{name} must be floating point or uint8, got {images.dtype}")
    if 0 in images.shape[1:] or (images.shape[0] == 0 and not allow_empty_batch):
        batch = "" if allow_empty_batch else "B >= 1, "
        raise ValueError(
            f"{name} must hold non-empty images ({batch}C >= 1, H >= 1, W >= 1), "
            f"got shape {tuple(images.shape)}"
        )
