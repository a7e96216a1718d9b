"""scikit-image's SLIC grid (``skimage.util.regular_grid`` on ``(D, H, W)``), tabulated.

scikit-image treats a 2-D image as a volume of depth 1, so one rule serves both: a 2-D
``(H, W)`` grid is the ``(1, H, W)`` grid without its depth axis.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["SlicGrid", "slic_grid"]


class SlicGrid(NamedTuple):
    """scikit-image's SLIC grid per image of a batch, for images with ``A`` spatial axes.

    Attributes:
        off: ``[B, A]`` int64 offset of the first centre per axis.
        steps: ``[B, A]`` int64 integer step between centres per axis.
        counts: ``[B, A]`` int64 number of centres per axis.
        step: ``[B]`` int64 the step of the distance (the largest per-axis step).
        win: ``[B, A]`` int64 the per-axis step of the search window (the same rule applied
            again with n = K, the number of centres placed).
        pads: the largest number of centres per axis over the batch's possible
            ``n_segments``: the centre tables are ``[B, *pads]``.
    """

    off: Tensor
    steps: Tensor
    counts: Tensor
    step: Tensor
    win: Tensor
    pads: tuple[int, ...]


def _regular_grid(shape: tuple[int, ...], n: int) -> tuple[list[int], list[int]]:
    """(offsets, steps) per axis of ``regular_grid(shape, n)`` for a 3-axis ``shape``."""
    if math.prod(shape) <= n:
        return [0] * len(shape), [1] * len(shape)
    dims = list(shape)
    nd = len(dims)
    order = sorted(range(nd), key=lambda i: dims[i])  # stable, like np.argsort of the shape
    sorted_dims = [dims[i] for i in order]
    steps = [(math.prod(dims) / n) ** (1.0 / nd)] * nd
    if any(d < s for d, s in zip(sorted_dims, steps, strict=True)):
        for dim in range(nd):
            steps[dim] = float(sorted_dims[dim])
            space = float(np.prod(sorted_dims[dim + 1 :]))
            rest = nd - dim - 1
            if rest:
                steps[dim + 1 :] = [(space / n) ** (1.0 / rest)] * rest
            if all(d >= s for d, s in zip(sorted_dims, steps, strict=True)):
                break
    offsets, rounded = [0] * nd, [0] * nd
    for i, axis in enumerate(order):
        offsets[axis], rounded[axis] = int(steps[i] // 2), int(np.round(steps[i]))
    return offsets, rounded


def _row(size: tuple[int, ...], n: int) -> list[int]:
    """One table row: offsets, steps, counts, step, window steps (per axis of ``size``)."""
    volume = (1,) * (3 - len(size)) + size  # scikit-image's (D, H, W)
    skip = 3 - len(size)
    off, steps = (v[skip:] for v in _regular_grid(volume, n))
    counts = [math.ceil((s - o) / t) for s, o, t in zip(size, off, steps, strict=True)]
    _, win = _regular_grid(volume, math.prod(counts))
    return [*off, *steps, *counts, max(*steps, 1), *win[skip:]]


@torch.compiler.disable  # host arithmetic on sizes, cached: nothing for a graph
@lru_cache(maxsize=64)
def _table(size: tuple[int, ...], n_max: int) -> np.ndarray:
    return np.array([_row(size, max(n, 1)) for n in range(n_max + 1)], dtype=np.int64)


@torch.compiler.disable  # one copy to the device per size, cached
@lru_cache(maxsize=64)
def _device_table(size: tuple[int, ...], n_max: int, device: torch.device) -> Tensor:
    return torch.from_numpy(_table(size, n_max)).to(device)


def slic_grid(size: tuple[int, ...], n_segments: Tensor, n_max: int) -> SlicGrid:
    """The grid of each image of spatial ``size`` (``(H, W)`` or ``(D, H, W)``) for
    ``n_segments`` ``[B]`` (values above ``n_max`` clipped).

    The table of every ``n`` up to ``n_max`` is built on the host from the sizes alone and
    cached per device, so looking rows up by a device tensor needs no synchronisation.
    """
    size = tuple(int(s) for s in size)
    a = len(size)
    table = _table(size, n_max)
    rows = _device_table(size, n_max, n_segments.device)[n_segments.clamp(1, n_max)]
    return SlicGrid(
        off=rows[:, :a],
        steps=rows[:, a : 2 * a],
        counts=rows[:, 2 * a : 3 * a],
        step=rows[:, 3 * a],
        win=rows[:, 3 * a + 1 :],
        pads=tuple(int(v) for v in table[:, 2 * a : 3 * a].max(0)),
    )
