"""Every kernel launch of a call, recorded on the CPU: the Triton launches with their grids
and arguments, the torch ops that run a kernel, and the host reads.

``record(fn)`` runs ``fn()`` with the package's Triton kernels chosen as they are on CUDA
(``kernels="auto"`` picks Triton) while the tensors stay on the CPU. Triton must run in its
interpreter (``TRITON_INTERPRET=1``, set before the kernel modules are imported), but no
kernel is interpreted: each launch is recorded and skipped, and each kernel op's result is
replaced by its torch-ops reference's (the op every kernel is tested equal to). So a whole
forward at full size is recorded in seconds, with the launches, grids and arguments the GPU
would get; each kernel op's own torch ops (its buffers, its fills) are counted with it.
On tensors of the ``meta`` device nothing is allocated or computed: the launches of the
largest shapes users run are recorded in a second.

Used by ``gpu_report.py`` (the static GPU report), ``launch_count.py`` and the launch test.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch._library.custom_ops import OPDEFS
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes

__all__ = ["Launch", "Recording", "record"]

# Ops that describe or allocate tensors: no kernel runs for them.
_NO_KERNEL = {
    "view",
    "_unsafe_view",
    "reshape",
    "expand",
    "permute",
    "unsqueeze",
    "squeeze",
    "select",
    "slice",
    "as_strided",
    "t",
    "transpose",
    "unbind",
    "alias",
    "detach",
    "lift_fresh",
    "split",
    "split_with_sizes",
    "sym_size",
    "sym_numel",
    "sym_stride",
    "is_same_size",
    "view_as_real",
    "unflatten",
    "flatten",
    "diagonal",
    "empty",
    "empty_like",
    "empty_strided",
    "new_empty",
    "new_empty_strided",
    "_local_scalar_dense",  # a host read, counted as such
}
# Ops that read a value back to the host (a synchronisation on a GPU).
_HOST_READS = {"_local_scalar_dense", "nonzero", "masked_select", "unique", "_unique2"}


@dataclass
class Launch:
    """One Triton launch: the kernel, its grid, and per parameter the argument as the
    compiler specialises it (tensors by dtype, size and 16-byte alignment)."""

    module: str
    name: str
    grid: tuple[int, ...]
    args: list[Any]  # per parameter: a dict for tensors, else the value
    kwargs: dict[str, Any]
    jit_options: dict[str, Any]  # the decorator's options (do_not_specialize, ...)

    @property
    def programs(self) -> int:
        n = 1
        for g in self.grid:
            n *= int(g)
        return n


@dataclass
class Recording:
    """What :func:`record` saw."""

    launches: list[Launch] = field(default_factory=list)
    torch_ops: Counter[str] = field(default_factory=Counter)
    torch_bytes: Counter[str] = field(default_factory=Counter)  # read and written, per op
    host_reads: Counter[str] = field(default_factory=Counter)

    @property
    def triton_launches(self) -> int:
        return len(self.launches)

    @property
    def torch_launches(self) -> int:
        return sum(self.torch_ops.values())


def _to_host(kwargs: dict[str, Any]) -> bool:
    """A copy to the host (``.to("cpu")``, ``.cpu()`` from a device): on the CPU where the
    recording runs, one that names the CPU as its target."""
    device = kwargs.get("device")
    return device is not None and torch.device(device).type == "cpu"


def _describe(value: Any) -> Any:
    # Imported here: the kernel modules must be first imported after TRITON_INTERPRET is set.
    from hsmix_torch.kernels._common import largest_offset

    if isinstance(value, torch.Tensor):
        return {
            "dtype": str(value.dtype).removeprefix("torch."),
            "numel": value.numel(),
            "nbytes": value.numel() * value.element_size(),
            "ptr": value.data_ptr(),
            "aligned": value.data_ptr() % 16 == 0,
            "extent": largest_offset(value) + 1,  # the offsets a kernel forms, strides included
            "tensor": value,  # kept for trip-count hints; dropped before serialising
        }
    return value


def _tensors(tree: Any) -> list[torch.Tensor]:
    out = []
    for v in tree if isinstance(tree, (list, tuple)) else [tree]:
        if isinstance(v, torch.Tensor):
            out.append(v)
        elif isinstance(v, (list, tuple)):
            out.extend(_tensors(v))
    return out


class _Ops(TorchDispatchMode):
    """Counts the ops that run a kernel, their bytes, and host reads; a kernel op's inner
    ops are counted with it (a nested mode while the op runs)."""

    def __init__(self, rec: Recording) -> None:
        super().__init__()
        self.rec = rec

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        name = func.overloadpacket.__name__
        kwargs = kwargs or {}
        if func.namespace == "hsmix_torch":  # a kernel op: count what its body runs
            body = OPDEFS[f"hsmix_torch::{name}"]._init_fn
            with self:
                return body(*args, **kwargs)
        out = func(*args, **kwargs)
        if name in _HOST_READS or (name == "_to_copy" and _to_host(kwargs)):
            self.rec.host_reads[name] += 1
        if name not in _NO_KERNEL:
            self.rec.torch_ops[f"{func.namespace}::{name}"] += 1
            seen = {}
            for t in _tensors(list(args) + list(kwargs.values())) + _tensors(out):
                seen[(t.data_ptr(), t.numel(), t.dtype)] = t.numel() * t.element_size()
            self.rec.torch_bytes[f"{func.namespace}::{name}"] += sum(seen.values())
        return out


@contextlib.contextmanager
def _triton_as_on_cuda(rec: Recording) -> Iterator[None]:
    """Kernels chosen as on CUDA; each launch recorded, not run; each kernel op's result
    replaced by its reference's."""
    if os.environ.get("TRITON_INTERPRET") != "1":
        raise RuntimeError("recording needs TRITON_INTERPRET=1 before the kernels are imported")
    from triton.runtime import interpreter

    import hsmix_torch.kernels as kernels

    def run(self, *args, grid, warmup, **kwargs):  # noqa: ANN001, ANN202
        bound = dict(zip(self.arg_names, args, strict=False))
        g = grid(bound) if callable(grid) else grid
        g = tuple(int(v) for v in g)
        rec.launches.append(
            Launch(
                module=self.fn.__module__,
                name=self.fn.__name__,
                grid=g + (1,) * (3 - len(g)),
                args=[_describe(a) for a in args],
                kwargs=dict(kwargs),
                jit_options=dict(self.kwargs),
            )
        )

    def resolve(kernels_arg: str, device: torch.device) -> str:
        return "torch" if kernels.check_kernels(kernels_arg) == "torch" else "triton"

    def substitute(name: str, kernel: Callable, reference: Callable) -> Callable:
        def both(*args: Any, **kw: Any) -> Any:
            kernel(*args, **kw)  # recorded launches, results unused
            with _disable_current_modes():
                return reference(*args, **kw)

        return both

    autocast = torch.autocast

    def no_meta_autocast(device_type: str, **kw: Any) -> Any:  # autocast knows no "meta"
        return contextlib.nullcontext() if device_type == "meta" else autocast(device_type, **kw)

    saved = (interpreter.InterpretedFunction.run, kernels.resolve_kernels, kernels.with_fallback)
    interpreter.InterpretedFunction.run = run
    kernels.resolve_kernels, kernels.with_fallback = resolve, substitute
    torch.autocast = no_meta_autocast
    try:
        yield
    finally:
        interpreter.InterpretedFunction.run = saved[0]
        kernels.resolve_kernels, kernels.with_fallback = saved[1], saved[2]
        torch.autocast = autocast


def record(fn: Callable[[], object]) -> Recording:
    """Run ``fn()`` (on CPU tensors, with ``kernels="auto"`` wherever kernels are chosen)
    and record its launches; see the module docstring."""
    rec = Recording()
    with _triton_as_on_cuda(rec), _Ops(rec):
        fn()
    return rec
