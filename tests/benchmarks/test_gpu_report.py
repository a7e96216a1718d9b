"""The GPU budget, checked on this CPU by ``benchmarks/gpu_report.py`` (the static GPU
report): every Triton kernel variant a forward launches, on the small shapes of images and
volumes (RGB, grey, odd sizes, a volume), compiles with Triton's own compiler and ``ptxas``
for sm_75, sm_80, sm_86, sm_89 and sm_90, with no register spills, no 64-bit division or
remainder in its PTX, and at most 128 registers a thread (kernels of a program per block
of pixels; the report's ``PER_PIXEL_REGISTERS``). The interpreter runs a kernel's Python, not
Triton's compiler, so only this catches what a GPU would refuse (a non-constexpr global,
star-arguments, a type mix) and what makes it slow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hsmix_torch.kernels import triton_available

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
ROOT = Path(__file__).resolve().parents[2]


def test_every_launched_variant_compiles_within_the_budget(tmp_path) -> None:
    out = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_report.py"), "--small", "--check",
         "--jobs", "2", "--json", str(out)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    configs = json.loads(out.read_text())
    names = {v["kernel"] for config in configs for v in config["variants"]}
    for kernel in ("_round_kernel", "_union_kernel", "_scan_level_kernel", "_centre_kernel",
                   "_hard_kernel", "_mix_kernel"):  # fmt: skip
        assert kernel in names
    for config in configs:
        for variant in config["variants"]:
            results = variant["results"]
            assert sorted(int(cc) for cc in results) == [75, 80, 86, 89, 90]
            for r in results.values():
                assert "error" not in r, (variant["kernel"], r)
                assert r["spill_bytes"] == 0 and r["div64"] == 0
                assert 0 < r["registers"] <= 128, (variant["kernel"], r["registers"])
    # Nothing read back in a forward without value checks, and the launch budget.
    summary = configs[0]["summary"]
    assert summary["launches"] <= 120
