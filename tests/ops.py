"""Counting the ops a call dispatches: on a GPU each is a kernel launch (a Triton kernel,
registered as a torch custom op, counts once)."""

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


class _Count(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        name = func.overloadpacket.__name__
        if name not in _NO_KERNEL:
            namespace = func.namespace
            self.ops[f"{namespace}::{name}"] += 1
        return func(*args, **(kwargs or {}))


def count_ops(fn: Callable[[], object]) -> Counter[str]:
    """The ops ``fn()`` dispatches that run a kernel, by ``namespace::name``."""
    with _Count() as mode:
        fn()
    return mode.ops
