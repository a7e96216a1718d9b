"""Counter-based streams: per-superpixel uniforms and Beta weights from a per-sample key.

Each sample of a mix draws one 32-bit key (:func:`hsmix_torch.sampler.draw`); the value of
superpixel ``k`` is a hash of ``(key, k)``, so it depends neither on the device nor on the
size of the label table.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._checks import check_int, check_number
from .._constants import MASK32

__all__ = ["region_beta", "region_uniforms"]


def _mulmod32(x: Tensor, c: int) -> Tensor:
    """``(x * c) mod 2**32`` for int64 ``x`` in ``[0, 2**32)``, without int64 overflow."""
    lo = (x & 0xFFFF) * c
    hi = (((x >> 16) * c) & 0xFFFF) << 16
    return (lo + hi) & MASK32


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


def region_uniforms(key: Tensor, num_labels: int) -> Tensor:
    """``[B, num_labels]`` float32 uniforms in ``(0, 1)``, one per superpixel label ``k`` of
    each sample (the Triton maps of a mix compute the same hash inline).

    Args:
        key: ``[B]`` int64 keys in ``[0, 2**32)`` (:attr:`RandomDraws.region_key`).
        num_labels: how many labels to cover; the value of label ``k`` does not depend on it.

    Returns:
        ``[B, num_labels]`` float32 in ``(0, 1)``.

    Raises:
        TypeError: ``key`` not an integer tensor, ``num_labels`` not an int.
        ValueError: ``key`` not ``[B]``, ``num_labels`` < 0.

    Example:
        >>> key = torch.tensor([7, 7, 8])
        >>> u = region_uniforms(key, 5)
        >>> torch.equal(u[0], u[1]), torch.equal(region_uniforms(key, 3), u[:, :3])
        (True, True)
    """
    _check_key(key, num_labels)
    return _stream(key, num_labels, 0)


def _check_key(key: object, num_labels: object) -> None:
    """The arguments the streams share: an integer ``[B]`` key, an int ``num_labels >= 0``."""
    if not isinstance(key, Tensor):
        raise TypeError(f"key must be a torch.Tensor, got {type(key).__name__}")
    if key.is_floating_point() or key.is_complex() or key.dtype == torch.bool:
        raise TypeError(f"key must be an integer tensor, got {key.dtype}")
    if key.ndim != 1:
        raise ValueError(f"key must have shape [B], got {tuple(key.shape)}")
    check_int(num_labels, "num_labels", minimum=0)


def region_beta(key: Tensor, num_labels: int, alpha: float, attempts: int = 12) -> Tensor:
    """``[B, num_labels]`` float32 ``Beta(alpha, alpha)`` weights per superpixel label.

    ``G1 / (G1 + G2)`` of two ``Gamma(alpha)`` variates, each by Marsaglia & Tsang's method
    on the counter-based streams of :func:`region_uniforms` (Box-Muller normals); for
    ``alpha < 1`` through ``Gamma(alpha + 1) * U**(1 / alpha)``. Each attempt is accepted
    with probability above 0.95, so ``attempts`` tries leave a rejected value with
    probability below ``0.05 ** attempts`` (then the last proposal is kept).

    Args:
        key: ``[B]`` int64 keys, as for :func:`region_uniforms`.
        num_labels: how many labels to cover.
        alpha: the Beta distribution's parameter (> 0).
        attempts: the rejection sampler's tries per variate.

    Returns:
        ``[B, num_labels]`` float32 in ``[0, 1]``.

    Raises:
        TypeError, ValueError: as :func:`region_uniforms`, and ``alpha`` not a number > 0.
    """
    _check_key(key, num_labels)
    alpha = check_number(alpha, "alpha", positive=True)
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
