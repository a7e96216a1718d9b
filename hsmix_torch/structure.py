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
   tuple or list (``aug(image, mask, weights, labels)``), every later tensor of two or more
   axes is a map mixed with it (one of another size is an error naming its position); a
   ``[B]`` vector (per-sample class labels) follows the per-sample rule below.

The per-sample rule. When the batch doubles (``output="both"``: the hard block, then the
soft block), every other entry that holds one item per sample is repeated in the same order,
at any depth, and everything else passes through unchanged. With B the batch size:

- a tensor or numpy array is per-sample when its first axis has length B;
- a list or tuple (lists and tuples alike; not a named tuple, not holding the image or a
  mask) is per-sample, as a whole, when it has B items, whatever they are (names, ids,
  per-sample tensors of any size) and is repeated as a list (tuple); when its B items are
  all tensors or arrays with B rows it could be B samples or B batched fields: that is an
  error naming the entry;
- dicts, named tuples and other lists and tuples are walked into; numbers, strings and None
  are constants; any other object of B items is an error naming the entry.

``BatchFields(per_sample=..., constant=..., containers=...)`` overrides the rule for the
entries under these dict keys: repeat as a whole, pass through, walk into.
torchvision is never imported here: ``tv_tensors`` can only be in a batch if the caller has
imported it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
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


def _path_name(path: tuple, root: str = "batch") -> str:
    """A leaf's place as the caller wrote it: ``batch['image']``, ``inputs[2]``, ``data.x``
    (pytree's key entries print as ``['key']``, ``[index]`` and ``.field``)."""
    return root + "".join(str(k) for k in path)


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
        dense: dict keys of masks mixed as numbers whatever their layout (weight maps).
        per_sample, constant, containers: dict keys whose entries the per-sample rule of the
            module docstring takes as one item per sample, as constants, as containers.
    """

    image: str | Getter | None = None
    masks: Sequence[str | Getter] | None = None
    missing_ok: bool = False
    dense: Sequence[str] = ()
    per_sample: Sequence[str] = ()
    constant: Sequence[str] = ()
    containers: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.missing_ok, bool):
            raise TypeError(f"missing_ok must be a bool, got {self.missing_ok!r}")
        keys = self.dense
        if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
            raise TypeError(f"dense must be a sequence of dict keys, got {keys!r}")
        object.__setattr__(self, "dense", tuple(keys))
        overrides = {}
        for name in ("per_sample", "constant", "containers"):
            keys = getattr(self, name)
            if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
                raise TypeError(f"{name} must be a sequence of dict keys, got {keys!r}")
            object.__setattr__(self, name, tuple(keys))
            for k in keys:
                if k in overrides:
                    raise ValueError(f"the key {k!r} is in both {overrides[k]} and {name}")
                overrides[k] = name
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
    """A batch flattened into leaves, with the positions of the image and the masks.

    Attributes:
        leaves: the batch's leaves in pytree order.
        paths: each leaf's place as the caller wrote it (``batch['label']``, ``inputs[1]``).
        keys: each leaf's last dict key (None where its place ends in an index).
        image: the index of the image leaf; masks: those of the mask leaves, in order.
        batch: the structure itself; fields: how it was searched; root: the name of the
            structure in ``paths``.
    """

    leaves: list[Any]
    paths: list[str]
    keys: list[Any]
    image: int
    masks: list[int]
    batch: Any = None
    fields: BatchFields | None = None
    root: str = "batch"

    @property
    def batch_size(self) -> int:
        return self.leaves[self.image].shape[0]

    def rebuild(self, new: dict[int, Tensor], times: int) -> Any:
        """The structure with some leaves replaced and the rest following the batch.

        Leaves are replaced by their place, never by identity: an entry that holds the same
        tensor object as the image (the un-augmented image kept for a consistency loss)
        follows the per-sample rule like any other.

        Args:
            new: ``{leaf index: tensor}``; each is wrapped like the leaf it replaces
                (``tv_tensors`` keep their type).
            times: how many batches the output holds (2 for ``output="both"``): every other
                per-sample entry is repeated ``times`` over (the rule of the module docstring).

        Returns:
            The batch in the caller's structure (same containers, keys and order).
        """
        replaced = {self.paths[i]: wrap_like(t, self.leaves[i]) for i, t in new.items()}
        fields = {self.paths[i] for i in (self.image, *self.masks)}
        walk = _Walk(self.batch_size, times, replaced, fields, self.fields or BatchFields())
        return walk(self.batch, self.root, top=True)


class _Walk:
    """The rebuild of a batch: fields replaced, per-sample entries repeated."""

    def __init__(
        self,
        batch: int,
        times: int,
        replaced: dict[str, Tensor],
        fields: set[str],
        overrides: BatchFields,
    ) -> None:
        self.b, self.times, self.replaced, self.fields = batch, times, replaced, fields
        self.overrides = overrides

    def holds_field(self, path: str) -> bool:
        """Whether the image or a mask lies at ``path`` or below it."""
        return any(f == path or f.startswith((path + "[", path + ".")) for f in self.fields)

    def rows(self, node: Any) -> bool:
        """A tensor or array with B rows."""
        return isinstance(node, (Tensor, np.ndarray)) and node.ndim >= 1 and len(node) == self.b

    def __call__(self, node: Any, path: str, key: Any = None, top: bool = False) -> Any:
        if path in self.replaced:
            return self.replaced[path]
        o = self.overrides
        if key in o.constant or (self.times == 1 and not self.holds_field(path)):
            return node
        if key in o.per_sample:
            return _repeat_whole(node, self.times, path)
        if isinstance(node, Tensor):
            if not self.rows(node):
                return node
            return wrap_like(torch.cat([node.as_subclass(Tensor)] * self.times), node)
        if isinstance(node, np.ndarray):
            return np.concatenate([node] * self.times) if self.rows(node) else node
        if isinstance(node, Mapping):
            return type(node)((k, self(v, f"{path}[{k!r}]", k)) for k, v in node.items())
        if isinstance(node, (list, tuple)):
            named = hasattr(node, "_fields")
            walk_in = named or top or key in o.containers or self.holds_field(path)
            if not walk_in and len(node) == self.b:
                if node and all(self.rows(v) for v in node):
                    raise ValueError(
                        f"{path} has {self.b} items of {self.b} rows each: one item per sample, "
                        f"or {self.b} batched entries? Name its key in BatchFields(per_sample=...)"
                        " or BatchFields(containers=...)"
                    )
                return node * self.times
            if named:  # pytree's places of a named tuple's items: .field
                fields = zip(node._fields, node, strict=True)
                return type(node)(*(self(v, f"{path}.{f}") for f, v in fields))
            return type(node)([self(v, f"{path}[{i}]") for i, v in enumerate(node)])
        if isinstance(node, (*_TEXT, *_NUMBER)):
            return node
        if hasattr(node, "__len__") and len(node) == self.b:
            raise TypeError(
                f"{path} ({type(node).__name__}) has {self.b} items, one per sample, but "
                "cannot be repeated for the doubled batch; pass it as a tensor, array or list, "
                "or name its key in BatchFields(constant=...)"
            )
        return node


def _repeat_whole(node: Any, times: int, path: str) -> Any:
    """An entry named per-sample, repeated as a whole."""
    if isinstance(node, Tensor):
        return wrap_like(torch.cat([node.as_subclass(Tensor)] * times), node)
    if isinstance(node, np.ndarray):
        return np.concatenate([node] * times)
    if isinstance(node, (list, tuple)) and not hasattr(node, "_fields"):
        return node * times
    raise TypeError(f"{path} ({type(node).__name__}) is named per-sample but cannot be repeated")


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


def _by_getter(batch: Any, flat: list, paths: list[str], getter: Getter, what: str) -> int:
    target = getter(batch)
    hits = [i for i, (leaf, _) in enumerate(flat) if leaf is target]
    if not hits:
        raise ValueError(f"the {what} getter {getter!r} returned no tensor of the batch")
    if len(hits) > 1:  # one tensor object at two places: a getter cannot say which
        raise ValueError(
            f"the {what} getter {getter!r} returned a tensor found at "
            + " and ".join(paths[i] for i in hits)
            + f"; name the {what} by its dict key instead"
        )
    return hits[0]


def _one(hits: list[int], paths: list[str], what: str) -> int | None:
    if len(hits) > 1:
        raise ValueError(
            f"two candidates for the {what}: {paths[hits[0]]} and {paths[hits[1]]}; "
            f"name it with {what}=..."
        )
    return hits[0] if hits else None


def locate(batch: Any, fields: BatchFields | None = None, root: str = "batch") -> FlatBatch:
    """Flatten ``batch`` and find its image and masks (see the module docstring).

    Args:
        batch: any nested structure of dicts, lists, tuples and leaves.
        fields: where the image and masks are, where the rules should not decide.
        root: how errors name the structure (``batch``; ``inputs`` for the positional
            arguments of a call, ``data`` for a dict transform's argument).

    Returns:
        The :class:`FlatBatch`, its ``paths`` naming each leaf as the caller wrote it.

    Raises:
        KeyError: a named key is missing.
        TypeError: no tensor in the batch, or a named leaf is not a tensor.
        ValueError: two candidates for the image, or a getter's tensor is not (or more than
            once) in the batch.
    """
    fields = fields or BatchFields()
    with_paths, _ = pytree.tree_flatten_with_path(batch, is_leaf=_is_item_list)
    flat = [(leaf, path) for path, leaf in with_paths]
    paths = [_path_name(p, root) for _, p in flat]
    leaves = [leaf for leaf, _ in flat]
    tensors = [i for i, leaf in enumerate(leaves) if isinstance(leaf, Tensor)]
    image_type, mask_type = _tv_type("Image"), _tv_type("Mask")

    positional = False
    if isinstance(fields.image, str):
        image = _by_key(flat, paths, fields.image, "image")
    elif fields.image is not None:
        image = _by_getter(batch, flat, paths, fields.image, "image")
    else:
        image = None
        if image_type is not None:
            image = _one([i for i in tensors if isinstance(leaves[i], image_type)], paths, "image")
        if image is None:
            image = _one([i for i in tensors if _last_key(flat[i][1]) == "image"], paths, "image")
        if image is None and tensors:
            image, positional = tensors[0], True
    if image is None:
        raise TypeError(
            f"no image tensor found in the {root} ({type(batch).__name__}): pass a tensor "
            "[B, C, *S], or a structure that holds one"
        )
    if not isinstance(leaves[image], Tensor):
        raise TypeError(f"{paths[image]} (the image) must be a tensor, got {type(leaves[image])}")
    images = leaves[image]

    masks: list[int] = []
    if fields.masks is not None:
        for m in fields.masks:
            if isinstance(m, str):
                found = _by_key(flat, paths, m, "mask", fields.missing_ok)
            else:
                found = _by_getter(batch, flat, paths, m, "mask")
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
            # Every later top-level tensor but a [B] vector (per-sample class labels) is a
            # map to mix: one of the wrong size is an error, never a guess.
            masks = [
                i for i in tensors if i > image and len(flat[i][1]) == 1 and leaves[i].ndim >= 2
            ]
    for i in masks:
        if not isinstance(leaves[i], Tensor):
            raise TypeError(f"{paths[i]} (a mask) must be a tensor, got {type(leaves[i])}")
        if i == image:
            raise ValueError(f"{paths[i]} is named as both the image and a mask")
    keys = [_last_key(p) for _, p in flat]
    return FlatBatch(leaves, paths, keys, image, masks, batch=batch, fields=fields, root=root)


def retype_like(batch: Any, sample: Any) -> Any:
    """``batch`` with the tensor types of one of its samples: ``default_collate`` stacks
    ``tv_tensors`` into plain tensors, and the image and masks are found by their type.

    Args:
        batch: a collated batch.
        sample: one of the samples it was collated from.

    Returns:
        ``batch`` with each plain tensor wrapped as the ``tv_tensors`` type of the sample's
        leaf in its place; ``batch`` itself when torchvision is not imported or the
        structures differ.
    """
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
