"""Shared input handling for the saliency maps: 8-bit quantisation and OpenCV's grey value."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["check_images", "grey_u8", "to_uint8"]


def check_images(images: Tensor, name: str = "images") -> None:
    """Raise a clear error unless ``images`` is a ``[B, C, H, W]`` float or uint8 tensor."""
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4:
        raise ValueError(f"{name} must have shape [B, C, H, W], got {tuple(images.shape)}")
    if not (images.dtype == torch.uint8 or images.is_floating_point()):
        raise TypeError(f"{name} must be a floating point or uint8 tensor, got {images.dtype}")


def to_uint8(images: Tensor) -> Tensor:
    """Quantise ``[B, C, H, W]`` images to 8 bits the way the saliency maps read them.

    uint8 is returned as is. Floating point images are taken to be in ``[0, 1]``:
    ``round(clamp(x, 0, 1) * 255)`` (round half to even), NaN becomes 0.
    """
    if images.dtype == torch.uint8:
        return images
    x = torch.nan_to_num(images.float(), nan=0.0).clamp(0.0, 1.0)
    return torch.round(x * 255.0).to(torch.uint8)


def grey_u8(images_u8: Tensor) -> Tensor:
    """OpenCV's 8-bit grey value of RGB ``[B, C, H, W]`` uint8 images, as int32 ``[B, H, W]``.

    C = 3 is RGB: ``(9798 R + 19235 G + 3735 B + 16384) >> 15``, which is what
    ``cv2.cvtColor(bgr, COLOR_BGR2GRAY)`` computes for the same pixels in OpenCV's BGR order.
    C = 1 is taken as it is. Any other channel count (e.g. 4 MRI sequences) has no OpenCV
    meaning; we use the channel mean rounded half up, ``(sum + C // 2) // C``.
    """
    x = images_u8.to(torch.int32)
    c = x.shape[1]
    if c == 3:
        return (9798 * x[:, 0] + 19235 * x[:, 1] + 3735 * x[:, 2] + 16384) >> 15
    if c == 1:
        return x[:, 0]
    return (x.sum(dim=1) + c // 2) // c
