"""Tensor subclasses in and out: torchvision ``tv_tensors`` and MONAI ``MetaTensor``.

HSMix computes on plain tensors and gives the caller back the types they passed in, so it
can sit in a torchvision.transforms.v2 or MONAI pipeline. Neither library is imported here:
their tensors can only reach us if the caller has imported them.
"""

from __future__ import annotations

import sys

from torch import Tensor

__all__ = ["plain", "wrap_like"]


def plain(x: Tensor | None) -> Tensor | None:
    """The data of a tensor subclass as a plain ``torch.Tensor`` (no copy)."""
    if x is None or type(x) is Tensor or not isinstance(x, Tensor):
        return x
    return x.as_subclass(Tensor)


def wrap_like(out: Tensor, like: object) -> Tensor:
    """``out`` as the tensor subclass of ``like`` (tv_tensors.Image/Mask, MetaTensor, ...).

    tv_tensors go through ``tv_tensors.wrap`` (which keeps their metadata); other subclasses
    are built from the tensor. The batch-level result carries no per-sample metadata of the
    input (a mix has two sources); subclasses that cannot be built from a tensor are
    returned plain.
    """
    if type(like) is Tensor or not isinstance(like, Tensor):
        return out
    tv = sys.modules.get("torchvision.tv_tensors")
    if tv is not None and isinstance(like, tv.TVTensor):
        return tv.wrap(plain(out), like=like)
    try:
        return type(like)(out)
    except (TypeError, ValueError, RuntimeError):
        return out
