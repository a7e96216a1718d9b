"""The maps of a mix from its draws and the image content: the pasted set, ``M`` and ``L``.

:func:`mix_maps` is the deterministic half of a mix: given each image's superpixels, the
pairing and the per-sample keys of :func:`hsmix_torch.sampler.draw`, and the saliency maps
(or per-superpixel weights), it derives every map the mixing needs. The Triton kernels of
:mod:`hsmix_torch.kernels.mixing_maps` equal it exactly (``kernels=``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from .._checks import check_choice
from .._constants import OUTPUTS, Output
from ..kernels import Kernels, check_kernels, choose
from .regions import paint_regions, single_region, superpixel_mask
from .streams import region_uniforms
from .weights import soft_lambda

__all__ = ["MixMaps", "mix_maps"]


class MixMaps(NamedTuple):
    """The maps of a mix of B images with spatial axes S.

    Attributes:
        selected: ``[B, R]`` bool, the partner's superpixels pasted onto each sample.
        hard_mask: ``[B, *S]`` bool ``M``: the pasted superpixels painted.
        soft_lambda: ``[B, *S]`` float32 ``L`` in ``[0, 1]``: the partner's soft weight.
        mixed: ``[B]`` bool, where an output of the sample takes pixels of its partner.
    """

    selected: Tensor
    hard_mask: Tensor
    soft_lambda: Tensor
    mixed: Tensor


def mix_maps(
    labels: Tensor,
    partner: Tensor,
    key: Tensor,
    num_labels: int,
    p_hard: float,
    *,
    saliency: Tensor | None = None,
    region_weights: Tensor | None = None,
    aggregate: Literal["sum", "mean"] = "sum",
    output: Output = "both",
    soft: Tensor | None = None,
    kernels: Kernels = "auto",
) -> MixMaps:
    """The maps of a mix: which superpixels of each partner are pasted, ``M`` and ``L``.

    A pair mixes unless it is an image with itself or the partner has one superpixel only.
    Superpixel ``k`` of sample ``i``'s partner is pasted when the counter-based uniform of
    ``(key[i], k)`` is below ``p_hard``. ``L`` is the published relative-saliency weight of
    the composite superpixels (``saliency``), or the partner's per-superpixel
    ``region_weights`` painted (the older scripts' Beta weights), or 0 for
    ``output="hard"``.

    Args:
        labels: ``[B, *S]`` integer superpixels of each image, in ``[0, num_labels)``.
        partner: ``[B]`` int64, the image each sample is mixed with.
        key: ``[B]`` int64 keys of the per-superpixel uniforms (``RandomDraws.region_key``).
        num_labels: label slots per image (a bound of the labels).
        p_hard: the paste probability per superpixel.
        saliency: ``[B, *S]`` float32 saliency of each image, in ``[0, 1]``.
        region_weights: ``[B, num_labels]`` float32 soft weights per partner superpixel.
        aggregate: ``"sum"`` (published) or ``"mean"`` of relative saliency per region.
        output: what the maps are for (``"hard"`` needs no ``L``).
        soft: ``[B]`` bool, the soft mix per sample, for ``output="either"``.
        kernels: ``"auto"`` (Triton kernels on CUDA for the saliency and hard maps, torch
            ops elsewhere), ``"triton"`` or ``"torch"`` (:mod:`hsmix_torch.kernels`); the
            same maps either way.

    Returns:
        The :class:`MixMaps`.

    Raises:
        TypeError: ``output`` or ``kernels`` not a string.
        ValueError: an unknown ``output``; neither or both of ``saliency`` and
            ``region_weights`` for a soft map; ``soft`` given other than for ``"either"``.
    """
    check_choice(output, "output", OUTPUTS)
    if output != "hard" and (saliency is None) == (region_weights is None):
        raise ValueError("give saliency or region_weights (exactly one) for a soft map")
    if (output == "either") != (soft is not None):
        raise ValueError('soft must be given exactly when output="either"')
    args = (labels, partner, key, num_labels, p_hard, saliency, region_weights, aggregate)

    def load() -> Callable[..., tuple[Tensor, Tensor, Tensor, Tensor]]:
        from ..kernels.mixing_maps import mix_maps as kernel

        return kernel

    use_kernel = output == "hard" or region_weights is None
    fn = choose("mix_maps", check_kernels(kernels) if use_kernel else "torch", labels.device,
                _mix_maps, load)  # fmt: skip
    return MixMaps(*fn(*args, output, soft))


def _mix_maps(
    labels: Tensor,
    partner: Tensor,
    key: Tensor,
    num_labels: int,
    p_hard: float,
    saliency: Tensor | None,
    region_weights: Tensor | None,
    aggregate: str,
    output: str,
    soft: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """:func:`mix_maps` in torch ops (the reference of its Triton kernels)."""
    b, *size = labels.shape
    labels = labels.long()
    labels_b = labels.index_select(0, partner)
    active = (partner != torch.arange(b, device=labels.device)) & ~single_region(labels_b)
    selected = (region_uniforms(key, num_labels) < p_hard) & active[:, None]
    hard_mask = superpixel_mask(labels_b, selected)
    if output == "hard":
        lam = torch.zeros((b, *size), dtype=torch.float32, device=labels.device)
    elif region_weights is not None:
        lam = paint_regions(region_weights.float(), labels_b)
    else:
        lam = soft_lambda(saliency, labels, partner, hard_mask, num_labels, aggregate,
                          partner_labels=labels_b)  # fmt: skip
    lam = torch.where(active.view(b, *[1] * len(size)), lam, 0.0)
    hard_changed = hard_mask.reshape(b, -1).any(1)
    soft_changed = (lam.reshape(b, -1) > 0).any(1)
    if output == "either":
        mixed = torch.where(soft, soft_changed, hard_changed)
    elif output == "both":
        mixed = hard_changed | soft_changed
    else:
        mixed = hard_changed if output == "hard" else soft_changed
    return selected, hard_mask, lam, mixed
