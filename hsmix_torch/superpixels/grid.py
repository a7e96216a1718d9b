"""The ``"grid"`` backend: a regular grid of about ``n_segments`` rectangular cells."""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

from .base import SuperpixelBackend

__all__ = ["GridBackend"]


class GridBackend(SuperpixelBackend):
    """Regular grid superpixels: exact, content-independent and nearly free.

    Image ``i`` gets ``ny * nx`` cells with ``ny = round(sqrt(n_i * H / W))`` and
    ``nx = round(n_i / ny)`` (each clipped to the image), so cells are as square as the
    image allows. Labels are row-major and contiguous. ``compactness`` has no meaning here
    and is ignored. Fully vectorised, on any device, with no host synchronisation.
    """

    name = "grid"

    def segment(self, images: Tensor, n_segments: Tensor, max_segments: int | None) -> Tensor:
        _, _, h, w = images.shape
        n = n_segments.clamp(min=1).double()
        ny = torch.round(torch.sqrt(n * h / w)).clamp(1, h).long()
        nx = torch.round(n / ny).clamp(1, w).long()
        ys = torch.arange(h, device=images.device)
        xs = torch.arange(w, device=images.device)
        row = (ys[None, :] * ny[:, None]) // h  # [B, H]
        col = (xs[None, :] * nx[:, None]) // w  # [B, W]
        return row[:, :, None] * nx[:, None, None] + col[:, None, :]

    def label_bound(self, h: int, w: int, max_segments: int, device: torch.device) -> int:
        return _max_cells(h, w, max_segments)

    def capturable(self, device: torch.device) -> bool:
        return True


@torch.compiler.disable  # host arithmetic on sizes: nothing for a graph
@lru_cache(maxsize=64)
def _max_cells(h: int, w: int, max_segments: int) -> int:
    """The most cells :class:`GridBackend` makes for any ``n_segments <= max_segments``
    (the same float64 arithmetic and round-half-even as :meth:`GridBackend.segment`)."""
    most = 1
    for n in range(1, max_segments + 1):
        ny = min(max(round(math.sqrt(n * h / w)), 1), h)
        nx = min(max(round(n / ny), 1), w)
        most = max(most, ny * nx)
    return most
