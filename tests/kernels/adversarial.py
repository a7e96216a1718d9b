"""An adversarial mode of Triton's interpreter: kernels run as a GPU is allowed to run them.

The interpreter runs the programs of a launch one after another in grid order, applies
every block operation to all lanes at once in lane order, hands kernels whatever memory
``torch.empty`` returns and checks no address. A GPU promises none of that. Inside
:func:`adversarial`:

- the programs of each launch run ``"reversed"``, ``"shuffled"`` (a seeded permutation),
  or as ``"threads"``: one thread per program (a window of them at a time), handing over to
  a seeded choice of the live programs before each memory operation, so loads, stores and
  atomics of different programs interleave;
- the lanes of every store and atomic are applied in a seeded shuffled order (two lanes
  writing one address race);
- every tensor made by ``torch.empty`` and its kin (in the kernel ops' own bodies too) is
  filled with the ``poison`` byte (0xFF: NaN and -1; 0x7F: huge values);
- every active lane's address of a load, store or atomic (every lane of a compare-and-swap,
  which takes no mask) must lie inside a tensor argument of its launch, checked before the
  operation touches memory: an :class:`OutOfBounds` error otherwise.

A kernel whose results do not depend on any of this gives bit-equal outputs to a plain
interpreter run. Wraps the interpreter's grid loop (``GridExecutor.__call__``) and memory-op
builders (``InterpreterBuilder.create_masked_load`` and its kin); nothing of Triton's is
copied. Needs ``TRITON_INTERPRET=1`` before the kernels are imported (``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import inspect
import math
import threading
import types
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch._library.custom_ops import OPDEFS
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["MODES", "OutOfBounds", "Tally", "adversarial", "same_bits"]

MODES = ("reversed", "shuffled", "threads")
_EMPTY = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided"}


class OutOfBounds(AssertionError):
    """A lane's address outside every tensor argument of its launch."""


@dataclass
class Tally:
    """What an adversarial run did: launches and programs per kernel, memory operations
    checked, switches between programs (``"threads"``), the lanes of compare-and-swaps
    that failed, by the value they expected, and per kernel the most active lanes of one
    atomic operation on one address (lanes that serialise on a GPU)."""

    launches: Counter[str] = field(default_factory=Counter)
    programs: Counter[str] = field(default_factory=Counter)
    checked: int = 0
    switches: int = 0
    cas_failed: Counter[int] = field(default_factory=Counter)
    crowding: Counter[str] = field(default_factory=Counter)


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal shapes, dtypes and bits (NaN equal to the same NaN)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype == torch.bool:
        return torch.equal(a, b)
    ints = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
    return torch.equal(a.contiguous().view(ints), b.contiguous().view(ints))


class _Launch:
    """The state of the launch being run: its tensors' address ranges and its kernel."""

    def __init__(self, name: str, tensors: list[torch.Tensor]) -> None:
        self.name = name
        spans = []
        for t in tensors:
            if t.numel():
                extent = sum((s - 1) * st for s, st in zip(t.shape, t.stride(), strict=True))
                start = t.data_ptr()
                spans.append((start, start + (extent + 1) * t.element_size()))
        spans.sort()
        self.starts = np.array([s for s, _ in spans], dtype=np.uint64)
        self.ends = np.array([e for _, e in spans], dtype=np.uint64)

    def check(self, op: str, addresses: np.ndarray, active: np.ndarray, size: int) -> None:
        addr = addresses.reshape(-1)[np.broadcast_to(active, addresses.shape).reshape(-1)]
        if not addr.size:
            return
        at = np.searchsorted(self.starts, addr, side="right").astype(np.int64) - 1
        inside = at >= 0
        ok = inside.copy()
        ok[inside] = addr[inside] + np.uint64(size) <= self.ends[at[inside]]
        if not ok.all():
            bad = int(addr[~ok][0])
            raise OutOfBounds(
                f"{self.name}: {op} of {int((~ok).sum())} lane(s) outside every tensor argument "
                f"(first at {bad:#x}; tensors at "
                + ", ".join(
                    f"[{s:#x}, {e:#x})" for s, e in zip(self.starts, self.ends, strict=True)
                )
                + ")"
            )


class _Turns:
    """One program runs at a time; before each memory operation the running program hands
    over to a seeded choice of the live ones (itself included)."""

    def __init__(self, rng: np.random.Generator, builder: Any, tally: Tally) -> None:
        self.rng, self.builder, self.tally = rng, builder, tally
        self.cond = threading.Condition()
        self.live: list[int] = []
        self.turn: int | None = None
        self.idx: dict[int, tuple[int, int, int]] = {}

    def _grant(self, who: int) -> None:
        self.turn = who
        self.cond.notify_all()

    def wait(self, me: int) -> None:
        while self.turn != me:
            self.cond.wait()
        self.builder.grid_idx = self.idx[me]  # tl.program_id reads the builder

    def switch(self, me: int) -> None:
        with self.cond:
            nxt = self.live[int(self.rng.integers(len(self.live)))]
            if nxt != me:
                self.tally.switches += 1
                self._grant(nxt)
                self.wait(me)

    def finish(self, me: int) -> None:
        with self.cond:
            self.live.remove(me)
            if self.live:
                self._grant(self.live[int(self.rng.integers(len(self.live)))])
            else:
                self.turn = None
                self.cond.notify_all()


@contextlib.contextmanager
def adversarial(mode: str, seed: int = 0, poison: int = 0xFF, window: int = 16) -> Iterator[Tally]:
    """Run every Triton launch inside the block adversarially (see the module docstring);
    yields a :class:`Tally` of what ran."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    from triton.runtime import interpreter as I  # noqa: N812

    rng = np.random.default_rng(seed)
    tally = Tally()
    builder = I.interpreter_builder
    state: dict[str, Any] = {"launch": None, "turns": None, "me": None}
    local = threading.local()

    def point(op: str, ptrs: Any, mask: np.ndarray) -> None:
        """Before a memory operation: hand over (threads), then check the addresses."""
        turns = state["turns"]
        if turns is not None:
            turns.switch(local.me)
        size = max(1, ptrs.get_element_ty().primitive_bitwidth // 8)
        state["launch"].check(op, ptrs.data, mask, size)
        tally.checked += 1

    def shuffled(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        order = rng.permutation(math.prod(shape))
        return tuple(np.broadcast_to(a, shape).reshape(-1)[order] for a in arrays) + (order,)

    def unshuffle(out: np.ndarray, order: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        back = np.empty_like(out)
        back[order] = out
        return back.reshape(shape)

    orig = {
        name: getattr(I.InterpreterBuilder, name)
        for name in (
            "create_masked_load",
            "create_masked_store",
            "create_atomic_cas",
            "create_atomic_rmw",
        )  # fmt: skip
    }
    grid_call = I.GridExecutor.__call__

    def load(self, ptrs, mask, other, *rest):  # noqa: ANN001, ANN202
        point("load", ptrs, mask.data)
        return orig["create_masked_load"](self, ptrs, mask, other, *rest)

    def store(self, ptrs, value, mask, *rest):  # noqa: ANN001, ANN202
        point("store", ptrs, mask.data)
        p, v, m, _ = shuffled(ptrs.data, value.data, mask.data)
        return orig["create_masked_store"](
            self, I.TensorHandle(p, ptrs.dtype), I.TensorHandle(v, value.dtype),
            I.TensorHandle(m, mask.dtype), *rest,
        )  # fmt: skip

    def atomic_cas(self, ptr, cmp, val, *rest):  # noqa: ANN001, ANN202
        point("atomic_cas", ptr, np.ones(ptr.data.shape, dtype=bool))  # no mask: every lane
        p, c, v, order = shuffled(ptr.data, cmp.data, val.data)
        out = orig["create_atomic_cas"](
            self, I.TensorHandle(p, ptr.dtype), I.TensorHandle(c, cmp.dtype),
            I.TensorHandle(v, val.dtype), *rest,
        )  # fmt: skip
        tally.cas_failed.update(c[out.data != c].tolist())
        return I.TensorHandle(unshuffle(out.data, order, ptr.data.shape), out.dtype)

    def atomic_rmw(self, op, ptr, val, mask, *rest):  # noqa: ANN001, ANN202
        point("atomic", ptr, mask.data)
        active = ptr.data.reshape(-1)[np.broadcast_to(mask.data, ptr.data.shape).reshape(-1)]
        if active.size:
            name = state["launch"].name
            most = int(np.unique(active, return_counts=True)[1].max())
            tally.crowding[name] = max(tally.crowding[name], most)
        p, v, m, order = shuffled(ptr.data, val.data, mask.data)
        out = orig["create_atomic_rmw"](
            self, op, I.TensorHandle(p, ptr.dtype), I.TensorHandle(v, val.dtype),
            I.TensorHandle(m, mask.dtype), *rest,
        )  # fmt: skip
        return I.TensorHandle(unshuffle(out.data, order, ptr.data.shape), out.dtype)

    def run_programs(fn: Callable[..., None], args: dict[str, Any], ids: list[tuple]) -> None:
        order = range(len(ids) - 1, -1, -1) if mode == "reversed" else rng.permutation(len(ids))
        ids = [ids[i] for i in order]
        if mode != "threads":
            for idx in ids:
                builder.grid_idx = idx
                fn(**args)
            return
        turns = _Turns(rng, builder, tally)
        errors: list[BaseException] = []
        pending = list(enumerate(ids))

        def body(me: int) -> None:
            local.me = me
            with turns.cond:
                turns.wait(me)
            try:
                fn(**args)
            except BaseException as err:  # noqa: BLE001 - re-raised by the launching thread
                errors.append(err)
            finally:
                turns.finish(me)

        state["turns"] = turns
        try:
            while pending:
                batch, pending = pending[:window], pending[window:]
                threads = []
                with turns.cond:
                    for me, idx in batch:
                        turns.idx[me] = idx
                        turns.live.append(me)
                        threads.append(threading.Thread(target=body, args=(me,)))
                    for t in threads:
                        t.start()
                    turns._grant(turns.live[int(rng.integers(len(turns.live)))])
                for t in threads:
                    t.join()
                if errors:
                    raise errors[0]
        finally:
            state["turns"] = None

    def launch(self, *args_dev, **kwargs):  # noqa: ANN001, ANN202
        tensors = [a for a in (*args_dev, *kwargs.values()) if isinstance(a, torch.Tensor)]
        name = getattr(self.fn, "__name__", "kernel")
        state["launch"] = _Launch(name, tensors)
        real = self.fn
        ids: list[tuple] = []

        def collect(**args: Any) -> None:  # the grid loop's calls, run once all are known
            ids.append(builder.grid_idx)
            if len(ids) == math.prod(builder.grid_dim):
                run_programs(real, args, ids)

        tally.launches[name] += 1
        # The grid loop patches triton.language as the kernel's globals see it: the stub
        # that stands in for the kernel has the kernel's globals.
        stub = types.FunctionType(
            collect.__code__, real.__globals__, name, None, collect.__closure__
        )
        stub.__signature__ = inspect.signature(real)  # the loop binds the kernel's arguments
        self.fn = stub
        try:
            grid_call(self, *args_dev, **kwargs)
        finally:
            self.fn = real
            state["launch"] = None
        tally.programs[name] += len(ids)

    class Poison(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            kwargs = kwargs or {}
            if func.namespace == "hsmix_torch":  # a kernel op: poison its body's buffers too
                with self:
                    return OPDEFS[f"hsmix_torch::{func.overloadpacket.__name__}"]._init_fn(
                        *args, **kwargs
                    )
            out = func(*args, **kwargs)
            if func.overloadpacket.__name__ in _EMPTY and out.numel():
                bytes_ = torch.empty(0, dtype=torch.uint8, device=out.device)
                bytes_.set_(out.untyped_storage()).fill_(poison)
            return out

    patched = {
        "create_masked_load": load,
        "create_masked_store": store,
        "create_atomic_cas": atomic_cas,
        "create_atomic_rmw": atomic_rmw,
    }
    for name, fn in patched.items():
        setattr(I.InterpreterBuilder, name, fn)
    I.GridExecutor.__call__ = launch
    try:
        with Poison():
            yield tally
    finally:
        I.GridExecutor.__call__ = grid_call
        for name, fn in orig.items():
            setattr(I.InterpreterBuilder, name, fn)
