"""Every random draw of HSMix, from one optional ``torch.Generator``, in a fixed order.

:func:`draw` takes a fixed number of values of fixed sizes from the generator (all of
shape ``[B]``), whatever the device, the superpixel backend or the number of superpixels:
so the same seed gives the same draws everywhere, and ``torch.compile`` sees static sizes.
The per-superpixel values (paste or not, Beta weights) are not drawn one by one: each
sample draws one 32-bit key, and the value of superpixel ``k`` is a counter-based hash of
``(key, k)`` (:func:`region_uniforms`, :func:`region_beta`). They are a pure function of
the key and the label, whatever size of label table a device uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ._checks import check_choice, check_generator, check_int, check_probability, segment_range
from .functional.streams import region_beta, region_uniforms
from .options import PAIRINGS, HSMixOptions

__all__ = [
    "PAIRINGS",
    "RandomDraws",
    "draw",
    "draw_for",
    "region_beta",
    "region_uniforms",
    "segment_counts",
]

# The per-superpixel values are deterministic functions of a key: they live with the
# torch-ops references and are re-exported here, beside the draws that make the keys.


@dataclass
class RandomDraws:
    """The random part of an HSMix call for a batch of B images.

    Attributes:
        partner: ``[B]`` int64, the image each sample is mixed with (``partner[i] == i``:
            not mixed, by the draw of ``p``).
        n_segments: ``[B]`` int64, the superpixel count asked of the backend per image.
        soft: ``[B]`` bool, True where a sample gets the soft mix (``output="either"``),
            else None.
        region_key: ``[B]`` int64 in ``[0, 2**32)``, the key of each sample's
            per-superpixel values (see :func:`region_uniforms`).
    """

    partner: Tensor
    n_segments: Tensor
    soft: Tensor | None
    region_key: Tensor


def draw(
    batch_size: int,
    *,
    n_segments: int | tuple[int, int],
    p: float = 1.0,
    pairing: Literal["derangement", "permutation"] = "derangement",
    p_soft: float | None = None,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> RandomDraws:
    """Draw the random part of HSMix, in this order: ``p`` per sample, the pairing, the
    superpixel counts, the soft/hard choice (when ``p_soft`` is given), the region keys.

    Args:
        batch_size: B >= 0.
        n_segments: an int, or an inclusive ``(n_min, n_max)`` range drawn per image.
        p: probability that a sample is mixed at all.
        pairing: ``"derangement"``: the batch in a random order, each image paired with the
            next one in that order (a random cycle: nobody is paired with itself when
            B >= 2, every image is used as a partner once); ``"permutation"``: the
            published scripts' random permutation (fixed points stay unmixed).
        p_soft: for ``output="either"``, the probability of the soft mix per sample.
        device: where to draw; ``generator``, if given, must live there.
        generator: the source of randomness; the device's default generator when None.

    Returns:
        The :class:`RandomDraws` of a batch of ``batch_size``.

    Raises:
        TypeError: an argument of the wrong type (a ``generator`` that is no
            ``torch.Generator``).
        ValueError: an argument out of range, a generator on another device.
    """
    check_int(batch_size, "batch_size", minimum=0)
    n_range = segment_range(n_segments)
    check_probability(p, "p")
    check_choice(pairing, "pairing", PAIRINGS)
    if p_soft is not None:
        check_probability(p_soft, "p_soft")
    dev = torch.device(device)
    return _draw(batch_size, n_range, p, pairing, p_soft, dev, check_generator(generator, dev))


def segment_counts(
    batch_size: int,
    n_segments: tuple[int, int],
    device: torch.device,
    generator: torch.Generator | None,
) -> Tensor:
    """Superpixel counts drawn uniformly from an inclusive range: the counts of
    :func:`draw`, and of the workers' superpixels (:class:`~hsmix_torch.SuperpixelCollate`).

    Args:
        batch_size: B.
        n_segments: the inclusive ``(min, max)``, checked by the caller.
        device: where to draw.
        generator: the source of randomness, on ``device`` (None: the default one).

    Returns:
        ``[B]`` int64 counts.
    """
    lo, hi = n_segments
    return torch.randint(lo, hi + 1, (batch_size,), device=device, generator=generator)


def _draw(
    b: int,
    n_segments: tuple[int, int],
    p: float,
    pairing: str,
    p_soft: float | None,
    device: torch.device,
    generator: torch.Generator | None,
) -> RandomDraws:
    """:func:`draw` on checked arguments (the options of an HSMix were checked once)."""
    kw = {"device": device, "generator": generator}
    identity = torch.arange(b, device=device)
    mixed = torch.rand(b, **kw) < p
    order = torch.randperm(b, **kw)
    if pairing == "derangement":
        # order[t] is paired with order[t + 1]: one cycle through the whole batch.
        partner = torch.empty_like(order).scatter_(0, order, order.roll(-1))
    else:
        partner = order
    partner = torch.where(mixed, partner, identity)
    counts = segment_counts(b, n_segments, device, generator)
    soft = None if p_soft is None else torch.rand(b, **kw) < p_soft
    key = torch.randint(0, 2**32, (b,), **kw)
    return RandomDraws(partner=partner, n_segments=counts, soft=soft, region_key=key)


def draw_for(
    images: Tensor, options: HSMixOptions, generator: torch.Generator | None
) -> RandomDraws:
    """:func:`draw` for a batch of ``images`` with HSMix's ``options`` (checked when the
    module was made), on the images' device.

    Args:
        images: ``[B, C, *S]``, checked by the caller.
        options: the module's options.
        generator: the source of randomness, on the images' device, or None.

    Returns:
        The :class:`RandomDraws` of the batch.

    Raises:
        TypeError: a ``generator`` that is no ``torch.Generator``.
        ValueError: a generator on another device.
    """
    return _draw(
        images.shape[0],
        options.n_segments,
        options.p,
        options.pairing,
        options.p_soft if options.output == "either" else None,
        images.device,
        check_generator(generator, images.device),
    )
