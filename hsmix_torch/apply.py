"""The application of a mix: images and masks mixed with the params of :mod:`hsmix_torch.plan`.

The third stage of HSMix. One rule per kind of mask, shared by :class:`~hsmix_torch.HSMix`,
:class:`~hsmix_torch.HSMixd`, the collates and the kornia adapter:

- dense float maps (``[B, K, *S]``, ``[B, *S]``: probabilities, multi-label maps, weights)
  are mixed as numbers, like the images;
- class maps (integer ``[B, *S]`` or ``[B, 1, *S]``; one-channel float maps with
  ``num_classes``) come back, as ``targets`` says, as probabilities (one-hot, mixed:
  ``[B', K, *S]`` float32) or as labels (the caller's shape and dtype: each pixel takes the
  label of the larger weight, its partner's inside ``M`` for a hard mix and where
  ``L > 0.5`` for a soft one). A hard mix alone (``output="hard"``) keeps labels either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from . import functional as HF
from ._checks import ValueChecks
from .options import HSMixOptions
from .params import HSMixParams

__all__ = ["check_fit", "mask_layouts", "mix_all", "mix_labels", "mix_mask", "mix_tensor"]


def check_fit(a: Tensor, params: HSMixParams, name: str) -> None:
    """A ValueError naming ``name`` unless ``a`` ``[B, ..., *S]`` fits ``params`` (a
    TypeError for what is no tensor, or no :class:`HSMixParams`)."""
    if not isinstance(params, HSMixParams):
        raise TypeError(f"params must be HSMixParams (from make_params), got {params!r}")
    if not isinstance(a, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(a).__name__}")
    b, *size = params.hard_mask.shape
    fits = a.ndim >= len(size) + 1 and tuple(a.shape[a.ndim - len(size) :]) == tuple(size)
    if not fits or a.shape[0] != b or params.partner.shape != (b,):
        layout = "[B, D, H, W]" if len(size) == 3 else "[B, H, W]"
        raise ValueError(
            f"params were made for a batch of shape {layout}={(b, *size)}, "
            f"{name} has shape {tuple(a.shape)}"
        )
    if params.hard_mask.device != a.device:
        raise ValueError(f"params are on {params.hard_mask.device} but {name} on {a.device}")


def mix_tensor(a: Tensor, params: HSMixParams, options: HSMixOptions, name: str = "a") -> Tensor:
    """Any ``[B, ..., *S]`` tensor mixed as numbers with ``params``, as ``options.output``
    asks: ``[B, ...]``, or ``[2B, ...]`` for ``"both"``; the dtype of ``a`` kept."""
    check_fit(a, params, name)
    if options.output == "either" and params.soft is None:
        raise ValueError('output="either" needs params made with output="either"')
    return HF.mix_batch(
        a, params.partner, params.hard_mask, params.soft_lambda, options.output, params.soft,
        kernels=options.kernels,
    )  # fmt: skip


def mask_layouts(
    masks: Sequence[Tensor],
    image_shape: tuple[int, ...],
    options: HSMixOptions,
    dense: Sequence[bool] | None,
    checks: ValueChecks | None,
    names: Sequence[str] | None = None,
    float_labels: bool = False,
) -> list[HF.MaskLayout]:
    """Each mask's working layout (see the module docstring); label checks go to
    ``checks`` (None: not checked). ``names`` are the masks as the caller wrote them, for
    errors (default ``masks``, ``masks[k]``); ``float_labels`` reads one-channel float maps
    as label maps (kornia hands label maps over as floats)."""
    if dense is not None and len(dense) != len(masks):
        raise ValueError(f"dense must hold one flag per mask ({len(masks)}), got {dense!r}")
    if names is None:
        names = ["masks"] if len(masks) == 1 else [f"masks[{k}]" for k in range(len(masks))]
    one_hot = options.output != "hard" and options.targets == "probabilities"
    return [
        HF.prepare_mask(
            m,
            image_shape,
            one_hot_classes=one_hot,
            num_classes=options.num_classes,
            ignore_index=options.ignore_index,
            checks=checks,
            dense=bool(dense[k]) if dense is not None else False,
            name=names[k],
            float_labels=float_labels,
        )
        for k, m in enumerate(masks)
    ]


def mix_all(
    images: Tensor, layouts: Sequence[HF.MaskLayout], params: HSMixParams, options: HSMixOptions
) -> tuple[Tensor, list[Tensor]]:
    """The images and every mask (in its working layout) mixed with the same params."""
    out = mix_tensor(images, params, options, "images")
    return out, [mix_mask(layout, params, options) for layout in layouts]


def mix_mask(layout: HF.MaskLayout, params: HSMixParams, options: HSMixOptions) -> Tensor:
    """A mask in its working layout, mixed and given back in the caller's layout."""
    if layout.classes is not None:  # one-hot, without the one-hot copy
        mixed = HF.mix_classes(
            layout.data, params.partner, params.hard_mask, params.soft_lambda, options.output,
            params.soft, layout.classes, options.ignore_index, kernels=options.kernels,
        )  # fmt: skip
    elif layout.as_index and options.output != "hard":
        mixed = mix_labels(layout.data, params, options)
    else:
        mixed = mix_tensor(layout.data, params, options, "masks")
    return HF.restore_mask(mixed, layout)


def mix_labels(labels: Tensor, params: HSMixParams, options: HSMixOptions) -> Tensor:
    """Label maps ``[B, ..., *S]`` (any dtype) mixed as labels, never averaged: each pixel
    takes the label of the larger weight (the partner's inside ``M`` for a hard mix, where
    ``L > 0.5`` for a soft one), as ``options.output`` asks."""
    check_fit(labels, params, "labels")
    larger = params.soft_lambda > 0.5  # the partner's label where it weighs more

    def take(where: Tensor) -> Tensor:
        return HF.mix_batch(
            labels, params.partner, where, params.soft_lambda, "hard", kernels=options.kernels
        )

    if options.output == "hard":
        return take(params.hard_mask)
    if options.output == "soft":
        return take(larger)
    if options.output == "either":
        soft = params.soft.view(-1, *([1] * (larger.ndim - 1)))
        return take(torch.where(soft, larger, params.hard_mask))
    return torch.cat([take(params.hard_mask), take(larger)])
