"""Segmentation mask layouts: class maps, their one-hot form, and the caller's layout back.

HSMix mixes every mask with the same maps as the images. A mask comes in one of these
layouts (B and the spatial axes S those of the images: ``(H, W)``, or ``(D, H, W)`` for
volumes):

- integer class map ``[B, *S]`` or ``[B, 1, *S]`` (any integer dtype or bool);
- float class map ``[B, 1, *S]`` when ``num_classes >= 2`` is given (MONAI loads labels as
  float tensors), or with ``float_labels`` (kornia hands label maps over as floats):
  integer values, read as classes;
- dense float map ``[B, K, *S]`` (binary, one-hot, multi-label, soft; a weight map), or
  ``[B, *S]``: mixed as numbers, dtype kept.

Class maps are mixed one-hot when a soft mix is produced, and stay class maps (in the
caller's shape and dtype) when only the hard mix is.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .._checks import ValueChecks

__all__ = ["MaskLayout", "one_hot", "prepare_mask", "restore_mask"]


@dataclass(frozen=True)
class MaskLayout:
    """A mask in its working layout, and what is needed to give it back.

    Attributes:
        data: ``[B, *S]`` int64 class map (``as_index``, or ``classes``), or a dense
            ``[B, K, *S]`` map.
        as_index: True when ``data`` is a class map mixed as indices (hard mix only).
        shape, dtype: the caller's shape and dtype, for :func:`restore_mask`.
        squeezed: True when the caller's dense map had no channel axis (``[B, *S]``).
    """

    data: Tensor
    as_index: bool
    shape: torch.Size
    dtype: torch.dtype
    squeezed: bool = False
    classes: int | None = None  # a class map to mix one-hot with this many classes


def one_hot(labels: Tensor, num_classes: int, ignore_index: int | None = None) -> Tensor:
    """One-hot float32 ``[B, K, *S]`` of an integer class map ``[B, *S]``.

    Pixels equal to ``ignore_index`` get an all-zero vector, so they contribute nothing to a
    soft-target cross-entropy or Dice loss. Labels must lie in ``[0, num_classes)`` (or equal
    ``ignore_index``); that is checked by :func:`prepare_mask`.

    Args:
        labels: ``[B, *S]`` integer (or whole-number float) class map.
        num_classes: ``K``, the number of classes.
        ignore_index: a label that becomes the all-zero vector; None: no such label.

    Returns:
        ``[B, K, *S]`` float32, one 1 per pixel (none at ``ignore_index``).

    Example:
        >>> one_hot(torch.tensor([[[0, 2]]]), 3)[0, :, 0]
        tensor([[1., 0.],
                [0., 0.],
                [0., 1.]])
    """
    labels = labels.long()
    classes = torch.arange(num_classes, device=labels.device).view(
        1, -1, *([1] * (labels.ndim - 1))
    )
    hot = torch.empty(
        (labels.shape[0], num_classes, *labels.shape[1:]), dtype=torch.float32, device=labels.device
    )
    # Compared straight into float32 (one pass, not a bool map and a cast); labels outside
    # [0, K) (ignore_index) match nothing.
    torch.eq(labels.unsqueeze(1), classes, out=hot)
    if ignore_index is not None and 0 <= ignore_index < num_classes:
        hot.mul_(labels.unsqueeze(1) != ignore_index)
    return hot


def prepare_mask(
    mask: Tensor,
    image_shape: tuple[int, ...],
    *,
    one_hot_classes: bool,
    num_classes: int | None,
    ignore_index: int | None,
    checks: ValueChecks | None = None,
    dense: bool = False,
    name: str = "masks",
    float_labels: bool = False,
) -> MaskLayout:
    """Check ``mask`` against the images' ``(B, *S)`` and bring it into a working layout.

    Args:
        mask: see the module docstring for the layouts.
        image_shape: the images' ``(B, H, W)`` or ``(B, D, H, W)``.
        one_hot_classes: class maps are needed one-hot (a soft mix is produced).
        num_classes: classes of class maps; needed when ``one_hot_classes``, and turns
            one-channel float maps into class maps.
        ignore_index: the ignored label of class maps (kept as it is by the hard mix,
            an all-zero vector one-hot).
        checks: where to add the checks of the label values (:class:`ValueChecks`: read back
            together, once); None: not checked.
        dense: mix a float map as numbers whatever its channels (weight maps).
        name: the mask as the caller wrote it (``masks``, ``batch['label']``), for errors.
        float_labels: one-channel float maps are label maps even without ``num_classes``.

    Returns:
        The :class:`MaskLayout`: class maps as ``[B, *S]`` int64 (one-hot on demand when
        ``one_hot_classes``), float maps as ``[B, K, *S]`` numbers.

    Raises:
        TypeError: ``mask`` is not a tensor, or is complex.
        ValueError: its shape does not match the images, or a soft mix of class maps has no
            ``num_classes``.
    """
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.is_complex():
        raise TypeError(f"{name} must be integer, bool or floating point, got {mask.dtype}")
    b, *size = image_shape
    size = tuple(size)
    axes = "D, H, W" if len(size) == 3 else "H, W"
    channel_map = mask.ndim == len(size) + 2
    float_class_map = (
        not dense
        and mask.is_floating_point()
        and (float_labels or (num_classes is not None and num_classes >= 2))
        and channel_map
        and mask.shape[1] == 1
    )
    if mask.is_floating_point() and not float_class_map:
        squeezed = mask.ndim == len(size) + 1
        dense = mask.unsqueeze(1) if squeezed else mask
        if dense.ndim != len(size) + 2 or dense.shape[0] != b or dense.shape[2:] != size:
            raise ValueError(
                f"float {name} must have shape [B, K, {axes}] or [B, {axes}] with B, {axes} = "
                f"{(b, *size)}, got {tuple(mask.shape)}"
            )
        return MaskLayout(dense, False, mask.shape, mask.dtype, squeezed)
    index = mask[:, 0] if channel_map and mask.shape[1] == 1 else mask
    if index.shape != (b, *size):
        raise ValueError(
            f"{name} as class maps must have shape [B, {axes}] or [B, 1, {axes}] with "
            f"B, {axes} = {(b, *size)}, got {tuple(mask.shape)}"
        )
    if checks is not None and index.numel():
        _check_labels(checks, index, num_classes, ignore_index, name, float_class_map)
    index = index.long()
    if not one_hot_classes:
        return MaskLayout(index, True, mask.shape, mask.dtype)
    if num_classes is None:
        raise ValueError(
            f"a soft mix of integer {name} needs num_classes (class maps are mixed one-hot); "
            "pass num_classes=..."
        )
    shape = torch.Size((b, num_classes, *size))
    return MaskLayout(index, False, shape, torch.float32, classes=num_classes)


def restore_mask(mixed: Tensor, layout: MaskLayout) -> Tensor:
    """A mixed working-layout mask back in the caller's layout.

    Args:
        mixed: the mixed mask in the working layout of ``layout``.
        layout: what :func:`prepare_mask` returned for the caller's mask.

    Returns:
        Class maps in the caller's shape and dtype (hard mix), one-hot ``[B, K, *S]`` float32
        (soft mix of class maps), or float maps in the caller's shape.
    """
    if layout.as_index:
        return mixed.reshape(mixed.shape[:1] + layout.shape[1:]).to(layout.dtype)
    if layout.classes is not None:
        return mixed
    if layout.squeezed:
        return mixed.squeeze(1)
    return mixed


def _check_labels(
    checks: ValueChecks,
    index: Tensor,
    num_classes: int | None,
    ignore_index: int | None,
    name: str,
    is_float: bool,
) -> None:
    """Labels ``>= 0`` and ``< num_classes`` (``ignore_index`` aside); float class maps of
    whole numbers. Added to ``checks``: nothing is read back here."""
    if is_float:
        checks.add(
            ~(torch.isfinite(index) & (index == index.round())).all(),
            lambda _: (
                f"float {name} [B, 1, ...] with num_classes={num_classes} are read as class "
                "maps and must hold whole numbers; mix a weight map as numbers with "
                "BatchFields(dense=...) (HSMixd: dense_keys; aug.mix: dense=True), or pass "
                "num_classes=None"
            ),
        )
    valid = (
        index != ignore_index
        if ignore_index is not None
        else torch.ones_like(index, dtype=torch.bool)
    )
    big = torch.iinfo(torch.int64).max
    lo = torch.where(valid, index.long(), big).min()
    hi = torch.where(valid, index.long(), -big).max()
    ignored = "" if ignore_index is None else f" (ignore_index={ignore_index})"
    checks.add(
        lo < 0,
        lambda got: f"{name} hold negative label {int(got[0])}; labels must be >= 0{ignored}",
        [lo],
    )
    if num_classes is not None:
        checks.add(
            (hi >= num_classes) & valid.any(),
            lambda got: f"{name} hold label {int(got[0])} >= num_classes={num_classes}{ignored}",
            [hi],
        )
