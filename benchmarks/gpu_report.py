"""The static GPU report: what one HSMix forward costs on a GPU, read from its compiled code
on a machine without one.

1. Record every launch of one forward at the defaults on CUDA (the Triton kernels, the
   torch SLIC with its sync-free options, the per-superpixel tables sized by the backend's
   label bound), on the CPU: ``launches.record`` (no kernel is interpreted; each kernel op's
   result comes from its torch-ops reference).
2. Compile each distinct kernel variant (a kernel with its constexprs and the argument
   specialisation a launch gets) for sm_75, sm_80, sm_86, sm_89 and sm_90, to PTX and a
   cubin, with Triton's own compiler and ``ptxas``; no GPU is needed.
3. Print per variant: registers and spill bytes per target, shared memory and occupancy on
   an H100, 64-bit divisions and remainders and approximate arithmetic (``div.full.f32``,
   ``ex2.approx``, ...) in the PTX, SASS instructions, bytes touched; per forward:
   launches (Triton and torch ops), host reads, the largest grid, and two floors on an
   H100; and the grids of every launch at the largest shapes users run (``GRID_SHAPES``,
   recorded on the meta device: nothing is allocated), against CUDA's limits per axis.

The floors, on an H100 SXM (132 SMs, 4 warp schedulers each issuing one warp instruction
per cycle at 1.755 GHz; 3.35 TB/s of HBM):

- instruction issue: per launch, warps (programs times ``num_warps``) times the SASS
  instructions a warp issues (every instruction of the kernel once per trip of its
  enclosing loops, a call adding its callee's instructions), over the issue rate. Loop
  trips come from the launch's arguments where a kernel's runtime loop has a hint
  (``TRIPS``), else 1; a launch that returns early (a scan level after a level that
  reached nothing, ``RUNS``) counts its instructions up to that return. Triton kernels
  only; the torch ops are counted in the memory floor.
- memory: per launch, the bytes of every tensor the kernel's code reads or writes (each
  whole, once: pointer parameters its PTX never loads are left out; none for a launch that
  returns early), and per torch op the bytes of its inputs and outputs, over the HBM
  bandwidth.

Both are floors of a kind a reviewer can check without a GPU, not predictions: launch
latency, caches, divergence and occupancy are left out (see gpu_check.sh for the measured
profile). The budget (``--check``): every variant compiles on every target with no spills,
no 64-bit division or remainder and no approximate instruction but those its module
declares (``APPROXIMATE``: the CIELAB powers of the SLIC features, within their stated
tolerance; never a division where a kernel promises equality with torch), every
per-pixel kernel within 128 registers, and every launch grid within CUDA's limits.

    python benchmarks/gpu_report.py                     # B=16 RGB 224, n 30-80
    python benchmarks/gpu_report.py --volumes           # B=2 grey 96^3
    python benchmarks/gpu_report.py --small --check     # the CI test's shapes
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.common import print_table, write_csv  # noqa: E402
from benchmarks.launches import Launch, Recording, record  # noqa: E402

TARGETS = (75, 80, 86, 89, 90)
H100 = {
    "sms": 132,
    "schedulers": 4,
    "clock_hz": 1.755e9,
    "hbm_bytes_s": 3.35e12,
    "regs_per_sm": 65536,
    "max_warps": 64,
    "max_blocks": 32,
    "smem_per_sm": 233472,  # 228 KiB
    "smem_reserved_per_block": 1024,
}
PER_PIXEL_REGISTERS = 128  # the register budget of a kernel (a program per block of pixels)
# PTX instructions that do not round as IEEE (and torch) do: an fp32 "a / b" compiles to
# div.full.f32 (up to 2 ulp off), tl.exp2 / tl.log2 to ex2.approx / lg2.approx.
APPROXIMATE_PTX = re.compile(
    r"\b(div\.(?:full|approx)\.\w+|(?:rcp|sqrt|rsqrt|ex2|lg2|sin|cos|tanh)\.approx)\b"
)
_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "int32": torch.int32,
    "int16": torch.int16,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "bool": torch.bool,
}


def _tensor_arg(args: dict[str, Any], name: str) -> torch.Tensor:
    return args[name]["tensor"]


def _round_trips(args: dict[str, Any], kw: dict[str, Any]) -> float:
    """The k-means round kernel: each program loops over its home cell's box of voxels,
    BLOCK at a time (the box bounds as the kernel derives them from the grid rows)."""
    rows = _tensor_arg(args, "rows_ptr")  # [B, 4A + 2]
    a = kw["A"]
    pads = [args[n] if isinstance(args[n], int) else 1 for n in ("NZ_PAD", "NY_PAD", "NX_PAD")]
    sizes = [args[n] if isinstance(args[n], int) else 1 for n in ("D", "H", "W")]
    extents = []
    for axis in range(a):
        off, step, count = rows[:, axis, None], rows[:, a + axis, None], rows[:, 2 * a + axis, None]
        i = torch.arange(pads[3 - a + axis])[None, :]
        first = torch.where(i == 0, 0, off + step * i - (step - 1) // 2)
        last = torch.where(
            i + 1 >= count, sizes[3 - a + axis], off + step * (i + 1) - (step - 1) // 2
        )
        extents.append(torch.where(i < count, last - first, 0))  # [B, pad]
    pix = extents[0]
    for e in extents[1:]:
        pix = pix[..., None] * e.view(e.shape[0], *([1] * (pix.ndim - 1)), -1)
    return float(torch.ceil(pix.double() / kw["BLOCK"]).mean())


def _row_programs(args: dict[str, Any], kw: dict[str, Any]) -> tuple[int, int, int, int]:
    """``(images, D, H, W)`` of a connectivity launch (programs: rows x blocks of W)."""
    d, h, w = (args[n] if isinstance(args[n], int) else 1 for n in ("D", "H", "W"))
    return args["labels_ptr"]["numel"] // (d * h * w), d, h, w


def _union_find_trips(
    labels: torch.Tensor, shape: tuple[int, int, int, int], block: int
) -> tuple[float, float, np.ndarray]:
    """Mean loop trips per program of the union and compress kernels on these labels, and
    each voxel's root: the kernels' union-find run in lockstep (every lane one step per
    round; links to the same root in lane order, a lane that lost climbing on from the
    winner's link), each program's trips the most of its lanes'."""
    labels = labels.reshape(-1).numpy()
    b, d, h, w = shape
    n = labels.size
    idx = np.arange(n)
    x = idx % w
    first = (x == 0) | (labels != np.roll(labels, 1))
    start = np.maximum.accumulate(np.where(first, idx, 0))
    parent = np.where(first, 0, start + 1)  # the runs kernel
    programs = (idx // w) * -(-w // block) + x // block
    union = []
    steps = [(w, (idx // w) % h < h - 1)] + (
        [(w * h, (idx // (w * h)) % d < d - 1)] if d > 1 else []
    )
    for step, has in steps:
        a = idx[has]
        a = a[labels[a] == labels[a + step]]
        owner, b_ = programs[a], a + step
        trips = np.zeros(a.size, dtype=np.int64)
        todo = np.ones(a.size, dtype=bool)
        while todo.any():
            trips += todo
            pa, pb = parent[a], parent[b_]
            up_a = todo & (pa != 0)
            up_b = todo & (pa == 0) & (pb != 0)
            a = np.where(up_a, pa - 1, a)
            b_ = np.where(up_b, pb - 1, b_)
            roots = todo & (pa == 0) & (pb == 0)
            link = roots & (a != b_)
            hi, lo = np.maximum(a, b_), np.minimum(a, b_)
            won = np.zeros(a.size, dtype=bool)
            lanes = np.flatnonzero(link)
            _, firsts = np.unique(hi[lanes], return_index=True)
            winners = lanes[firsts]
            winners = winners[parent[hi[winners]] == 0]
            parent[hi[winners]] = lo[winners] + 1
            won[winners] = True
            lost = link & ~won
            a = np.where(lost & (a == hi), parent[hi] - 1, a)
            b_ = np.where(lost & (b_ == hi), parent[hi] - 1, b_)
            todo &= ~(roots & (a == b_)) & ~won
        per_program = np.zeros(programs.max() + 1, dtype=np.int64)
        np.maximum.at(per_program, owner, trips)
        union.append(per_program.mean())
    depth = np.zeros(n, dtype=np.int64)
    r = idx.copy()
    while True:
        v = parent[r]
        up = v != 0
        if not up.any():
            break
        depth += up
        r = np.where(up, v - 1, r)
    per_program = np.zeros(programs.max() + 1, dtype=np.int64)
    np.maximum.at(per_program, programs, depth + 1)
    return float(np.mean(union)) if union else 1.0, float(per_program.mean()), r


# By the parent table's address, from the union launch, for the launches that follow it.
_COMPRESS_TRIPS: dict[int, float] = {}
_ROOTS: dict[int, tuple[np.ndarray, tuple[int, int, int, int]]] = {}
_REACHED: dict[int, int] = {}


def _union_trips(args: dict[str, Any], kw: dict[str, Any]) -> float:
    labels = _tensor_arg(args, "labels_ptr")
    shape = _row_programs(args, kw)
    union, compress, root = _union_find_trips(labels, shape, kw["BLOCK"])
    _COMPRESS_TRIPS[args["parent_ptr"]["ptr"]] = compress
    _ROOTS[args["parent_ptr"]["ptr"]] = (root, shape)
    return union


def _compress_trips(args: dict[str, Any], kw: dict[str, Any]) -> float:
    return _COMPRESS_TRIPS.get(args["parent_ptr"]["ptr"], 1.0)


def _scan_level_runs(args: dict[str, Any], kw: dict[str, Any]) -> bool:
    """Whether a scan-level launch does its work: the first always, a later one where the
    level before reached a voxel (else each program returns after one load). The deepest
    level reached comes from the reference's scan (``_scan_order``) on the components."""
    from hsmix_torch._constants import SCAN_DEPTH
    from hsmix_torch.superpixels.connectivity import _scan_order

    key = args["parent_ptr"]["ptr"]
    if key not in _ROOTS:
        return True
    if key not in _REACHED:
        root, (b, d, h, w) = _ROOTS[key]
        sizes = np.bincount(root, minlength=root.size)
        minimum = _tensor_arg(args, "min_ptr").numpy().repeat(d * h * w)
        level, _ = _scan_order(
            torch.from_numpy(root).view(b, d, h, w).squeeze(1),
            torch.from_numpy(sizes < minimum),
        )
        inside = level[(level >= 0) & (level <= SCAN_DEPTH)]
        _REACHED[key] = int(inside.max()) if inside.numel() else 0
    return args["depth"] <= _REACHED[key] + 1


# Whether a launch runs past its early exit, from its arguments (else it costs the
# instructions before its first conditional branch, and no memory traffic).
RUNS: dict[str, Callable[[dict[str, Any], dict[str, Any]], bool]] = {
    "_scan_level_kernel": _scan_level_runs,
}


def _early_exit_instructions(sass: str) -> int:
    """The SASS instructions up to and with a kernel's first conditional branch."""
    for n, m in enumerate(_INSTR.finditer(sass), 1):
        if m.group(2) and m.group(3).startswith("BRA"):
            return n
    return 0


# Mean trips per program of a kernel's runtime loop, from its launch's arguments.
TRIPS: dict[str, Callable[[dict[str, Any], dict[str, Any]], float]] = {
    "_round_kernel": _round_trips,
    "_union_kernel": _union_trips,
    "_compress_kernel": _compress_trips,
}


# ----------------------------------------------------------------------------- variants
def _jit_function(launch: Launch):  # noqa: ANN202
    """A compilable ``JITFunction`` of the launch's kernel (the interpreter's holds the
    Python function)."""
    from triton.runtime.jit import JITFunction

    module = importlib.import_module(launch.module)
    fn = getattr(module, launch.name)
    return JITFunction(fn.fn, **launch.jit_options) if not isinstance(fn, JITFunction) else fn


def _stand_ins(launch: Launch) -> list[Any]:
    """Arguments that specialise as the launch's do: tensors of its dtypes and alignment."""
    out = []
    for a in launch.args:
        if isinstance(a, dict):
            t = torch.empty(8, dtype=_DTYPES[a["dtype"]])
            out.append(t if a["aligned"] else t[1:])
        else:
            out.append(a)
    return out


def _specialise(launch: Launch) -> dict[str, Any]:
    """The signature, constexprs, attributes and options Triton compiles this launch with
    (its own binder, as a launch on a CUDA device runs it)."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import make_backend
    from triton.runtime.jit import create_function_from_signature

    fn = _jit_function(launch)
    backend = make_backend(GPUTarget("cuda", 90, 32))
    binder = create_function_from_signature(fn.signature, fn.params, backend)
    bound, spec, opts = binder(*_stand_ins(launch), **launch.kwargs)
    _, signature, constexprs, attrs = fn._pack_args(backend, launch.kwargs, bound, spec, opts)
    return {
        "module": launch.module,
        "name": launch.name,
        "jit_options": launch.jit_options,
        "signature": signature,
        "constexprs": [[list(k), v] for k, v in sorted(constexprs.items())],
        "attrs": [[list(k), v] for k, v in sorted(attrs.items())],
        "kwargs": {k: v for k, v in launch.kwargs.items() if k not in fn.arg_names},
        "params": fn.arg_names,
    }


def _variant_key(spec: dict[str, Any]) -> str:
    return json.dumps(
        {k: spec[k] for k in ("module", "name", "signature", "constexprs", "attrs", "kwargs")},
        sort_keys=True,
        default=str,
    )


def _short(spec: dict[str, Any]) -> str:
    """The variant's constexprs and specialised integers, by name, for the table."""
    names = spec["params"]
    parts = []
    for (i,), v in spec["constexprs"]:
        parts.append(f"{names[i]}={v}")
    for (i,), attrs in spec["attrs"]:
        if attrs and spec["signature"][names[i]][0] != "*":
            parts.append(f"{names[i]}%16")
    return " ".join(parts)


# ----------------------------------------------------------------------------- compiling
def _tool(name: str) -> str:
    import triton

    return str(Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / name)


def _sass(cubin: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        run = subprocess.run([_tool("cuobjdump"), "-sass", f.name], capture_output=True, text=True)
    return run.stdout


_INSTR = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)([^;]*);")


def _dynamic_instructions(sass: str, trips: float) -> tuple[int, float]:
    """``(static, dynamic)`` SASS instructions of a kernel per warp: each instruction once
    per trip of its enclosing loops (backward branches; each runtime loop ``trips`` times),
    a CALL adding its callee's instructions (up to its RET), but for the IEEE division's
    slow path: a call skipped by a branch on the predicate of an ``FCHK`` (the operand
    check of ``div.rn.f32``), taken only for denormal, infinite or huge operands. NOPs and
    the final self-branch are not counted."""
    code = []
    for m in _INSTR.finditer(sass):
        addr, op, rest = int(m.group(1), 16), m.group(3), m.group(4)
        code.append((addr, op, rest, (m.group(2) or "").strip()))
    checked = _division_slow_paths(code)
    code = [c[:3] for c in code]
    if not code:
        return 0, 0.0
    index = {addr: i for i, (addr, _, _) in enumerate(code)}

    def target(rest: str) -> int | None:
        m = re.search(r"0x([0-9a-f]+)", rest)
        return int(m.group(1), 16) if m else None

    # The kernel body ends at its last EXIT or BRA before the first callee.
    callees = sorted({t for _, op, rest in code if op.startswith("CALL") and (t := target(rest))})
    end = index.get(callees[0], len(code)) if callees else len(code)
    weight = [1.0] * len(code)
    for i in range(end):
        addr, op, rest = code[i]
        t = target(rest)
        if op.startswith("BRA") and t is not None and t < addr and t in index and t != addr:
            for j in range(index[t], i + 1):
                weight[j] *= trips
    callee_size = {}
    for c in callees:
        n = 0
        for _, op, _ in code[index[c] :]:
            n += 1
            if op.startswith("RET"):
                break
        callee_size[c] = n
    static = 0
    dynamic = 0.0
    for i in range(end):
        addr, op, rest = code[i]
        if op == "NOP" or (op.startswith("BRA") and target(rest) == addr):
            continue
        static += 1
        dynamic += weight[i]
        if op.startswith("CALL") and i not in checked:
            dynamic += weight[i] * callee_size.get(target(rest) or -1, 0)
    return static, dynamic


def _division_slow_paths(code: list[tuple[int, str, str, str]]) -> set[int]:
    """Indices of the CALLs that a branch on an ``FCHK`` predicate skips (within the last
    few instructions): the slow path of an IEEE division."""
    found = set()
    for i, (_, op, _, _) in enumerate(code):
        if not op.startswith("CALL"):
            continue
        for j in range(i - 1, max(i - 7, 0), -1):
            _, op_j, _, guard = code[j]
            if op_j.startswith("BRA") and guard:
                pred = guard.lstrip("@!")
                if any(c[1].startswith("FCHK") and c[2].lstrip().startswith(pred)
                       for c in code[max(j - 200, 0) : j]):  # fmt: skip
                    found.add(i)
                break
    return found


def _ptx_params_used(ptx: str, names: list[str]) -> list[int]:
    """Indices of the kernel parameters the PTX loads."""
    used = set(int(i) for i in re.findall(r"ld\.param\.[a-z0-9]+\s+%\w+,\s*\[\w+_param_(\d+)", ptx))
    return sorted(i for i in used if i < len(names))


def _compile_one(job: tuple[dict[str, Any], int]) -> dict[str, Any]:
    """Compile one variant for one target (in a worker without TRITON_INTERPRET)."""
    spec, cc = job
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, make_backend
    from triton.runtime.jit import JITFunction

    module = importlib.import_module(spec["module"])
    fn = getattr(module, spec["name"])
    if not isinstance(fn, JITFunction):
        raise RuntimeError(f"{spec['name']} is not compiled here: TRITON_INTERPRET is set")
    target = GPUTarget("cuda", cc, 32)
    backend = make_backend(target)
    options = backend.parse_options(spec["kwargs"])
    constexprs = {tuple(k): v for k, v in spec["constexprs"]}
    attrs = {tuple(k): v for k, v in spec["attrs"]}
    try:
        kernel = triton.compile(
            ASTSource(fn, spec["signature"], constexprs, attrs),
            target=target,
            options=options.__dict__,
        )
    except Exception as err:  # noqa: BLE001 - a failure is a result of the report
        return {"cc": cc, "error": f"{type(err).__name__}: {str(err)[-1500:]}"}
    ptx = kernel.asm["ptx"]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "k.ptx"
        src.write_text(ptx)
        arch = f"sm_{cc}a" if cc >= 90 else f"sm_{cc}"
        fmad = [] if options.enable_fp_fusion else ["--fmad=false"]
        log = subprocess.run(
            [
                _tool("ptxas"),
                *fmad,
                "-v",
                "--regAllocOptLevel=2",
                f"--gpu-name={arch}",
                str(src),
                "-o",
                str(Path(tmp) / "k.cubin"),
            ],
            capture_output=True,
            text=True,
        ).stderr
    regs = re.search(r"Used (\d+) registers", log)
    spills = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", log)
    stack = re.search(r"(\d+) bytes stack frame", log)
    return {
        "cc": cc,
        "registers": int(regs.group(1)) if regs else -1,
        "spill_bytes": sum(map(int, spills.groups())) if spills else -1,
        "stack_bytes": int(stack.group(1)) if stack else 0,
        "shared": int(kernel.metadata.shared),
        "num_warps": int(options.num_warps),
        "div64": len(re.findall(r"\b(?:div|rem)(?:\.full)?\.[su]64\b", ptx)),
        "approximate": approximate_instructions(ptx),
        "ptx_lines": ptx.count("\n"),
        "params_used": _ptx_params_used(ptx, spec["params"]),
        "sass": _sass(kernel.asm["cubin"]) if cc == 90 else "",
    }


def approximate_instructions(ptx: str) -> dict[str, int]:
    """The approximate arithmetic instructions of a kernel's PTX, counted by kind
    (``div.full``, ``ex2.approx``, ...)."""
    found: dict[str, int] = {}
    for m in APPROXIMATE_PTX.finditer(ptx):
        kind = ".".join(m.group(1).split(".")[:2])
        found[kind] = found.get(kind, 0) + 1
    return found


def allowed_approximate(module: str, kernel: str) -> tuple[str, ...]:
    """The approximate instructions a kernel's module declares for it (``APPROXIMATE``)."""
    return tuple(getattr(importlib.import_module(module), "APPROXIMATE", {}).get(kernel, ()))


_COMPILED: dict[tuple[str, int], dict[str, Any]] = {}  # (variant, target): the figures


def compile_variants(
    specs: list[dict[str, Any]], targets: tuple[int, ...], jobs: int
) -> list[dict[int, dict[str, Any]]]:
    """Per variant, per target: the compiled figures (see ``_compile_one``); a variant met
    in an earlier configuration is not compiled again."""
    work = [(s, cc) for s in specs for cc in targets if (_variant_key(s), cc) not in _COMPILED]
    env_interpret = os.environ.pop("TRITON_INTERPRET", None)  # workers compile for real
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=_spawn()) as pool:
            results = list(pool.map(_compile_one, work))
    finally:
        if env_interpret is not None:
            os.environ["TRITON_INTERPRET"] = env_interpret
    for (s, cc), r in zip(work, results, strict=True):
        _COMPILED[(_variant_key(s), cc)] = r
    return [{cc: _COMPILED[(_variant_key(s), cc)] for cc in targets} for s in specs]


def _spawn():  # noqa: ANN202
    import multiprocessing

    return multiprocessing.get_context("spawn")


# ------------------------------------------------------------------------------- figures
def occupancy(registers: int, shared: int, num_warps: int) -> float:
    """Resident warps over the maximum on an H100 for a kernel's resources."""
    per_warp = math.ceil(max(registers, 1) * 32 / 256) * 256
    by_regs = H100["regs_per_sm"] // (per_warp * num_warps)
    by_warps = H100["max_warps"] // num_warps
    by_smem = H100["smem_per_sm"] // (shared + H100["smem_reserved_per_block"])
    blocks = min(by_regs, by_warps, by_smem, H100["max_blocks"])
    return blocks * num_warps / H100["max_warps"]


@dataclass
class Report:
    config: str
    recording: Recording
    variants: list[dict[str, Any]]  # per variant: spec, per-target results, launches, floors
    summary: dict[str, Any]


def build_report(config: str, rec: Recording, targets: tuple[int, ...], jobs: int) -> Report:
    specs: list[dict[str, Any]] = []
    keys: dict[str, int] = {}
    of_launch = []
    for launch in rec.launches:
        spec = _specialise(launch)
        key = _variant_key(spec)
        if key not in keys:
            keys[key] = len(specs)
            specs.append(spec)
        of_launch.append(keys[key])
    compiled = compile_variants(specs, targets, jobs)
    issue_rate = H100["sms"] * H100["schedulers"] * H100["clock_hz"]
    variants = []
    for v, spec in enumerate(specs):
        results = compiled[v]
        ref = results.get(90) or next(iter(results.values()))
        launches = [rec.launches[i] for i, k in enumerate(of_launch) if k == v]
        warps_instr = 0.0
        nbytes = 0
        static = 0
        for launch in launches:
            args = dict(zip(spec["params"], launch.args, strict=False))
            hint = TRIPS.get(launch.name)
            trips = hint(args, launch.kwargs) if hint else 1.0
            static, per_warp = _dynamic_instructions(ref.get("sass", ""), trips)
            runs = RUNS.get(launch.name)
            if runs is not None and not runs(args, launch.kwargs):  # returns at once
                per_warp = _early_exit_instructions(ref.get("sass", ""))
                warps_instr += launch.programs * ref.get("num_warps", 4) * per_warp
                continue
            warps_instr += launch.programs * ref.get("num_warps", 4) * per_warp
            used = {}
            for i in ref.get("params_used", []):
                a = launch.args[i] if i < len(launch.args) else None
                if isinstance(a, dict):
                    used[(a["ptr"], a["nbytes"])] = a["nbytes"]
            nbytes += sum(used.values())
        variants.append(
            {
                "kernel": spec["name"],
                "variant": _short(spec),
                "spec": spec,
                "results": results,
                "launches": len(launches),
                "sass_instructions": static,
                "issue_s": warps_instr / issue_rate,
                "bytes": nbytes,
                "occupancy_h100": occupancy(
                    ref.get("registers", 255), ref.get("shared", 0), ref.get("num_warps", 4)
                )
                if "error" not in ref
                else 0.0,
            }
        )
    triton_bytes = sum(v["bytes"] for v in variants)
    summary = {
        "config": config,
        "launches": rec.triton_launches + rec.torch_launches,
        "triton_launches": rec.triton_launches,
        "torch_launches": rec.torch_launches,
        "host_reads": sum(rec.host_reads.values()),
        "issue_floor_ms": 1e3 * sum(v["issue_s"] for v in variants),
        "memory_floor_ms": 1e3
        * (triton_bytes + sum(rec.torch_bytes.values()))
        / H100["hbm_bytes_s"],
        "triton_bytes": triton_bytes,
        "torch_bytes": sum(rec.torch_bytes.values()),
        "torch_bytes_by_op": dict(rec.torch_bytes.most_common()),
        "torch_ops": dict(rec.torch_ops.most_common()),
    }
    return Report(config, rec, variants, summary)


# ------------------------------------------------------------------------------- budget
def violations(report: Report) -> list[str]:
    """What breaks the budget: a failed compile, spills, 64-bit division or remainder, a
    kernel over ``PER_PIXEL_REGISTERS`` registers (every kernel is held to the per-pixel
    bound; the per-centre and per-row ones meet it too)."""
    out = []
    for v in report.variants:
        for cc, r in sorted(v["results"].items()):
            where = f"{v['kernel']} [{v['variant']}] sm_{cc}"
            if "error" in r:
                out.append(f"{where}: does not compile: {r['error']}")
                continue
            if r["spill_bytes"] != 0:
                out.append(f"{where}: spills {r['spill_bytes']} bytes")
            if r["div64"]:
                out.append(f"{where}: {r['div64']} 64-bit divisions or remainders")
            if r["registers"] > PER_PIXEL_REGISTERS:
                out.append(f"{where}: {r['registers']} registers > {PER_PIXEL_REGISTERS}")
            allowed = allowed_approximate(v["spec"]["module"], v["kernel"])
            for kind, n in r.get("approximate", {}).items():
                if kind not in allowed:
                    out.append(f"{where}: {n} approximate {kind} (torch rounds exactly)")
    for launch in report.recording.launches:
        out += grid_violations(launch)
    return out


def grid_violations(launch: Launch) -> list[str]:
    """A launch grid axis over CUDA's limit (2**31 - 1 programs on axis 0, 65,535 on axes
    1 and 2)."""
    from hsmix_torch.kernels._common import GRID_LIMITS

    return [
        f"{launch.name}: grid {launch.grid}: axis {axis} has {n} programs > {limit}"
        for axis, (n, limit) in enumerate(zip(launch.grid, GRID_LIMITS, strict=True))
        if n > limit
    ]


# ------------------------------------------------------------------------------- configs
def _forward(config: str) -> Callable[[], object]:
    """The forward of a configuration, at the defaults ``"auto"`` takes on CUDA."""
    from hsmix_torch import HSMix
    from hsmix_torch.data import sample_batch, sample_volumes
    from hsmix_torch.superpixels import get_backend

    name, _, shape = config.partition(":")
    b, channels, *size = (int(v) for v in shape.split("x"))
    if len(size) == 3:
        images, masks = sample_volumes(size[0], count=b)
        images = (
            torch.nn.functional.interpolate(images, size=tuple(size))
            if (tuple(images.shape[2:]) != tuple(size))
            else images
        )
        masks = torch.nn.functional.interpolate(masks[:, None].float(), size=tuple(size))[
            :, 0
        ].long()
        n_segments, classes = (100, 200), 3
    else:
        images, masks = sample_batch(size[0], count=b, channels=channels)
        if size[0] != size[1]:
            images, masks = images[..., : size[1]], masks[..., : size[1]]
        n_segments, classes = (30, 80), 2
    if name == "small":
        n_segments = (8, 16)
    aug = HSMix(
        n_segments=n_segments,
        num_classes=classes,
        superpixels=get_backend("torch", sync_free=True),  # what "auto" runs on CUDA
    )
    # One fixed draw (the round kernels' trips depend on the superpixel counts drawn).
    return lambda: aug(images, masks, generator=torch.Generator().manual_seed(0))


CONFIGS = {
    "default": ["rgb:16x3x224x224"],
    "volumes": ["volume:2x1x96x96x96"],
    "small": ["small:2x3x48x40", "small:2x1x33x47", "small:2x1x12x14x10"],
}


# The largest batches users run, as [B, C, *S] (channels of the images): two 256^3 volumes,
# two BraTS cases (4 MRI sequences, 155 x 240 x 240), 128 RGB images of 512 x 512, and a
# batch larger than CUDA's 65,535 programs on axes 1 and 2 of small images.
GRID_SHAPES = ((2, 1, 256, 256, 256), (2, 4, 155, 240, 240), (128, 3, 512, 512), (131072, 3, 8, 8))


def record_largest(shape: tuple[int, ...]) -> Recording:
    """The launches of one forward of HSMix at the defaults of ``"auto"`` on CUDA for a batch
    of ``shape`` ``[B, C, *S]``, with class masks, recorded on the meta device."""
    from hsmix_torch import HSMix
    from hsmix_torch.superpixels import get_backend

    images = torch.empty(shape, device="meta")
    masks = torch.empty((shape[0], *shape[2:]), dtype=torch.long, device="meta")
    slic = get_backend("torch", sync_free=True)  # what "auto" runs on CUDA
    aug = HSMix(num_classes=3, superpixels=slic, validate=False)  # values: none on meta
    return record(lambda: aug(images, masks))


def launch_limits(rec: Recording) -> list[str]:
    """Grid axes over CUDA's limits, and tensor arguments whose offsets (from their strides)
    reach 2**31: what the interpreter would run and a GPU refuse or overflow."""
    from hsmix_torch.kernels._common import INT32_LIMIT

    out = []
    for launch in rec.launches:
        out += grid_violations(launch)
        for a in launch.args:
            if isinstance(a, dict) and a["extent"] >= INT32_LIMIT:
                out.append(f"{launch.name}: a tensor argument spans {a['extent']} elements")
    return out


def print_largest(
    shapes: tuple[tuple[int, ...], ...] = GRID_SHAPES, csv_dir: Path | None = None
) -> list[str]:
    """The largest programs per grid axis and tensor extent per shape (also written to
    ``csv_dir/gpu_report_grids.csv``); the violations."""
    rows, broken = [], []
    for shape in shapes:
        rec = record_largest(shape)
        broken += [f"{shape}: {v}" for v in launch_limits(rec)]
        extents = [a["extent"] for x in rec.launches for a in x.args if isinstance(a, dict)]
        rows.append(
            {
                "shape": "x".join(map(str, shape)),
                "launches": len(rec.launches),
                **{f"axis{i}": max(x.grid[i] for x in rec.launches) for i in range(3)},
                "extent": max(extents),
            }
        )
    print("\nGrids at the largest shapes (CUDA: axis 0 < 2**31, axes 1 and 2 <= 65,535; extents")
    print("are the elements a kernel's offsets span, < 2**31):")
    print_table(rows, ["shape", "launches", "axis0", "axis1", "axis2", "extent"])
    if csv_dir is not None:
        write_csv(csv_dir / "gpu_report_grids.csv", rows)
    return broken


def report_for(config: str, targets: tuple[int, ...], jobs: int) -> Report:
    rec = record(_forward(config))
    return build_report(config, rec, targets, jobs)


def _per_target(results: dict[int, dict[str, Any]], key: str) -> str:
    """One figure per target, ``sm_75/80/86/89/90``."""
    return "/".join(str(results[cc].get(key, "err")) for cc in sorted(results))


def _rows(report: Report) -> list[dict[str, Any]]:
    rows = []
    for v in sorted(report.variants, key=lambda v: -v["issue_s"]):
        res = v["results"]
        sm90 = res.get(90, {})
        rows.append(
            {
                "kernel": v["kernel"].strip("_"),
                "variant": v["variant"][:60],
                "launches": v["launches"],
                "registers": _per_target(res, "registers"),
                "spills": _per_target(res, "spill_bytes"),
                "div64": max(r.get("div64", 0) for r in res.values()),
                "approx": " ".join(
                    sorted({k for r in res.values() for k in r.get("approximate", {})})
                )
                or "none",
                "shared": sm90.get("shared", ""),
                "occ_h100": f"{v['occupancy_h100']:.2f}",
                "sass": v["sass_instructions"],
                "issue_us": v["issue_s"] * 1e6,
                "MB": v["bytes"] / 1e6,
            }
        )
    return rows


COLUMNS = [
    "kernel",
    "variant",
    "launches",
    "registers",
    "spills",
    "div64",
    "approx",
    "shared",
    "occ_h100",
    "sass",
    "issue_us",
    "MB",
]


def print_report(report: Report, markdown: bool = False) -> None:
    s = report.summary
    print(
        f"\n## {report.config}: {len(report.variants)} kernel variants "
        f"(registers and spill bytes per target, sm_" + "/".join(map(str, TARGETS)) + ")"
    )
    rows = _rows(report)
    if markdown:
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + "---|" * len(COLUMNS))
        for r in rows:
            print(
                "| "
                + " | ".join(
                    f"{r[c]:.3g}" if isinstance(r[c], float) else str(r[c]) for c in COLUMNS
                )
                + " |"
            )
    else:
        print_table(rows, COLUMNS)
    print(
        f"\nPer forward ({report.config}): {s['launches']} launches ({s['triton_launches']} "
        f"Triton, {s['torch_launches']} torch ops), {s['host_reads']} host reads; H100 floors: "
        f"instruction issue {s['issue_floor_ms']:.3f} ms (Triton), memory "
        f"{s['memory_floor_ms']:.3f} ms ({s['triton_bytes'] / 1e6:.1f} MB Triton + "
        f"{s['torch_bytes'] / 1e6:.1f} MB torch ops)"
    )
    top = ", ".join(f"{k.split('::')[1]} {n}" for k, n in list(s["torch_ops"].items())[:12])
    print(f"torch ops: {top}")
    heavy = ", ".join(
        f"{k.split('::')[1]} {n / 1e6:.1f}" for k, n in list(s["torch_bytes_by_op"].items())[:8]
    )
    print(f"torch op MB: {heavy}; host reads: {dict(report.recording.host_reads)}")


def profile_against_floors(report: Report) -> None:
    """The same forward on the GPU under torch.profiler (compiled kernels, in a process
    without the interpreter): each Triton kernel's measured time beside its static floors."""
    import torch

    if not torch.cuda.is_available():
        print("\n--profile: no CUDA device here; the floors above stand alone")
        return
    _, _, shape = report.config.partition(":")
    b, _, size, *_ = (int(v) for v in shape.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "profile.json"
        env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
        subprocess.run(
            [sys.executable, str(Path(__file__).with_name("launch_count.py")), "--device", "cuda",
             "--batch-size", str(b), "--size", str(size), "--json", str(out)],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        measured = json.loads(out.read_text())
    rows = []
    for v in report.variants:
        floor_us = 1e6 * max(v["issue_s"], v["bytes"] / H100["hbm_bytes_s"])
        rows.append({"kernel": v["kernel"], "variant": v["variant"][:40], "floor_us": floor_us})
    by_kernel: dict[str, float] = {}
    for r in rows:
        by_kernel[r["kernel"]] = by_kernel.get(r["kernel"], 0.0) + r["floor_us"]
    table = []
    for name, floor in sorted(by_kernel.items(), key=lambda kv: -kv[1]):
        timed = measured["kernels"].get(name, {})
        us = float(timed.get("device_us", float("nan")))
        table.append(
            {
                "kernel": name,
                "launches": timed.get("launches", 0),
                "measured_us": us,
                "floor_us": floor,
                "measured/floor": us / floor if floor else float("nan"),
            }
        )
    print(f"\nMeasured ({measured['device']}) against the static floors (H100 model):")
    print_table(table, ["kernel", "launches", "measured_us", "floor_us", "measured/floor"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--volumes", action="store_true", help="B=2 grey 96^3 volumes")
    p.add_argument("--small", action="store_true", help="the CI test's small shapes")
    p.add_argument("--config", nargs="*", help="explicit NAME:BxCxHxW[xD] configurations")
    p.add_argument("--targets", type=int, nargs="*", default=list(TARGETS))
    p.add_argument("--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)))
    p.add_argument("--check", action="store_true", help="exit 1 when the budget is broken")
    p.add_argument("--markdown", action="store_true", help="tables in Markdown")
    p.add_argument("--json", type=Path, help="write every figure as JSON")
    p.add_argument(
        "--csv",
        type=Path,
        help="write the tables as CSV files to this folder (benchmarks/results: the docs' pages)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="on a CUDA machine: time each kernel of the same forward and set it beside its floors",
    )
    args = p.parse_args(argv)
    # Recording needs the interpreter when the kernel modules are first imported (the
    # compile workers are spawned without it).
    os.environ["TRITON_INTERPRET"] = "1"
    configs = (
        args.config or CONFIGS["small" if args.small else "volumes" if args.volumes else "default"]
    )
    targets = tuple(args.targets)
    broken = []
    dump = []
    summaries, variant_rows = [], []
    for config in configs:
        report = report_for(config, targets, args.jobs)
        print_report(report, args.markdown)
        broken += violations(report)
        summaries.append({k: v for k, v in report.summary.items() if not isinstance(v, dict)})
        variant_rows += [{"config": config, **r} for r in _rows(report)]
        dump.append(
            {
                "summary": report.summary,
                "variants": [
                    {k: v for k, v in var.items() if k != "spec"}
                    | {
                        "results": {
                            cc: {k: x for k, x in r.items() if k != "sass"}
                            for cc, r in var["results"].items()
                        }
                    }
                    for var in report.variants
                ],
            }
        )
    if args.json:
        args.json.write_text(json.dumps(dump, indent=1, default=str))
    if args.profile:
        profile_against_floors(report)
    broken += print_largest(csv_dir=args.csv)
    if args.csv is not None:
        write_csv(args.csv / "gpu_report_summary.csv", summaries)
        write_csv(args.csv / "gpu_report_variants.csv", variant_rows)
    print(f"\nBudget: {len(broken)} violations" + "".join(f"\n  {b}" for b in broken[:50]))
    return 1 if (args.check and broken) else 0


if __name__ == "__main__":
    raise SystemExit(main())
