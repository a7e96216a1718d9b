"""What one HSMix call sampled and derived, for inspection and exact replay."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from ._checks import caller_level

__all__ = ["HSMixParams"]


@dataclass
class HSMixParams:
    """Everything :meth:`HSMix.mix` needs to reproduce a mix, for a batch of B images (S:
    their spatial axes, ``(H, W)`` or ``(D, H, W)`` for volumes).

    Attributes:
        partner: ``[B]`` int64, the image each sample is mixed with (``partner[i] == i``:
            not mixed).
        mixed: ``[B]`` bool, True where an output of sample ``i`` takes pixels of its
            partner (False where it comes back unchanged).
        soft: ``[B]`` bool, True where a sample gets the soft mix (``output="either"``);
            None for the other outputs.
        segments: ``[B, *S]`` int64, the superpixel labels of each input image (named
            ``superpixels`` before 0.6).
        selected: ``[B, R]`` bool, ``selected[i, k]``: superpixel ``k`` of the partner
            (``segments[partner[i]]``) is pasted onto ``i``; R bounds the labels.
        hard_mask: ``[B, *S]`` bool, ``M``: the partner's pixels pasted in the hard mix
            (the selected superpixels painted).
        soft_lambda: ``[B, *S]`` float32, ``L`` in ``[0, 1]``: the partner's weight in the
            soft mix (all zeros when no soft mix is produced).
    """

    partner: Tensor
    mixed: Tensor
    soft: Tensor | None
    segments: Tensor
    selected: Tensor
    hard_mask: Tensor
    soft_lambda: Tensor

    @property
    def superpixels(self) -> Tensor:
        """The old name of :attr:`segments` (a FutureWarning; gone in 0.7)."""
        warnings.warn(
            "HSMixParams.superpixels is named segments since 0.6; superpixels goes in 0.7",
            FutureWarning,
            stacklevel=caller_level(),
        )
        return self.segments

    def to(self, device: torch.device | str) -> HSMixParams:
        """A copy with every tensor on ``device``.

        Args:
            device: where the copy lives.

        Returns:
            The params on ``device``.
        """
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return HSMixParams(**{k: None if v is None else v.to(device) for k, v in moved.items()})
