"""The kernels' fixed-point rounding (no libdevice) is ``torch.round``: halves to even, as
in the reference's fixed-point sums, and exact from 2**23 on."""

from __future__ import annotations

import pytest
import torch

triton = pytest.importorskip("triton")
tl = triton.language

# Imported after conftest has chosen the interpreter (without a GPU).
from hsmix_torch.kernels._common import round_half_even as _round_half_even  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@triton.jit
def _round_kernel(x_ptr, out_ptr, N, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    v = tl.load(x_ptr + offs, mask=offs < N, other=0.0)
    tl.store(out_ptr + offs, _round_half_even(v).to(tl.int64), mask=offs < N)


def test_fixed_point_rounding_is_torch_round() -> None:
    x = torch.tensor(
        [0.5, 1.5, 2.5, -0.5, -1.5, 3.0, 1e-9, -7.25, 8388607.5, 2.0**24 + 2, -(2.0**30)],
        device=DEVICE,
    )
    out = torch.empty(x.shape, dtype=torch.int64, device=DEVICE)
    _round_kernel[(1,)](x, out, x.numel(), BLOCK=16)
    assert torch.equal(out, torch.round(x).long())
