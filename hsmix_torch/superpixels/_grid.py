"""scikit-image's SLIC grid (``skimage.util.regular_grid`` on ``(1, H, W)``), tabulated."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

__all__ = ["GRID_FIELDS", "grid_table"]

# Columns of the table: offsets and integer steps of the centre grid per axis, the number of
# centres per axis, the step used in the distance, and the per-axis step of the search window
# (the same rule applied again with n = K, the number of centres placed).
GRID_FIELDS = ("off_y", "off_x", "step_y", "step_x", "ny", "nx", "step", "win_y", "win_x")


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


@lru_cache(maxsize=64)
def _table(h: int, w: int, n_max: int) -> np.ndarray:
    return np.array([_row(h, w, max(n, 1)) for n in range(n_max + 1)], dtype=np.int64)


@lru_cache(maxsize=64)
def grid_table(h: int, w: int, n_max: int, device: torch.device) -> tuple[Tensor, int, int]:
    """The grid for every ``n`` up to ``n_max``, and the padded grid size.

    Returns ``(table, ny_pad, nx_pad)``: table ``[n_max + 1, 9]`` int64 on ``device`` (row n
    holds the grid for ``max(n, 1)``, columns :data:`GRID_FIELDS`), and the largest number of
    centre rows and columns. Built on the host from the sizes alone and cached per device,
    so looking rows up by a device tensor of ``n_segments`` needs no synchronisation.
    """
    table = _table(h, w, n_max)
    return torch.from_numpy(table).to(device), int(table[:, 4].max()), int(table[:, 5].max())
