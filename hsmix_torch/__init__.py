"""hsmix_torch: HSMix, hard and soft superpixel mixing for segmentation, batched in PyTorch."""

from __future__ import annotations

from .collate import HSMixCollate, SuperpixelCollate
from .dictionary import HSMixd
from .module import HSMix
from .options import HSMixOptions
from .params import HSMixParams
from .sampler import RandomDraws, draw
from .structure import BatchFields

__all__ = [
    "BatchFields",
    "HSMix",
    "HSMixCollate",
    "HSMixOptions",
    "HSMixParams",
    "HSMixd",
    "RandomDraws",
    "SuperpixelCollate",
    "draw",
]
__version__ = "0.6.0"
