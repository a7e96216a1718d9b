"""The plan of a mix: :class:`~hsmix_torch.params.HSMixParams` from the random draws and the
content of the images (superpixels, saliency, the maps of :func:`~hsmix_torch.functional.mix_maps`).

The second stage of HSMix, after :func:`~hsmix_torch.sampler.draw` and before
:mod:`hsmix_torch.apply`. Deterministic: the same draws and images give the same params.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from . import functional as HF
from ._checks import ValueChecks, check_images
from ._tensor_types import plain
from .options import HSMixOptions
from .params import HSMixParams
from .sampler import RandomDraws
from .superpixels import SuperpixelBackend, check_labels

__all__ = ["check_draws", "check_inputs", "make_plan", "unit_range"]


def unit_range(images: Tensor, options: HSMixOptions) -> Tensor:
    """Float images mapped to [0, 1] for the saliency maps (which quantise [0, 1] to 8 bits):
    from ``intensity_range``, or per image from its extremes (None). uint8 as it is."""
    if not images.is_floating_point():
        return images
    if options.intensity_range is None:
        return HF.minmax_rescale(images)
    lo, hi = options.intensity_range
    if (lo, hi) == (0.0, 1.0):
        return images
    return (images.float() - lo) / (hi - lo)


def check_inputs(
    images: Tensor,
    masks: Sequence[Tensor],
    segments: Tensor | None,
    options: HSMixOptions,
    backend: SuperpixelBackend,
    checks: ValueChecks | None,
    warned_range: bool = False,
    names: Sequence[str] | None = None,
) -> tuple[Tensor, Tensor | None]:
    """The plain images and precomputed segments of a call, checked once for every stage
    (the backend, the saliency and the maps trust them): shapes, dtypes and devices here
    (errors naming the argument; ``names``: the masks as the caller wrote them), values
    into ``checks`` (read back later, once; None: not checked)."""
    x, sp = plain(images), plain(segments)
    check_images(x)
    spacing = options.spacing
    if spacing is not None and len(spacing) != x.ndim - 2:
        raise ValueError(
            f"spacing={spacing} has {len(spacing)} values but the images "
            f"{tuple(x.shape)} have {x.ndim - 2} spatial axes; pass one value per axis"
        )
    if sp is None:
        backend.check_axes(x)
    names = names or ["masks"] * len(masks)
    for name, m in [*zip(names, (plain(m) for m in masks), strict=True), ("segments", sp)]:
        if isinstance(m, Tensor) and m.device != x.device:
            raise ValueError(f"{name} is on {m.device} but images are on {x.device}")
    if sp is not None:
        sp = check_labels(sp, x, "segments", check_values=checks is not None, checks=checks)
    if checks is not None:
        _check_images_content(checks, x, options, warn_range=not warned_range)
    return x, sp


def check_draws(images: Tensor, draws: RandomDraws, options: HSMixOptions) -> None:
    """Draws made elsewhere must be for this batch (its size and device, ``soft`` set
    exactly when ``output="either"``)."""
    b = images.shape[0]
    if draws.partner.shape != (b,) or draws.partner.device != images.device:
        raise ValueError(
            f"draws must be for a batch of {b} on {images.device}, got partner of shape "
            f"{tuple(draws.partner.shape)} on {draws.partner.device}"
        )
    if (draws.soft is not None) != (options.output == "either"):
        raise ValueError('draws.soft must be set exactly when output="either"')


def _check_images_content(
    checks: ValueChecks, images: Tensor, options: HSMixOptions, warn_range: bool = True
) -> None:
    """Add the value checks of the images to ``checks``: NaN/Inf; values outside
    ``intensity_range`` (a warning, where saliency reads them and ``warn_range``)."""
    if not images.is_floating_point():
        return
    checks.add(
        ~torch.isfinite(images).all(),
        lambda _: "images contain NaN or Inf (pass validate=False to skip this check)",
    )
    soft = options.output != "hard" and options.lam == "saliency"
    if soft and warn_range and options.intensity_range is not None:
        lo, hi = options.intensity_range
        checks.add(
            ((images < lo) | (images > hi)).any(),
            lambda _: (
                f"float images have values outside intensity_range="
                f"{options.intensity_range}; the saliency maps clip them. Pass the "
                "images' range, e.g. intensity_range=(0, 255) or (-1000, 1000) for CT, or "
                "None to stretch each image from its minimum to its maximum"
            ),
            warning=True,
        )


def _table_size(labels: Tensor, bound: int, synchronised: bool) -> int:
    """The number of label slots of the per-superpixel tables.

    The backend's declared bound of the labels (every backend declares one, tested), so
    nothing is read back. Where the labels came through the host anyway (a backend that
    synchronises, labels already checked), their maximum is read instead when that gives
    smaller tables; never under ``torch.compile`` or in a graph. The values in the tables do
    not depend on the size (see :mod:`hsmix_torch.functional.streams`).
    """
    if synchronised and not torch.compiler.is_compiling() and labels.numel():
        return min(int(labels.max()) + 1, max(bound, 1))
    return max(bound, 1)


@torch.compiler.disable
def make_plan(
    images: Tensor,
    draws: RandomDraws,
    options: HSMixOptions,
    backend: SuperpixelBackend,
    saliency: Callable[[Tensor], Tensor],
    *,
    segments: Tensor | None = None,
    graphed: bool = False,
) -> HSMixParams:
    """The params of a mix of ``images`` ``[B, C, *S]`` (detached) with ``draws``.

    Args:
        images: the batch (images or volumes), checked by :func:`check_inputs`.
        draws: its random part (:func:`~hsmix_torch.sampler.draw`).
        options: the module's options.
        backend: the superpixel backend (not called when ``segments`` is given).
        saliency: the saliency map ``images [B, C, *S] -> [B, 1, *S]`` in [0, 1] for
            checked images (:func:`~hsmix_torch.saliency.saliency_maps`).
        segments: optional precomputed ``[B, *S]`` int64 labels in ``[0, prod(S))``, from
            :func:`check_inputs`.
        graphed: inside a CUDA graph capture (nothing may be read back).
    """
    b, _, *size = images.shape
    dev = images.device
    if segments is None:
        labels = backend.segment(images, draws.n_segments, options.n_segments[1], options.spacing)
        bound = backend.label_bound(tuple(size), options.n_segments[1], dev, options.spacing)
        synchronised = not backend.capturable(dev)
    else:
        labels = segments
        bound = math.prod(size)
        synchronised = options.validate or dev.type == "cpu"
    num_labels = _table_size(labels, bound, synchronised and not graphed)
    sal = weights = None
    if options.output == "hard":
        pass
    elif options.lam == "beta":
        weights = HF.region_beta(draws.region_key, num_labels, options.alpha)
    else:
        sal = _saliency_map(unit_range(images, options), saliency)
    maps = HF.mix_maps(
        labels,
        draws.partner,
        draws.region_key,
        num_labels,
        options.p_hard,
        saliency=sal,
        region_weights=weights,
        aggregate=options.aggregate,
        output=options.output,
        soft=draws.soft,
        kernels=options.kernels,
    )
    return HSMixParams(
        partner=draws.partner,
        mixed=maps.mixed,
        soft=draws.soft,
        segments=labels,
        selected=maps.selected,
        hard_mask=maps.hard_mask,
        soft_lambda=maps.soft_lambda,
    )


def _saliency_map(images: Tensor, saliency: Callable[[Tensor], Tensor]) -> Tensor:
    """``[B, *S]`` float32 saliency in [0, 1] of images already in [0, 1] (or uint8)."""
    # Saliency is defined on 8-bit data in fp32; never under autocast.
    with torch.autocast(images.device.type, enabled=False):
        sal = saliency(images)
    expected = (images.shape[0], 1, *images.shape[2:])
    if not isinstance(sal, Tensor) or sal.shape != expected:
        got = tuple(sal.shape) if isinstance(sal, Tensor) else type(sal).__name__
        layout = "[B, 1, D, H, W]" if images.ndim == 5 else "[B, 1, H, W]"
        raise ValueError(f"saliency must return a {layout}={expected} tensor, got {got}")
    return sal[:, 0].float().clamp(0.0, 1.0)
