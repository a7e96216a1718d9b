"""scikit-image's SLIC grid (``skimage.util.regular_grid`` on ``(1, H, W)``), tabulated."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["SlicGrid", "slic_grid"]


class SlicGrid(NamedTuple):
    """scikit-image's SLIC grid per image of a batch: ``[B]`` int64 tensors, and the padding.

    Offsets and integer steps of the centre grid per axis, the number of centres per axis,
    the step used in the distance, and the per-axis step of the search window (the same rule
    applied again with n = K, the number of centres placed). ``ny_pad``, ``nx_pad``: the
    largest number of centre rows and columns over the batch's possible ``n_segments``.
    """

    off_y: Tensor
    off_x: Tensor
    step_y: Tensor
    step_x: Tensor
    ny: Tensor
    nx: Tensor
    step: Tensor
    win_y: Tensor
    win_x: Tensor
    ny_pad: int
    nx_pad: int


def _regular_grid(h: int, w: int, n: int) -> tuple[int, int, int, int]:
    """(offset_y, offset_x, step_y, step_x) of ``regular_grid((1, h, w), n)``."""
    if h * w <= n:
        return 0, 0, 1, 1
    dims = [1, h, w]
    order = sorted(range(3), key=lambda i: dims[i])  # stable, like np.argsort of the shape
    sorted_dims = [dims[i] for i in order]
    steps = [(h * w / n) ** (1.0 / 3.0)] * 3
    if any(d < s for d, s in zip(sorted_dims, steps, strict=True)):
        for dim in range(3):
            steps[dim] = float(sorted_dims[dim])
            space = float(np.prod(sorted_dims[dim + 1 :]))
            rest = 3 - dim - 1
            if rest:
                steps[dim + 1 :] = [(space / n) ** (1.0 / rest)] * rest
            if all(d >= s for d, s in zip(sorted_dims, steps, strict=True)):
                break
    starts = [int(s // 2) for s in steps]
    rounded = [int(np.round(s)) for s in steps]
    by_axis = {order[i]: (starts[i], rounded[i]) for i in range(3)}
    return by_axis[1][0], by_axis[2][0], by_axis[1][1], by_axis[2][1]


def _row(h: int, w: int, n: int) -> list[int]:
    off_y, off_x, step_y, step_x = _regular_grid(h, w, n)
    ny = math.ceil((h - off_y) / step_y)
    nx = math.ceil((w - off_x) / step_x)
    _, _, win_y, win_x = _regular_grid(h, w, ny * nx)
    return [off_y, off_x, step_y, step_x, ny, nx, max(step_y, step_x, 1), win_y, win_x]


@torch.compiler.disable  # host arithmetic on sizes, cached: nothing for a graph
@lru_cache(maxsize=64)
def _table(h: int, w: int, n_max: int) -> np.ndarray:
    return np.array([_row(h, w, max(n, 1)) for n in range(n_max + 1)], dtype=np.int64)


@torch.compiler.disable  # one copy to the device per size, cached
@lru_cache(maxsize=64)
def _device_table(h: int, w: int, n_max: int, device: torch.device) -> Tensor:
    return torch.from_numpy(_table(h, w, n_max)).to(device)


def slic_grid(h: int, w: int, n_segments: Tensor, n_max: int) -> SlicGrid:
    """The grid of each image for ``n_segments`` ``[B]`` (values above ``n_max`` clipped).

    The table of every ``n`` up to ``n_max`` is built on the host from the sizes alone and
    cached per device, so looking rows up by a device tensor needs no synchronisation.
    """
    table = _table(h, w, n_max)
    rows = _device_table(h, w, n_max, n_segments.device)[n_segments.clamp(1, n_max)]
    return SlicGrid(*rows.unbind(1), ny_pad=int(table[:, 4].max()), nx_pad=int(table[:, 5].max()))
