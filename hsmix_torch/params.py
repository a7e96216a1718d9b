"""What one HSMix call sampled and derived, for inspection and exact replay."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

__all__ = ["HSMixParams"]


@dataclass
class HSMixParams:
    """Everything :meth:`HSMix.apply` needs to reproduce a mix, for a batch of B images.

    Attributes:
        partner: ``[B]`` int64, the image each sample is mixed with (``partner[i] == i``
            leaves sample ``i`` unchanged).
        mixed: ``[B]`` bool, the draw of ``p`` (False: the sample was paired with itself).
        n_segments: ``[B]`` int64, the number of superpixels requested for each input image
            (the partner's is ``n_segments[partner]``); drawn but unused when the caller
            passes precomputed ``superpixels``.
        superpixels: ``[B, H, W]`` int64, the superpixel labels of each input image.
        hard_mask: ``[B, H, W]`` bool, ``M``: the partner's pixels pasted in the hard branch.
        soft_lambda: ``[B, H, W]`` float32, ``L`` in ``[0, 1]``: the partner's weight in the
            soft branch (all zeros when only the hard branch is produced).
    """

    partner: Tensor
    mixed: Tensor
    n_segments: Tensor
    superpixels: Tensor
    hard_mask: Tensor
    soft_lambda: Tensor

    def to(self, device: torch.device | str) -> HSMixParams:
        """A copy with every tensor on ``device``."""
        return HSMixParams(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})
