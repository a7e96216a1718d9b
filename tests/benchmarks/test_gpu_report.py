"""The GPU budget, checked on this CPU by ``benchmarks/gpu_report.py`` (the static GPU
report): every Triton kernel variant a forward launches, on the small shapes of images and
volumes (RGB, grey, odd sizes, a volume), compiles with Triton's own compiler and ``ptxas``
for sm_75 and sm_90 (Turing and Hopper, the ends of the range; the report's default
compiles all five from sm_75 to sm_90, docs/results/gpu_static.md), with no register
spills, no 64-bit division or remainder in its PTX, no approximate arithmetic where a
kernel promises torch's numbers (an fp32 ``a / b`` is ``div.full.f32`` on a GPU; only the
CIELAB powers of the RGB features may use ``ex2.approx``), at most 128 registers a thread
(kernels of a program per block of pixels; the report's ``PER_PIXEL_REGISTERS``), and
every grid within CUDA's limits, at the small shapes and at the largest ones
(``GRID_SHAPES``). The interpreter runs a kernel's Python, not Triton's compiler, so only
this catches what a GPU would refuse (a non-constexpr global, star-arguments, a type mix),
rounds differently, or makes slow."""

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


@pytest.mark.timeout(600)
def test_every_launched_variant_compiles_within_the_budget(tmp_path) -> None:
    out = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_report.py"), "--small", "--check",
         "--jobs", "2", "--targets", "75", "90", "--json", str(out)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=540,
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
            assert sorted(int(cc) for cc in results) == [75, 90]
            for r in results.values():
                assert "error" not in r, (variant["kernel"], r)
                assert r["spill_bytes"] == 0 and r["div64"] == 0
                assert 0 < r["registers"] <= 128, (variant["kernel"], r["registers"])
                allowed = (
                    {"ex2.approx", "lg2.approx"} if "LAB=True" in variant["variant"] else set()
                )
                assert set(r["approximate"]) <= allowed, (variant["kernel"], r["approximate"])
    # Nothing read back in a forward without value checks, and the launch budget.
    summary = configs[0]["summary"]
    assert summary["launches"] <= 120


_DIVIDING_KERNEL = """
import triton
import triton.language as tl


@triton.jit
def divide(a_ptr, b_ptr, out_ptr, EXACT: tl.constexpr):
    i = tl.arange(0, 128)
    a, b = tl.load(a_ptr + i), tl.load(b_ptr + i)
    tl.store(out_ptr + i, tl.div_rn(a, b) if EXACT else a / b)
"""


def test_the_report_finds_approximate_division(tmp_path) -> None:
    """The check the budget relies on: a plain fp32 ``/`` compiles to ``div.full.f32``,
    ``tl.div_rn`` to the exact ``div.rn.f32``, which the report does not count."""
    (tmp_path / "dividing.py").write_text(_DIVIDING_KERNEL)
    script = (
        "import sys, json; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
        "import triton, dividing\n"
        "from triton.compiler import ASTSource\n"
        "from triton.backends.compiler import GPUTarget\n"
        "from benchmarks.gpu_report import approximate_instructions\n"
        "sig = {'a_ptr': '*fp32', 'b_ptr': '*fp32', 'out_ptr': '*fp32', 'EXACT': 'constexpr'}\n"
        "out = {}\n"
        "for exact in (False, True):\n"
        "    src = ASTSource(dividing.divide, sig, {'EXACT': exact})\n"
        "    ptx = triton.compile(src, target=GPUTarget('cuda', 90, 32)).asm['ptx']\n"
        "    out[str(exact)] = [approximate_instructions(ptx), 'div.rn.f32' in ptx]\n"
        "print(json.dumps(out))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), str(ROOT)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["False"][0].get("div.full", 0) > 0
    assert found["True"] == [{}, True]
