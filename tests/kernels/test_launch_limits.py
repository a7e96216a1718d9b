"""Every launch of a forward stays within CUDA's limits at the largest shapes users run, and
no kernel forms an offset past 32 bits: checked on the grids and arguments the kernels
would get, recorded on the meta device (nothing allocated, nothing computed; see
``benchmarks/launches.py``). The interpreter runs any grid, so only this shows what a GPU
refuses: axes 1 and 2 of a CUDA grid take 65,535 programs (two 256^3 volumes were
131,072 rows on axis 1), axis 0 takes 2**31 - 1."""

from __future__ import annotations

import pytest
import torch

from benchmarks.gpu_report import GRID_SHAPES, launch_limits, record_largest
from benchmarks.launches import record
from hsmix_torch.kernels import triton_available
from hsmix_torch.kernels._common import GRID_LIMITS, INT32_LIMIT, flat_grid

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")


@pytest.mark.parametrize("shape", GRID_SHAPES, ids=["x".join(map(str, s)) for s in GRID_SHAPES])
def test_grids_and_offsets_fit_at_the_largest_shapes(shape) -> None:
    rec = record_largest(shape)
    assert rec.launches and launch_limits(rec) == []
    assert all(launch.grid[1:] == (1, 1) for launch in rec.launches)  # every grid is 1-D
    rows = shape[0] * (shape[2] if len(shape) == 5 else 1) * shape[-2]
    connectivity = [x for x in rec.launches if x.name == "_union_kernel"]
    assert connectivity and connectivity[0].programs >= rows  # what axis 1 held before


def test_strided_views_of_huge_tensors_are_read_within_32_bits() -> None:
    """A view whose offsets reach past 2**31 (a crop of a huge batch, every other image):
    the saliency and feature kernels read a copy rather than overflow their offsets."""
    from hsmix_torch.saliency import fine_grained
    from hsmix_torch.superpixels.torch_slic import _features_impl

    base = torch.empty((2**31 + 8192,), device="meta")
    view = base.as_strided((2, 3, 48, 40), (2**31, 1, 120, 3))  # channels last, far apart
    rec = record(lambda: fine_grained(view))
    rec_f = record(lambda: _features_impl("triton", view.device)(view, 8.0))
    for launch in rec.launches + rec_f.launches:
        for arg in launch.args:
            if isinstance(arg, dict):
                assert arg["extent"] < INT32_LIMIT, launch.name
    assert rec.launches and rec_f.launches


def test_a_launch_over_the_first_axis_is_refused() -> None:
    assert flat_grid(3, 5) == (15,)
    with pytest.raises(ValueError, match="grid limit"):
        flat_grid(GRID_LIMITS[0], 2)
