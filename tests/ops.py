"""Counting the kernel launches of a call: every dispatched op that runs a kernel, and for
the package's Triton custom ops the launches they make inside."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["count_ops"]

# Ops that only describe tensors (views, shapes, metadata): no kernel runs for them.
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
    "_to_copy_meta",
    "view_as_real",
    "unflatten",
    "flatten",
    "diagonal",
}


# Kernel launches inside each of the package's custom ops (its Triton kernels and the
# buffers they fill), by the op's arguments: the op itself is one dispatch.
_INSIDE = {
    "slic_kmeans": lambda args: 2 * args[10] - 1,  # per round a kernel, between rounds one
    "cc_rounds": lambda args: 2 + 2 * args[2],  # two copies, then per round 2 kernels
    # zeroed sizes, flags and level flags; 3 filled tables; 29 kernels; the flag's test
    "merge_small": lambda args: 36,
    # three kernels, the integral (2 cumsums, 2 pads, a copy), a zeroed peak table
    "fine_grained_maps": lambda args: 9,
    "region_uniforms": lambda args: 1,
    "soft_lambda": lambda args: 6,  # zeroed tables and extremes, a fill, 3 kernels
}


class _Count(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        name = func.overloadpacket.__name__
        if name not in _NO_KERNEL:
            namespace = func.namespace
            inside = _INSIDE.get(name) if namespace == "hsmix_torch" else None
            self.ops[f"{namespace}::{name}"] += 1 if inside is None else inside(args)
        return func(*args, **(kwargs or {}))


def count_ops(fn: Callable[[], object]) -> Counter[str]:
    """The ops ``fn()`` dispatches that run a kernel, by ``namespace::name``."""
    with _Count() as mode:
        fn()
    return mode.ops
