"""Index helpers that reproduce OpenCV's border handling and bilinear sampling positions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["linear_taps", "reflect101_index", "reflect101_pad"]


def reflect101_index(n: int, pad: int, device: torch.device) -> Tensor:
    """Indices into a length-``n`` axis padded by ``pad`` on both sides with reflect-101.

    reflect-101 (OpenCV's ``BORDER_DEFAULT``) mirrors without repeating the edge sample:
    ``c b | a b c | b a``. A length-1 axis maps every index to 0, as OpenCV does.
    """
    idx = torch.arange(-pad, n + pad, device=device)
    if n == 1:
        return torch.zeros_like(idx)
    period = 2 * (n - 1)
    idx = idx.abs() % period
    return torch.where(idx >= n, period - idx, idx)


def reflect101_pad(x: Tensor, pad: int, dim: int) -> Tensor:
    """``x`` padded by ``pad`` samples on both sides of ``dim`` (1 or 2 of ``[B, H, W]``) with
    reflect-101 borders.

    Uses torch's ``"reflect"`` padding (the same rule) where the axis is long enough for it:
    a gather along an inner axis costs about ten times more on the CPU.
    """
    n = x.shape[dim]
    if n > pad:
        pads = (pad, pad, 0, 0) if dim == 2 else (0, 0, pad, pad)
        return F.pad(x.unsqueeze(1), pads, mode="reflect").squeeze(1)
    return x.index_select(dim, reflect101_index(n, pad, x.device))


def linear_taps(in_size: int, out_size: int) -> tuple[list[int], list[int], list[float]]:
    """OpenCV's bilinear taps (half-pixel centres, no antialiasing) for one axis.

    Output sample ``d`` reads ``(1 - t) * src[i0] + t * src[i1]`` with
    ``f = (d + 0.5) * in_size / out_size - 0.5`` in float64, ``i0 = floor(f)``, ``t = f - i0``;
    positions left of the first sample or right of the last one read that sample alone.
    Returned as host lists because they depend only on the sizes.
    """
    scale = 1.0 / (out_size / in_size)
    i0s, i1s, ts = [], [], []
    for d in range(out_size):
        f = scale * (d + 0.5) - 0.5
        i = math.floor(f)
        if i < 0:
            i0s.append(0)
            i1s.append(0)
            ts.append(0.0)
        elif i >= in_size - 1:
            i0s.append(in_size - 1)
            i1s.append(in_size - 1)
            ts.append(0.0)
        else:
            i0s.append(i)
            i1s.append(i + 1)
            ts.append(f - i)
    return i0s, i1s, ts
