"""Tensor subclasses in and out: torchvision ``tv_tensors`` and MONAI ``MetaTensor``.

HSMix computes on plain tensors and gives the caller back the types they passed in, so it
can sit in a torchvision.transforms.v2 or MONAI pipeline.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["plain", "wrap_like"]


def plain(x: Tensor | None) -> Tensor | None:
    """The data of a tensor subclass as a plain ``torch.Tensor`` (no copy)."""
    if x is None or type(x) is Tensor or not isinstance(x, Tensor):
        return x
    return x.as_subclass(Tensor)


def wrap_like(out: Tensor, like: object) -> Tensor:
    """``out`` as the tensor subclass of ``like`` (tv_tensors.Image/Mask, MetaTensor, ...).

    The batch-level result carries no per-sample metadata of the input (a mix has two
    sources); subclasses that cannot be built from a tensor are returned plain.
    """
    if type(like) is Tensor or not isinstance(like, Tensor):
        return out
    try:
        return type(like)(out)
    except (TypeError, ValueError, RuntimeError):
        return out
