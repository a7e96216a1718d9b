"""Batch structures in and out: find the image and masks in any nested batch, and give back
the same structure with every other per-sample entry aligned to the mixed batch.

One layer, built on ``torch.utils._pytree``, serves :class:`~hsmix_torch.HSMix` on
structured input (torchvision.transforms.v2 samples), the collates and
:class:`~hsmix_torch.HSMixd`. The image and the masks are found, in this order, by:

1. a dict key or a getter the caller names (``image=``, ``masks=``);
2. type: torchvision's ``tv_tensors.Image`` (one) and ``tv_tensors.Mask`` (any number);
3. the dict keys ``"image"`` and ``"mask"``/``"masks"``/``"label"``/``"labels"`` (a mask
   entry only when it has the image's batch and spatial size);
4. position: the first tensor is the image (torchvision's rule for plain tensors) and, in a
   tuple or list, the next tensor with the image's batch and spatial size is the mask.

When the batch doubles (``output="both"``), every other entry with one item per sample is
repeated in the same order (hard block, then soft block), at any depth: tensors and numpy
arrays with B rows, and lists of length B (tuples too, of strings). Other entries are
passed through. torchvision is never imported here: ``tv_tensors`` can only be in a batch
if the caller has imported it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import numpy as np
import torch
import torch.utils._pytree as pytree
from torch import Tensor

from ._tensor_types import wrap_like

__all__ = ["BatchFields", "FlatBatch", "Getter", "locate", "retype_like"]

Getter = Callable[[Any], Any]
_MASK_KEYS = ("mask", "masks", "label", "labels")
_TEXT = (str, bytes, PurePath, type(None))
_NUMBER = (bool, int, float, complex)


def _is_item_list(x: Any) -> bool:
    """Lists (and tuples) of plain values are leaves: per-sample names, ids, flags."""
    if not isinstance(x, (list, tuple)) or hasattr(x, "_fields"):  # not namedtuples
        return False
    return all(isinstance(v, _TEXT + _NUMBER) for v in x)


def _tv_type(name: str) -> type | None:
    tv = sys.modules.get("torchvision.tv_tensors")
    return getattr(tv, name, None) if tv is not None else None


def _path_name(path: tuple) -> str:
    return "batch" + "".join(str(k) for k in path)  # e.g. batch['image'], batch[1]


def _last_key(path: tuple) -> Any:
    return getattr(path[-1], "key", None) if path else None


@dataclass(frozen=True)
class BatchFields:
    """Where the image and the masks are in a batch structure (None: found by the rules of
    the module docstring).

    Attributes:
        image: a dict key or a getter ``batch -> the image tensor``.
        masks: dict keys or getters of the masks, mixed with the same maps as the image.
        missing_ok: mask keys absent from a batch are skipped instead of an error.
    """

    image: str | Getter | None = None
    masks: Sequence[str | Getter] | None = None
    missing_ok: bool = False

    def __post_init__(self) -> None:
        if self.image is not None and not (isinstance(self.image, str) or callable(self.image)):
            raise TypeError(f"image must be a dict key, a getter or None, got {self.image!r}")
        if self.masks is not None:
            if isinstance(self.masks, str) or not isinstance(self.masks, Sequence):
                raise TypeError(f"masks must be a sequence of keys or getters, got {self.masks!r}")
            for m in self.masks:
                if not (isinstance(m, str) or callable(m)):
                    raise TypeError(f"masks must hold dict keys or getters, got {m!r}")
            object.__setattr__(self, "masks", tuple(self.masks))


@dataclass
class FlatBatch:
    """A batch flattened into leaves, with the positions of the image and the masks."""

    leaves: list[Any]
    paths: list[str]
    spec: pytree.TreeSpec
    image: int
    masks: list[int]

    @property
    def batch_size(self) -> int:
        return self.leaves[self.image].shape[0]

    def rebuild(self, new: dict[int, Tensor], times: int) -> Any:
        """The structure with leaves ``new[i]`` (wrapped like the leaves they replace) and,
        when ``times > 1``, every other per-sample leaf repeated ``times`` over."""
        b = self.batch_size
        out = []
        for i, (leaf, path) in enumerate(zip(self.leaves, self.paths, strict=True)):
            if i in new:
                out.append(wrap_like(new[i], leaf))
            elif times > 1:
                out.append(_repeat(leaf, b, times, path))
            else:
                out.append(leaf)
        return pytree.tree_unflatten(out, self.spec)


def _repeat(leaf: Any, batch: int, times: int, path: str) -> Any:
    if isinstance(leaf, Tensor):
        if leaf.ndim >= 1 and leaf.shape[0] == batch:
            return wrap_like(torch.cat([leaf.as_subclass(Tensor)] * times), leaf)
        return leaf
    if isinstance(leaf, np.ndarray):
        return np.concatenate([leaf] * times) if leaf.ndim >= 1 and len(leaf) == batch else leaf
    if isinstance(leaf, list) and len(leaf) == batch:
        return leaf * times
    if isinstance(leaf, tuple) and len(leaf) == batch and all(isinstance(v, _TEXT) for v in leaf):
        return leaf * times
    if isinstance(leaf, (tuple, *_TEXT, *_NUMBER)):
        return leaf  # constants: spacing tuples, scalars, strings
    if hasattr(leaf, "__len__") and len(leaf) == batch:
        raise TypeError(
            f"{path} ({type(leaf).__name__}) has {batch} items, one per sample, but cannot be "
            "repeated for the doubled batch; pass it as a tensor, array or list"
        )
    return leaf


def _mask_shaped(leaf: Any, image: Tensor) -> bool:
    """The image's batch size and spatial size (``[B, ..., H, W]`` or ``[B, ..., D, H, W]``)."""
    spatial = image.shape[2:]
    return (
        isinstance(leaf, Tensor)
        and leaf.ndim >= len(spatial) + 1
        and leaf.shape[0] == image.shape[0]
        and leaf.shape[leaf.ndim - len(spatial) :] == spatial
    )


def _by_key(flat: list, paths: list, key: str, what: str, missing_ok: bool = False) -> int | None:
    hits = [i for i, (_, p) in enumerate(flat) if _last_key(p) == key]
    if not hits:
        if missing_ok:
            return None
        keys = sorted({str(_last_key(p)) for _, p in flat if _last_key(p) is not None})
        raise KeyError(f"the batch has no {what} key {key!r}; keys found: {keys}")
    if len(hits) > 1:
        raise ValueError(
            f"two candidates for the {what} under key {key!r}: " + ", ".join(paths[i] for i in hits)
        )
    return hits[0]


def _by_getter(batch: Any, flat: list, getter: Getter, what: str) -> int:
    target = getter(batch)
    for i, (leaf, _) in enumerate(flat):
        if leaf is target:
            return i
    raise ValueError(f"the {what} getter {getter!r} returned no tensor of the batch")


def _one(hits: list[int], paths: list[str], what: str) -> int | None:
    if len(hits) > 1:
        raise ValueError(
            f"two candidates for the {what}: {paths[hits[0]]} and {paths[hits[1]]}; "
            f"name it with {what}=..."
        )
    return hits[0] if hits else None


def locate(batch: Any, fields: BatchFields | None = None) -> FlatBatch:
    """Flatten ``batch`` and find its image and masks (see the module docstring).

    Raises:
        KeyError: a named key is missing.
        ValueError: no image, two candidates for the image, or a named leaf is not a tensor.
    """
    fields = fields or BatchFields()
    with_paths, spec = pytree.tree_flatten_with_path(batch, is_leaf=_is_item_list)
    flat = [(leaf, path) for path, leaf in with_paths]
    paths = [_path_name(p) for _, p in flat]
    leaves = [leaf for leaf, _ in flat]
    tensors = [i for i, leaf in enumerate(leaves) if isinstance(leaf, Tensor)]
    image_type, mask_type = _tv_type("Image"), _tv_type("Mask")

    positional = False
    if isinstance(fields.image, str):
        image = _by_key(flat, paths, fields.image, "image")
    elif fields.image is not None:
        image = _by_getter(batch, flat, fields.image, "image")
    else:
        image = None
        if image_type is not None:
            image = _one([i for i in tensors if isinstance(leaves[i], image_type)], paths, "image")
        if image is None:
            image = _one([i for i in tensors if _last_key(flat[i][1]) == "image"], paths, "image")
        if image is None and tensors:
            image, positional = tensors[0], True
    if image is None:
        raise ValueError(f"no image tensor found in the batch ({type(batch).__name__})")
    if not isinstance(leaves[image], Tensor):
        raise TypeError(f"{paths[image]} (the image) must be a tensor, got {type(leaves[image])}")
    images = leaves[image]

    masks: list[int] = []
    if fields.masks is not None:
        for m in fields.masks:
            if isinstance(m, str):
                found = _by_key(flat, paths, m, "mask", fields.missing_ok)
            else:
                found = _by_getter(batch, flat, m, "mask")
            if found is not None:
                masks.append(found)
    elif mask_type is not None and any(isinstance(leaves[i], mask_type) for i in tensors):
        masks = [i for i in tensors if isinstance(leaves[i], mask_type)]
    else:
        masks = [
            i
            for i in tensors
            if _last_key(flat[i][1]) in _MASK_KEYS and _mask_shaped(leaves[i], images)
        ]
        if not masks and positional and isinstance(batch, (tuple, list)):
            later = [i for i in tensors if i > image and _mask_shaped(leaves[i], images)]
            masks = later[:1]
    for i in masks:
        if not isinstance(leaves[i], Tensor):
            raise TypeError(f"{paths[i]} (a mask) must be a tensor, got {type(leaves[i])}")
        if i == image:
            raise ValueError(f"{paths[i]} is named as both the image and a mask")
    return FlatBatch(leaves=leaves, paths=paths, spec=spec, image=image, masks=masks)


def retype_like(batch: Any, sample: Any) -> Any:
    """``batch`` with the tensor types of one of its samples: ``default_collate`` stacks
    ``tv_tensors`` into plain tensors, and the image and masks are found by their type."""
    tv = sys.modules.get("torchvision.tv_tensors")
    if tv is None:
        return batch
    sample_leaves, _ = pytree.tree_flatten(sample, is_leaf=_is_item_list)
    leaves, spec = pytree.tree_flatten(batch, is_leaf=_is_item_list)
    if len(leaves) != len(sample_leaves):
        return batch
    typed = [
        tv.wrap(leaf, like=like) if isinstance(like, tv.TVTensor) and type(leaf) is Tensor else leaf
        for leaf, like in zip(leaves, sample_leaves, strict=True)
    ]
    return pytree.tree_unflatten(typed, spec)
