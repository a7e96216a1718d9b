"""Shared input handling for the saliency maps: 8-bit quantisation and OpenCV's grey value."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["grey_levels"]


def _levels(images: Tensor) -> Tensor:
    """The 8-bit values ``0..255`` of ``[B, C, H, W]`` images, held in float32.

    uint8 is taken as it is. Floating point images are read as ``[0, 1]``:
    ``round(clamp(x, 0, 1) * 255)`` (round half to even); NaN becomes 0.
    """
    if images.dtype == torch.uint8:
        return images.float()
    return torch.nan_to_num(images.float(), nan=0.0).clamp_(0.0, 1.0).mul_(255.0).round_()


def grey_levels(images: Tensor) -> Tensor:
    """OpenCV's 8-bit grey value of ``[B, C, H, W]`` images, as float32 ``[B, H, W]``.

    Images are quantised to 8 bits first (see :func:`_levels`). C = 3 is RGB:
    ``(9798 R + 19235 G + 3735 B + 16384) >> 15``, which is what
    ``cv2.cvtColor(bgr, COLOR_BGR2GRAY)`` computes for the same pixels in OpenCV's BGR order.
    C = 1 is taken as it is. Any other channel count (e.g. 4 MRI sequences) has no OpenCV
    meaning; we use the channel mean rounded half up, ``(sum + C // 2) // C``.

    The arithmetic is OpenCV's integer arithmetic carried out in float32: every operand and
    partial sum is an integer below ``2**24`` and the divisions are floored, so it is exact,
    and float passes are several times faster than int32 ones on the CPU.
    """
    x = _levels(images)
    c = x.shape[1]
    if c == 3:
        grey = (x[:, 0] * 9798).add_(x[:, 1], alpha=19235).add_(x[:, 2], alpha=3735)
        return grey.add_(16384).mul_(2.0**-15).floor_()
    if c == 1:
        return x[:, 0]
    # (sum + c // 2) / c is a ratio of integers below 2**24: flooring its float32 value is exact.
    return x.sum(dim=1).add_(c // 2).div_(c).floor_()
