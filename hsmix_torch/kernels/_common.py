"""What the Triton kernels share: the 32-bit index limit, launch grids within CUDA's limits,
block reductions of runs before atomics, and exact rounding."""

from __future__ import annotations

import math

import triton
import triton.language as tl
from torch import Tensor

__all__ = [
    "GRID_LIMITS",
    "INT32_LIMIT",
    "check_32bit",
    "flat_grid",
    "largest_offset",
    "round_half_even",
    "run_bounds",
    "run_shares",
    "split_program",
]

# The kernels index with 32-bit integers (64-bit division costs a call per operation on a
# GPU): tensors of this many elements or more take the torch-ops path or are refused.
INT32_LIMIT = 2**31

# CUDA's programs per grid axis: axis 0 takes 2**31 - 1, axes 1 and 2 only 65,535 (the
# interpreter has no limit). Every launch uses axis 0 alone (:func:`flat_grid`).
GRID_LIMITS = (2**31 - 1, 65_535, 65_535)


def largest_offset(t: Tensor) -> int:
    """The largest element offset a kernel forms from ``t``'s sizes and strides: a strided
    view of a larger tensor reaches past its own ``numel``."""
    if t.numel() == 0:
        return 0
    return sum((size - 1) * abs(stride) for size, stride in zip(t.shape, t.stride(), strict=True))


def check_32bit(what: str, described: str, *extents: int) -> None:
    """A ValueError unless every extent (an element count or offset a kernel forms) is
    below ``INT32_LIMIT``: ``the Triton {what} indexes in 32 bits: {described} ...``."""
    if max(extents, default=0) >= INT32_LIMIT:
        raise ValueError(
            f"the Triton {what} indexes in 32 bits: {described} are too large; use kernels='torch'"
        )


def flat_grid(*counts: int) -> tuple[int]:
    """A 1-D launch grid of ``prod(counts)`` programs, within CUDA's limit of axis 0; the
    kernel splits its program id back with :func:`split_program` (the last count inner)."""
    programs = math.prod(counts)
    if programs > GRID_LIMITS[0]:
        raise ValueError(
            f"a launch of {' x '.join(map(str, counts))} programs exceeds CUDA's grid limit "
            f"({GRID_LIMITS[0]}); use kernels='torch'"
        )
    return (programs,)


@triton.jit
def split_program(INNER):
    """``(outer, inner)`` of this program of a :func:`flat_grid` whose last count is
    ``INNER``: one 32-bit division per program, none per lane."""
    pid = tl.program_id(0)
    outer = pid // INNER
    return outer, pid - outer * INNER


@triton.jit
def round_half_even(v):
    """``torch.round`` of float32 ``v`` without libdevice: below 2**23 the float addition of
    2**23 rounds to an integer (half to even); from 2**23 on every float32 is an integer."""
    t = tl.abs(v)
    r = tl.where(t < 8388608.0, (t + 8388608.0) - 8388608.0, t)
    return tl.where(v < 0, -r, r)


# ---------------------------------------------------------------- runs before atomics
# An atomic per lane into a few addresses serialises on a GPU (the lanes of a block that
# share a superpixel, a root or a candidate centre hit one word). Neighbouring lanes mostly
# share their key, so only the lanes that start or end a run of equal keys issue an atomic,
# with their share of the run's sum (:func:`run_shares`): exact for integers, in any order.
@triton.jit
def run_bounds(key):
    """``(first, last)``: whether each lane of the 1-D block ``key`` starts, and ends, a run
    of equal keys (lanes that take no part should hold a key of their own, e.g. -1)."""
    n: tl.constexpr = key.shape[0]
    i = tl.arange(0, n)
    before = tl.gather(key, tl.maximum(i - 1, 0), 0)
    after = tl.gather(key, tl.minimum(i + 1, n - 1), 0)
    return (i == 0) | (before != key), (i == n - 1) | (after != key)


@triton.jit
def run_shares(first, last, value):
    """Each lane's share of its run's sum of integer ``value``: the running sum at a run's
    last lane, minus the running sum before its first lane, 0 elsewhere. Added (by atomics,
    from the lanes that start or end a run: two lanes a run at most), a run's shares are
    its sum. One plain prefix sum: no segmented scan. int64 values are summed in float64
    (exact below 2**53, and cheaper than 64-bit integer scans on a GPU)."""
    if value.dtype == tl.int64:
        total = tl.cumsum(value.to(tl.float64), 0).to(tl.int64)
    else:
        total = tl.cumsum(value, 0)
    return tl.where(last, total, 0) - tl.where(first, total - value, 0)
