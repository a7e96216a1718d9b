"""Every random draw of HSMix, from one optional ``torch.Generator``, in a fixed order."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["RandomDraws", "draw", "draw_pairs", "draw_regions", "segment_range"]


@dataclass
class RandomDraws:
    """The random part of an HSMix call for a batch of B images.

    Attributes:
        partner: ``[B]`` int64, a random permutation where ``mixed``, the identity elsewhere.
        mixed: ``[B]`` bool, True with probability ``p``.
        n_segments: ``[B]`` int64, uniform in ``[n_min, n_max]``.
        select_uniform: ``[B, K]`` float32 uniforms, one per possible superpixel label of the
            partner (K bounds the labels): label ``k`` is pasted when
            ``select_uniform[b, k] < p_hard``.
        beta_lambda: ``[B, K]`` float32 ``Beta(alpha, alpha)`` weights per partner label
            (``lam="beta"``), else None.
    """

    partner: Tensor
    mixed: Tensor
    n_segments: Tensor
    select_uniform: Tensor
    beta_lambda: Tensor | None


def draw(
    batch_size: int,
    num_labels: int,
    *,
    n_segments: int | tuple[int, int],
    p: float,
    beta_alpha: float | None,
    device: torch.device,
    generator: torch.Generator | None = None,
) -> RandomDraws:
    """Draw the random part of HSMix: :func:`draw_pairs`, then :func:`draw_regions`.

    HSMix makes the same two calls with its superpixels computed in between (no backend
    draws random numbers), so for the same generator state and ``num_labels`` this gives
    exactly the draws of a forward pass.

    Args:
        batch_size: B.
        num_labels: bound on superpixel labels per image: HSMix uses the largest label + 1
            on the CPU and H * W on other devices (reading the maximum would synchronise).
        n_segments: an int, or inclusive ``(n_min, n_max)``.
        p: probability that a sample is mixed at all.
        beta_alpha: draw per-label ``Beta(alpha, alpha)`` weights when not None.
        device: where to draw; ``generator``, if given, must live there.
        generator: the source of randomness; the device's default generator when None.
    """
    partner, mixed, counts = draw_pairs(
        batch_size, n_segments=n_segments, p=p, device=device, generator=generator
    )
    select_uniform, beta_lambda = draw_regions(
        batch_size, num_labels, beta_alpha=beta_alpha, device=device, generator=generator
    )
    return RandomDraws(partner, mixed, counts, select_uniform, beta_lambda)


def draw_pairs(
    batch_size: int,
    *,
    n_segments: int | tuple[int, int],
    p: float,
    device: torch.device,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """The per-sample draws: ``(partner, mixed, n_segments)``, see :class:`RandomDraws`."""
    if batch_size < 0:
        raise ValueError(f"batch_size must be >= 0, got {batch_size}")
    n_min, n_max = segment_range(n_segments)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    kw = {"device": device, "generator": generator}
    mixed = torch.rand(batch_size, **kw) < p
    perm = torch.randperm(batch_size, **kw)
    partner = torch.where(mixed, perm, torch.arange(batch_size, device=device))
    counts = torch.randint(n_min, n_max + 1, (batch_size,), **kw)
    return partner, mixed, counts


def draw_regions(
    batch_size: int,
    num_labels: int,
    *,
    beta_alpha: float | None,
    device: torch.device,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor | None]:
    """The per-superpixel draws: ``(select_uniform, beta_lambda)``, each ``[B, num_labels]``
    (``beta_lambda`` None unless ``beta_alpha`` is given), see :class:`RandomDraws`.

    Drawn after the superpixels, so that on the CPU they are sized by the labels actually
    present rather than by the pixel count.
    """
    if batch_size < 0 or num_labels < 1:
        raise ValueError(
            f"batch_size must be >= 0 and num_labels >= 1, got {batch_size} and {num_labels}"
        )
    if beta_alpha is not None and not beta_alpha > 0:
        raise ValueError(f"beta_alpha must be > 0 or None, got {beta_alpha!r}")
    kw = {"device": device, "generator": generator}
    select_uniform = torch.rand(batch_size, num_labels, **kw)
    if beta_alpha is None:
        return select_uniform, None
    conc = torch.full((2, batch_size, num_labels), float(beta_alpha), device=device)
    gammas = torch._standard_gamma(conc, generator=generator)
    tiny = torch.finfo(torch.float32).tiny
    return select_uniform, gammas[0] / (gammas[0] + gammas[1]).clamp(min=tiny)


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
