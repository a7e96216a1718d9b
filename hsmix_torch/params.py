"""What one HSMix call sampled and derived, for inspection and exact replay."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

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
        superpixels: ``[B, *S]`` int64, the superpixel labels of each input image.
        selected: ``[B, R]`` bool, ``selected[i, k]``: superpixel ``k`` of the partner
            (``superpixels[partner[i]]``) is pasted onto ``i``; R bounds the labels.
        hard_mask: ``[B, *S]`` bool, ``M``: the partner's pixels pasted in the hard mix
            (the selected superpixels painted).
        soft_lambda: ``[B, *S]`` float32, ``L`` in ``[0, 1]``: the partner's weight in the
            soft mix (all zeros when no soft mix is produced).
    """

    partner: Tensor
    mixed: Tensor
    soft: Tensor | None
    superpixels: Tensor
    selected: Tensor
    hard_mask: Tensor
    soft_lambda: Tensor

    def to(self, device: torch.device | str) -> HSMixParams:
        """A copy with every tensor on ``device``."""
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return HSMixParams(**{k: None if v is None else v.to(device) for k, v in moved.items()})
