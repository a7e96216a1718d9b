"""Captured CUDA graphs of a function of tensors, one per input signature.

A CUDA graph records every kernel of a call once and replays them with one launch, so a
forward made of hundreds of small kernels costs what its kernels cost, not what launching
them costs. A graph reads and writes fixed buffers: :class:`GraphCache` keeps, per
signature (shapes, dtypes, strides, device, and a caller's key), static copies of the
inputs, copies each call's inputs into them, replays, and returns clones of the outputs,
which the caller may keep (the next replay overwrites the graph's own buffers).

The function must not synchronise with the host and must not draw random numbers (HSMix
draws eagerly, before the replay, so every generator keeps its eager semantics).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ._checks import check_int

__all__ = ["GraphCache"]

Tensors = list[Tensor | None]


@dataclass
class _Entry:
    inputs: Tensors  # the graph's static inputs
    outputs: Tensors  # the graph's static outputs
    replay: Callable[[], None]


def _signature(t: Tensor | None) -> Hashable:
    if t is None:
        return None
    return (tuple(t.shape), t.dtype, t.stride(), t.device)


class GraphCache:
    """Capture ``fn`` once per input signature and replay it (see the module docstring).

    Args:
        max_graphs: graphs kept, least recently used first out (each holds its own memory
            pool: the intermediates of one call).

    Attributes:
        captures: how many graphs were captured so far.
    """

    def __init__(self, max_graphs: int = 8) -> None:
        self.max_graphs = check_int(max_graphs, "max_graphs", minimum=1)
        self.captures = 0
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def handles(self, t: Tensor) -> bool:
        """True for CUDA tensors, unless the caller is capturing a graph of their own (one
        capture cannot hold another: the caller's graph then records the eager forward)."""
        return t.is_cuda and not torch.cuda.is_current_stream_capturing()

    def __call__(
        self, fn: Callable[..., Tensors], inputs: Sequence[Tensor | None], key: Hashable = None
    ) -> Tensors:
        """``fn(*inputs)`` through the graph of this signature (captured on first use).

        ``fn`` returns a list of tensors (or None); the results are fresh tensors.
        """
        sig = (key, tuple(_signature(t) for t in inputs))
        entry = self._entries.get(sig)
        if entry is None:
            static = [None if t is None else torch.empty_like(t).copy_(t) for t in inputs]
            outputs, replay = self._capture(fn, static)
            entry = _Entry(static, outputs, replay)
            self.captures += 1
            self._entries[sig] = entry
            while len(self._entries) > self.max_graphs:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(sig)
            for static_t, t in zip(entry.inputs, inputs, strict=True):
                if t is not None:
                    static_t.copy_(t)
        entry.replay()
        return [None if t is None else t.clone() for t in entry.outputs]

    def _capture(
        self, fn: Callable[..., Tensors], static: Tensors
    ) -> tuple[Tensors, Callable[[], None]]:
        """Warm ``fn`` up off the capture (Triton compiles, cached device tables, the
        allocator), capture one call, and return its static outputs and the replay."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                fn(*static)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                outputs = fn(*static)
        except RuntimeError as err:
            raise RuntimeError(
                f"cuda_graph=True could not capture the forward ({err}); a captured "
                "forward must not synchronise with the host or change shape with the "
                "data: use superpixels 'auto', 'torch' (sync_free=True) or 'grid', or pass "
                "superpixels=, or set cuda_graph=False"
            ) from err
        return outputs, graph.replay
