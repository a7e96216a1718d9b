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

from .functional.streams import region_beta, region_uniforms

__all__ = [
    "PAIRINGS",
    "RandomDraws",
    "draw",
    "region_beta",
    "region_uniforms",
    "segment_range",
]

# The per-superpixel values are deterministic functions of a key: they live with the
# torch-ops references and are re-exported here, beside the draws that make the keys.

PAIRINGS = ("derangement", "permutation")


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
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 0:
        raise ValueError(f"batch_size must be an int >= 0, got {batch_size!r}")
    n_min, n_max = segment_range(n_segments)
    check_probability(p, "p")
    if pairing not in PAIRINGS:
        raise ValueError(f"pairing must be one of {PAIRINGS}, got {pairing!r}")
    if p_soft is not None:
        check_probability(p_soft, "p_soft")
    kw = {"device": device, "generator": generator}
    b = batch_size
    identity = torch.arange(b, device=device)
    mixed = torch.rand(b, **kw) < p
    order = torch.randperm(b, **kw)
    if pairing == "derangement":
        # order[t] is paired with order[t + 1]: one cycle through the whole batch.
        partner = torch.empty_like(order).scatter_(0, order, order.roll(-1))
    else:
        partner = order
    partner = torch.where(mixed, partner, identity)
    counts = torch.randint(n_min, n_max + 1, (b,), **kw)
    soft = None if p_soft is None else torch.rand(b, **kw) < p_soft
    key = torch.randint(0, 2**32, (b,), **kw)
    return RandomDraws(partner=partner, n_segments=counts, soft=soft, region_key=key)


def check_probability(value: float, name: str) -> float:
    """``value`` as a float in ``[0, 1]``, or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def segment_range(n_segments: int | tuple[int, int]) -> tuple[int, int]:
    """Validate ``n_segments`` (an int, or an inclusive ``(min, max)`` pair) as ``(min, max)``."""
    if isinstance(n_segments, bool):
        raise TypeError("n_segments must be an int or a (min, max) pair of ints, got a bool")
    if isinstance(n_segments, int):
        lo = hi = n_segments
    elif (
        isinstance(n_segments, (tuple, list))
        and len(n_segments) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in n_segments)
    ):
        lo, hi = n_segments
    else:
        raise TypeError(
            f"n_segments must be an int or a (min, max) pair of ints, got {n_segments!r}"
        )
    if not 1 <= lo <= hi:
        raise ValueError(f"n_segments must satisfy 1 <= min <= max, got {n_segments!r}")
    return lo, hi
