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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from .kernels import Kernels, check_kernels, choose

__all__ = [
    "PAIRINGS",
    "RandomDraws",
    "draw",
    "region_beta",
    "region_uniforms",
    "segment_range",
]

PAIRINGS = ("derangement", "permutation")
_MASK32 = 0xFFFFFFFF


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


# ---------------------------------------------------------------- counter-based streams
def _mulmod32(x: Tensor, c: int) -> Tensor:
    """``(x * c) mod 2**32`` for int64 ``x`` in ``[0, 2**32)``, without int64 overflow."""
    lo = (x & 0xFFFF) * c
    hi = (((x >> 16) * c) & 0xFFFF) << 16
    return (lo + hi) & _MASK32


def _mix32(x: Tensor) -> Tensor:
    """A 32-bit integer hash with good avalanche (Wellons' "lowbias32"), in int64 tensors."""
    x = x ^ (x >> 16)
    x = _mulmod32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mulmod32(x, 0x846CA68B)
    return x ^ (x >> 16)


def _stream(key: Tensor, num_labels: int, stream: int) -> Tensor:
    """``[B, R]`` uniforms in ``(0, 1)`` (float32, 24 bits) of stream ``stream``."""
    labels = torch.arange(num_labels, device=key.device)
    h = _mix32(_mix32(_mix32(key.long())[:, None] ^ labels) ^ stream)
    return ((h >> 8).float() + 0.5) * 2.0**-24


def region_uniforms(key: Tensor, num_labels: int, *, kernels: Kernels = "auto") -> Tensor:
    """``[B, num_labels]`` float32 uniforms, one per superpixel label ``k`` of each sample.

    Args:
        key: ``[B]`` int64 keys in ``[0, 2**32)`` (:attr:`RandomDraws.region_key`).
        num_labels: how many labels to cover; the value of label ``k`` does not depend on it.
        kernels: ``"auto"`` (one Triton kernel on CUDA, torch ops elsewhere), ``"triton"``
            or ``"torch"`` (:mod:`hsmix_torch.kernels`); the same values either way.

    Example:
        >>> key = torch.tensor([7, 7, 8])
        >>> u = region_uniforms(key, 5)
        >>> torch.equal(u[0], u[1]), torch.equal(region_uniforms(key, 3), u[:, :3])
        (True, True)
    """
    if not isinstance(key, Tensor) or key.ndim != 1 or key.is_floating_point():
        got = f"{key.dtype} {tuple(key.shape)}" if isinstance(key, Tensor) else type(key).__name__
        raise ValueError(f"key must be an integer [B] tensor, got {got}")
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 0:
        raise ValueError(f"num_labels must be an int >= 0, got {num_labels!r}")

    def load() -> Callable[[Tensor, int], Tensor]:
        from .kernels.mixing_maps import region_uniforms as kernel

        return kernel

    uniforms = choose("region_uniforms", check_kernels(kernels), key.device, _uniforms, load)
    return uniforms(key, num_labels)


def _uniforms(key: Tensor, num_labels: int) -> Tensor:
    """:func:`region_uniforms` in torch ops (the reference of its Triton kernel)."""
    return _stream(key, num_labels, 0)


def region_beta(key: Tensor, num_labels: int, alpha: float, attempts: int = 12) -> Tensor:
    """``[B, num_labels]`` float32 ``Beta(alpha, alpha)`` weights per superpixel label.

    ``G1 / (G1 + G2)`` of two ``Gamma(alpha)`` variates, each by Marsaglia & Tsang's method
    on the counter-based streams of :func:`region_uniforms` (Box-Muller normals); for
    ``alpha < 1`` through ``Gamma(alpha + 1) * U**(1 / alpha)``. Each attempt is accepted
    with probability above 0.95, so ``attempts`` tries leave a rejected value with
    probability below ``0.05 ** attempts`` (then the last proposal is kept).
    """
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0, got {alpha!r}")
    shape = alpha + 1.0 if alpha < 1 else alpha
    d = shape - 1.0 / 3.0
    c = 1.0 / (9.0 * d) ** 0.5
    gammas = []
    for g in range(2):
        base = 1 + g * (3 * attempts + 1)  # disjoint streams per gamma variate
        value = torch.zeros((key.shape[0], num_labels), dtype=torch.float64, device=key.device)
        done = torch.zeros_like(value, dtype=torch.bool)
        for t in range(attempts):
            u1, u2, u3 = (_stream(key, num_labels, base + 3 * t + i).double() for i in range(3))
            z = torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * torch.pi * u2)
            v = (1.0 + c * z) ** 3
            ok = (v > 0) & (
                torch.log(u3) < 0.5 * z * z + d - d * v + d * torch.log(v.clamp(min=1e-300))
            )
            take = ~done & (ok | (t == attempts - 1))
            value = torch.where(take, d * v.clamp(min=0), value)
            done |= take
        if alpha < 1:
            u = _stream(key, num_labels, base + 3 * attempts).double()
            value = value * u ** (1.0 / alpha)
        gammas.append(value)
    total = (gammas[0] + gammas[1]).clamp(min=torch.finfo(torch.float64).tiny)
    return (gammas[0] / total).float()


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
