"""Component labelling rounds of the connectivity step as Triton kernels.

Reference: ``hsmix_torch.superpixels.connectivity._run_rounds`` (torch ops), which these
kernels equal exactly. One round of min-label propagation is the reference's four steps:
each pixel's minimum ``m`` over its own and its equal-label 4-neighbours' parents; the hook
``hooked[parent[p]] = min(hooked[parent[p]], m[p])`` (an integer ``atomic_min``, so the
result does not depend on the order of the programs); ``min(hooked, m)``; two pointer jumps.
They take three kernels, each a global step (a jump reads what the last kernel wrote), and
one copy, instead of the reference's 17 ops.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

__all__ = ["cc_rounds"]

_BLOCK = 256


@triton.jit
def _hook_kernel(labels_ptr, parent_ptr, m_ptr, hooked_ptr, N, H, W, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    x = offs % W
    y = (offs // W) % H
    label = tl.load(labels_ptr + offs, mask=inside, other=0)
    parent = tl.load(parent_ptr + offs, mask=inside, other=0)
    m = parent
    # Right, left, down, up: the reference's order (min is order-free anyway).
    right = inside & (x + 1 < W)
    same = right & (tl.load(labels_ptr + offs + 1, mask=right, other=0) == label)
    m = tl.where(same, tl.minimum(m, tl.load(parent_ptr + offs + 1, mask=same, other=0)), m)
    left = inside & (x > 0)
    same = left & (tl.load(labels_ptr + offs - 1, mask=left, other=0) == label)
    m = tl.where(same, tl.minimum(m, tl.load(parent_ptr + offs - 1, mask=same, other=0)), m)
    down = inside & (y + 1 < H)
    same = down & (tl.load(labels_ptr + offs + W, mask=down, other=0) == label)
    m = tl.where(same, tl.minimum(m, tl.load(parent_ptr + offs + W, mask=same, other=0)), m)
    up = inside & (y > 0)
    same = up & (tl.load(labels_ptr + offs - W, mask=up, other=0) == label)
    m = tl.where(same, tl.minimum(m, tl.load(parent_ptr + offs - W, mask=same, other=0)), m)
    tl.store(m_ptr + offs, m, mask=inside)
    tl.atomic_min(hooked_ptr + parent, m, mask=inside)


@triton.jit
def _min_jump_kernel(hooked_ptr, m_ptr, out_ptr, N, BLOCK: tl.constexpr):
    """``out[p] = h[h[p]]`` with ``h = min(hooked, m)``, computed where it is read."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    h = tl.minimum(
        tl.load(hooked_ptr + offs, mask=inside, other=0),
        tl.load(m_ptr + offs, mask=inside, other=0),
    )
    hh = tl.minimum(
        tl.load(hooked_ptr + h, mask=inside, other=0), tl.load(m_ptr + h, mask=inside, other=0)
    )
    tl.store(out_ptr + offs, hh, mask=inside)


@triton.jit
def _jump_kernel(h_ptr, out_ptr, N, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    inside = offs < N
    h = tl.load(h_ptr + offs, mask=inside, other=0)
    tl.store(out_ptr + offs, tl.load(h_ptr + h, mask=inside, other=0), mask=inside)


@torch.library.custom_op("hsmix_torch::cc_rounds", mutates_args=())
def _cc_rounds_op(parent: Tensor, labels: Tensor, rounds: int) -> Tensor:
    _, h, w = labels.shape
    n = labels.numel()
    grid = (triton.cdiv(n, _BLOCK),)
    m = torch.empty_like(parent)
    jumped = torch.empty_like(parent)
    parent = parent.clone()
    for _ in range(rounds):
        hooked = parent.clone()
        _hook_kernel[grid](labels, parent, m, hooked, n, h, w, BLOCK=_BLOCK)
        _min_jump_kernel[grid](hooked, m, jumped, n, BLOCK=_BLOCK)
        _jump_kernel[grid](jumped, parent, n, BLOCK=_BLOCK)
    return parent


@_cc_rounds_op.register_fake
def _(parent, labels, rounds):
    return torch.empty_like(parent)


def cc_rounds(parent: Tensor, labels: Tensor, rounds: int) -> Tensor:
    """``rounds`` rounds of min-label propagation: the Triton version of
    ``connectivity._run_rounds(parent, *_equal_edges(labels), rounds)``.

    ``parent`` ``[B, H, W]`` int64 flat indices into the batch, ``labels`` ``[B, H, W]``.
    """
    return _cc_rounds_op(parent.contiguous(), labels.contiguous(), rounds)
