"""The ``"grid"`` backend: a regular grid of about ``n_segments`` rectangular cells (boxes in
3-D)."""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

from .base import SuperpixelBackend

__all__ = ["GridBackend"]


class GridBackend(SuperpixelBackend):
    """Regular grid superpixels: exact, content-independent and nearly free.

    Image ``i`` gets ``prod(counts)`` cells, as cubic in physical units (``spacing``) as the
    image allows: with extents ``L_a = S_a * spacing_a`` and ``n`` left to share among the
    axes from ``a`` on, axis ``a`` gets ``round((n * L_a^(k-1) / prod_{b>a} L_b)^(1/k))``
    cells (k: the axes left; the last axis takes ``round(n)``), each clipped to the axis'
    size. In 2-D without spacing: ``ny = round(sqrt(n * H / W))``, ``nx = round(n / ny)``.
    Labels are row-major and contiguous. ``compactness`` has no meaning here and is
    ignored. Fully vectorised, on any device, with no host synchronisation when
    ``max_segments`` is given (HSMix gives it).

    Args:
        compactness: accepted for a uniform signature and ignored.
    """

    name = "grid"

    def segment(
        self,
        images: Tensor,
        n_segments: Tensor,
        max_segments: int | None,
        spacing: tuple[float, ...] | None,
    ) -> Tensor:
        size = tuple(images.shape[2:])
        if max_segments is None:
            max_segments = int(n_segments.max())
        counts = _device_counts(size, spacing, max_segments, images.device)
        counts = counts[n_segments.clamp(1, max_segments)]  # [B, A]
        nd = len(size)
        labels = None
        for a, s in enumerate(size):
            cell = (torch.arange(s, device=images.device)[None, :] * counts[:, a, None]) // s
            view = [images.shape[0]] + [1] * nd
            view[1 + a] = s
            cell = cell.view(view)
            labels = cell if labels is None else labels * counts[:, a].view(-1, *[1] * nd) + cell
        return labels.expand(images.shape[0], *size).contiguous()

    def label_bound(
        self,
        size: tuple[int, ...],
        max_segments: int,
        device: torch.device,
        spacing: tuple[float, ...] | None = None,
    ) -> int:
        return max(math.prod(row) for row in _counts(tuple(size), spacing, max_segments))

    def capturable(self, device: torch.device) -> bool:
        return True


def _cells(size: tuple[int, ...], spacing: tuple[float, ...] | None, n: int) -> tuple[int, ...]:
    """The cells per axis for ``n`` segments (see :class:`GridBackend`), in float64."""
    scale = spacing or (1.0,) * len(size)
    extent = [s * v for s, v in zip(size, scale, strict=True)]
    out, left = [], float(n)
    for a, s in enumerate(size):
        k = len(size) - a
        if k == 1:
            c = round(left)
        else:
            ratio = left * extent[a] ** (k - 1) / math.prod(extent[a + 1 :])
            c = round(math.sqrt(ratio) if k == 2 else ratio ** (1.0 / k))
        c = min(max(c, 1), s)
        out.append(c)
        left /= c
    return tuple(out)


@torch.compiler.disable  # host arithmetic on sizes: nothing for a graph
@lru_cache(maxsize=64)
def _counts(
    size: tuple[int, ...], spacing: tuple[float, ...] | None, max_segments: int
) -> tuple[tuple[int, ...], ...]:
    """Cells per axis for every ``n`` in ``0..max_segments`` (row 0 repeats row 1)."""
    return tuple(_cells(size, spacing, max(n, 1)) for n in range(max_segments + 1))


@torch.compiler.disable  # one copy to the device per size, cached
@lru_cache(maxsize=64)
def _device_counts(
    size: tuple[int, ...],
    spacing: tuple[float, ...] | None,
    max_segments: int,
    device: torch.device,
) -> Tensor:
    return torch.tensor(_counts(size, spacing, max_segments), dtype=torch.long, device=device)
