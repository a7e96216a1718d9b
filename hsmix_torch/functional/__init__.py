"""Pure batched kernels of HSMix: no randomness, no module state, any device.

Region reductions and selections (``regions``), soft-mixing weight maps (``weights``),
per-superpixel hash streams (``streams``), the maps of a mix (``maps``), hard and soft
mixing (``mixing``), mask layouts (``masks``) and per-image rescaling (``intensity``).
Every kernel takes any number of spatial axes ``S``: images ``[B, H, W]`` and volumes
``[B, D, H, W]`` alike (the region, weight-map and mixing kernels flatten them; tested).
"""

from __future__ import annotations

from .intensity import minmax_rescale
from .maps import MixMaps, mix_maps
from .masks import MaskLayout, one_hot, prepare_mask, restore_mask
from .mixing import hard_mix, mix_batch, mix_classes, soft_mix
from .regions import (
    composite_regions,
    fixed_point_sums,
    minmax_normalize,
    paint_regions,
    region_reduce,
    single_region,
    superpixel_mask,
)
from .streams import region_beta, region_uniforms
from .weights import relative_saliency, saliency_lambda, soft_lambda

__all__ = [
    "MaskLayout",
    "MixMaps",
    "composite_regions",
    "fixed_point_sums",
    "hard_mix",
    "minmax_normalize",
    "minmax_rescale",
    "mix_batch",
    "mix_classes",
    "mix_maps",
    "one_hot",
    "paint_regions",
    "prepare_mask",
    "region_beta",
    "region_reduce",
    "region_uniforms",
    "relative_saliency",
    "restore_mask",
    "saliency_lambda",
    "single_region",
    "soft_lambda",
    "soft_mix",
    "superpixel_mask",
]
