"""What the Triton kernels share: the 32-bit index limit and exact rounding helpers."""

from __future__ import annotations

import triton
import triton.language as tl

__all__ = ["INT32_LIMIT", "round_half_even"]

# The kernels index with 32-bit integers (64-bit division costs a call per operation on a
# GPU): tensors of this many elements or more take the torch-ops path or are refused.
INT32_LIMIT = 2**31


@triton.jit
def round_half_even(v):
    """``torch.round`` of float32 ``v`` without libdevice: below 2**23 the float addition of
    2**23 rounds to an integer (half to even); from 2**23 on every float32 is an integer."""
    t = tl.abs(v)
    r = tl.where(t < 8388608.0, (t + 8388608.0) - 8388608.0, t)
    return tl.where(v < 0, -r, r)
