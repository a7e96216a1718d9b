"""Pure batched kernels of HSMix: no randomness, no module state, any device.

Region reductions and selections (``regions``), soft-mixing weight maps (``lam``), hard and
soft mixing (``mixing``) and mask layouts (``masks``).
"""

from __future__ import annotations

from .lam import relative_saliency, saliency_lambda
from .masks import one_hot
from .mixing import hard_mix, soft_mix
from .regions import (
    composite_regions,
    minmax_normalize,
    paint_regions,
    region_reduce,
    single_region,
    superpixel_mask,
)

__all__ = [
    "composite_regions",
    "hard_mix",
    "minmax_normalize",
    "one_hot",
    "paint_regions",
    "region_reduce",
    "relative_saliency",
    "saliency_lambda",
    "single_region",
    "soft_mix",
    "superpixel_mask",
]
