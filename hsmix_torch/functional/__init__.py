"""Pure batched kernels of HSMix: no randomness, no module state, any device.

Region reductions and selections (``regions``), soft-mixing weight maps (``lam``), hard and
soft mixing (``mixing``), mask layouts (``masks``) and per-image rescaling (``intensity``).
Every kernel takes any number of spatial axes ``S``: images ``[B, H, W]`` and volumes
``[B, D, H, W]`` alike (the region, weight-map and mixing kernels flatten them; tested).
"""

from __future__ import annotations

from .intensity import minmax_rescale
from .lam import relative_saliency, saliency_lambda, soft_lambda
from .masks import MaskLayout, one_hot, prepare_mask, restore_mask
from .mixing import hard_mix, soft_mix
from .regions import (
    composite_regions,
    fixed_point_sums,
    minmax_normalize,
    paint_regions,
    region_reduce,
    single_region,
    superpixel_mask,
)

__all__ = [
    "MaskLayout",
    "composite_regions",
    "fixed_point_sums",
    "hard_mix",
    "minmax_normalize",
    "minmax_rescale",
    "one_hot",
    "paint_regions",
    "prepare_mask",
    "region_reduce",
    "relative_saliency",
    "restore_mask",
    "saliency_lambda",
    "single_region",
    "soft_lambda",
    "soft_mix",
    "superpixel_mask",
]
