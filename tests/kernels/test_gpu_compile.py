"""The connectivity kernels compile for a GPU (sm_90, an H100/H200) on a machine without one.

The interpreter runs a kernel's Python, not Triton's compiler, so a construct that only the
compiler rejects (a type mix, a constexpr misuse) would first show on a GPU. Triton compiles
to PTX and a cubin without a device, given the target: this test does that for every
variant the op launches, in a subprocess without TRITON_INTERPRET (so the kernels are
compiled, not interpreted).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from hsmix_torch.kernels import triton_available

pytestmark = pytest.mark.skipif(not triton_available(), reason="Triton is not installed")

_SCRIPT = textwrap.dedent(
    """
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from hsmix_torch.kernels import connectivity as k

    target = GPUTarget("cuda", 90, 32)
    dims = {"N": "i32", "D": "i32", "H": "i32", "W": "i32", "HW": "i32"}

    def compile_(fn, pointers, scalars, constexprs):
        sig = {name: "*" + dtype for name, dtype in pointers.items()}
        sig.update(scalars)
        sig.update({name: "constexpr" for name in constexprs})
        out = triton.compile(ASTSource(fn=fn, signature=sig, constexprs=constexprs), target=target)
        assert "cubin" in out.asm, fn.__name__
        print("compiled", fn.__name__, constexprs)

    i64 = "i64"
    for volume in (False, True):
        compile_(
            k._hook_kernel,
            {"labels_ptr": i64, "parent_ptr": i64, "m_ptr": i64, "hooked_ptr": i64},
            {"N": "i32", "D": "i32", "H": "i32", "W": "i32"},
            {"VOLUME": volume, "BLOCK": 256},
        )
        for start in (True, False):
            compile_(
                k._scan_level_kernel,
                {"root_ptr": i64, "sizes_ptr": i64, "min_ptr": i64, "level_ptr": i64,
                 "key_ptr": i64, "active_ptr": "i32"},
                {"depth": "i32", **dims},
                {"START": start, "VOLUME": volume, "BLOCK": 256},
            )
        for step in range(3):
            compile_(
                k._scan_meet_kernel,
                {"root_ptr": i64, "sizes_ptr": i64, "min_ptr": i64, "level_ptr": i64,
                 "key_ptr": i64, "last_ptr": i64, "best_ptr": i64, "first_large_ptr": i64},
                dims,
                {"PASS": step, "DEPTH": 23, "VOLUME": volume, "BLOCK": 256},
            )
    compile_(k._jumps_kernel, {n: i64 for n in ("hooked_ptr", "m_ptr", "parent_ptr",
             "next_hooked_ptr")}, {"N": "i32"}, {"BLOCK": 256})
    compile_(k._sizes_kernel, {"root_ptr": i64, "sizes_ptr": i64}, {"N": "i32"}, {"BLOCK": 256})
    compile_(
        k._follow_kernel,
        {"root_ptr": i64, "best_ptr": i64, "first_large_ptr": i64, "out_ptr": i64,
         "unresolved_ptr": "i32"},
        {"N": "i32", "HW": "i32", "STEPS": "i32"},
        {"BLOCK": 256},
    )
    """
)


def test_connectivity_kernels_compile_for_sm90() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    run = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("compiled") == 2 * (1 + 2 + 3) + 3
