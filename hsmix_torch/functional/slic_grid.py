"""scikit-image's SLIC grid (``skimage.util.regular_grid`` on ``(D, H, W)``), tabulated,
and the k-means starting point on it (:func:`initial_state`).

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

__all__ = ["SlicGrid", "along", "flat_cell", "initial_state", "label_bound", "slic_grid"]


class SlicGrid(NamedTuple):
    """scikit-image's SLIC grid per image of a batch, for images with ``A`` spatial axes.

    Attributes:
        off: ``[B, A]`` int64 offset of the first centre per axis.
        steps: ``[B, A]`` int64 integer step between centres per axis.
        counts: ``[B, A]`` int64 number of centres per axis.
        step: ``[B]`` int64 the step of the distance (the largest per-axis step).
        win: ``[B, A]`` int64 the per-axis step of the search window (the same rule applied
            again with n = K, the number of centres placed).
        min_size: ``[B]`` int64 the connectivity step's smallest piece,
            ``floor(min_size_factor * voxels / K)``.
        rows: ``[B, 4A + 2]`` int64, the fields above side by side (``off, steps, counts,
            step, win, min_size``): what the Triton kernels read.
        pads: the largest number of centres per axis over the batch's possible
            ``n_segments``: the centre tables are ``[B, *pads]``.
    """

    off: Tensor
    steps: Tensor
    counts: Tensor
    step: Tensor
    win: Tensor
    min_size: Tensor
    rows: Tensor
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


def _row(size: tuple[int, ...], n: int, min_size_factor: float) -> list[int]:
    """One table row: offsets, steps, counts, step, window steps (per axis of ``size``),
    the smallest piece."""
    volume = (1,) * (3 - len(size)) + size  # scikit-image's (D, H, W)
    skip = 3 - len(size)
    off, steps = (v[skip:] for v in _regular_grid(volume, n))
    counts = [math.ceil((s - o) / t) for s, o, t in zip(size, off, steps, strict=True)]
    _, win = _regular_grid(volume, math.prod(counts))
    min_size = math.floor(min_size_factor * math.prod(size) / math.prod(counts))
    return [*off, *steps, *counts, max(*steps, 1), *win[skip:], min_size]


@torch.compiler.disable  # host arithmetic on sizes, cached: nothing for a graph
@lru_cache(maxsize=64)
def _table(size: tuple[int, ...], n_max: int, min_size_factor: float) -> np.ndarray:
    rows = [_row(size, max(n, 1), min_size_factor) for n in range(n_max + 1)]
    return np.array(rows, dtype=np.int64)


@torch.compiler.disable  # one copy to the device per size, cached
@lru_cache(maxsize=64)
def _device_table(
    size: tuple[int, ...], n_max: int, min_size_factor: float, device: torch.device
) -> Tensor:
    return torch.from_numpy(_table(size, n_max, min_size_factor)).to(device)


def slic_grid(
    size: tuple[int, ...], n_segments: Tensor, n_max: int, min_size_factor: float = 0.5
) -> SlicGrid:
    """The grid of each image of spatial ``size`` (``(H, W)`` or ``(D, H, W)``) for
    ``n_segments`` ``[B]`` (values above ``n_max`` clipped), with the connectivity step's
    smallest piece for ``min_size_factor``.

    The table of every ``n`` up to ``n_max`` is built on the host from the sizes alone and
    cached per device, so looking rows up by a device tensor needs no synchronisation.
    """
    size = tuple(int(s) for s in size)
    a = len(size)
    factor = float(min_size_factor)
    table = _table(size, n_max, factor)
    rows = _device_table(size, n_max, factor, n_segments.device)[n_segments.clamp(1, n_max)]
    return SlicGrid(
        off=rows[:, :a],
        steps=rows[:, a : 2 * a],
        counts=rows[:, 2 * a : 3 * a],
        step=rows[:, 3 * a],
        win=rows[:, 3 * a + 1 : 4 * a + 1],
        min_size=rows[:, 4 * a + 1],
        rows=rows,
        pads=tuple(int(v) for v in table[:, 2 * a : 3 * a].max(0)),
    )


def label_bound(
    size: tuple[int, ...], n_max: int, min_size_factor: float, connectivity: bool = True
) -> int:
    """An upper bound of the labels + 1 of SLIC on this grid (the torch SLIC's and
    scikit-image's) for any ``n_segments`` up to ``n_max``. Without connectivity: the grid's
    centres. With it, every superpixel but the first holds at least ``min_size`` voxels
    (smaller pieces merge into an earlier neighbour), so there are at most
    ``voxels // min_size + 1``; with a ``min_size`` of 0, ``voxels``."""
    size = tuple(int(s) for s in size)
    voxels = math.prod(size)
    table = _table(size, max(n_max, 1), float(min_size_factor))[1:]
    a = len(size)
    if not connectivity:
        return int(table[:, 2 * a : 3 * a].prod(1).max())
    smallest = int(table[:, -1].min())
    return voxels if smallest < 1 else max(1, min(voxels, voxels // smallest + 1))


def _home_cell(size: int, off: Tensor, step: Tensor, count: Tensor) -> Tensor:
    """``[B, size]`` nearest initial grid index per pixel coordinate (ties to the lower one)."""
    coord = torch.arange(size, device=off.device)
    num = 2 * (coord[None, :] - off[:, None]) + step[:, None] - 1
    cell = torch.div(num, 2 * step[:, None], rounding_mode="floor")
    return torch.minimum(cell.clamp(min=0), count[:, None] - 1)


def along(t: Tensor, axis: int, nd: int, trailing: int = 0) -> Tensor:
    """``[B, n]`` (or ``[n]``) viewed along spatial ``axis`` of ``[B, *S, ...]``, with
    ``trailing`` axes of size 1 after the spatial ones."""
    lead = t.shape[:-1] if t.ndim == 2 else (1,)
    shape = [1] * nd
    shape[axis] = t.shape[-1]
    return t.reshape(*lead, *shape, *([1] * trailing))


def flat_cell(cells: list[Tensor], pads: tuple[int, ...]) -> Tensor:
    """Row-major index into the ``[*pads]`` centre table of broadcastable per-axis cells."""
    k = cells[0]
    for c, pad in zip(cells[1:], pads[1:], strict=True):
        k = k * pad + c
    return k


def initial_state(
    feats: Tensor, grid: SlicGrid
) -> tuple[Tensor, Tensor, Tensor, tuple[Tensor, ...]]:
    """scikit-image's starting point: ``(centres [B, *pads, A + F], valid [B, *pads] bool,
    labels [B, *S] int64, home)``: centres on the grid with colour 0 (scikit-image's
    initial colour), the centres placed on each image's grid, each pixel's home cell as its
    label, and ``home``: per axis, each coordinate's home cell ``[B, S_a]``."""
    b, *size, f = feats.shape
    nd, dev, pads = len(size), feats.device, grid.pads
    valid = torch.ones((b, *pads), dtype=torch.bool, device=dev)
    centres = torch.zeros((b, *pads, nd + f), device=dev)
    for a, pad in enumerate(pads):
        i = torch.arange(pad, device=dev)[None, :]
        valid &= along(i < grid.counts[:, a, None], a, nd)
        position = grid.off[:, a, None] + i * grid.steps[:, a, None]
        centres[..., a] = along(position.float(), a, nd)
    home = tuple(
        _home_cell(s, grid.off[:, a], grid.steps[:, a], grid.counts[:, a])
        for a, s in enumerate(size)
    )
    labels = flat_cell([along(h, a, nd) for a, h in enumerate(home)], pads)
    return centres, valid, labels.expand(b, *size).contiguous(), home
