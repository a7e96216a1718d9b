"""
Volumes: three orthogonal slices
================================

HSMix mixes volumes ``[B, C, D, H, W]`` with supervoxels: M is a union of whole partner
supervoxels, L constant on each composite region. Each row cuts a sample through the pasted
set along the three axes.
"""

import torch

from hsmix_torch import HSMix
from hsmix_torch.data import sample_volumes
from hsmix_torch.viz import plot_volume_mix

volumes, labels = sample_volumes(32, count=2)
aug = HSMix(n_segments=(40, 80), num_classes=3, superpixels="torch", spacing=(2.0, 1.0, 1.0))
g = torch.Generator().manual_seed(0)
mixed, mixed_masks, params = aug(volumes, labels, generator=g, return_params=True)
b = volumes.shape[0]
plot_volume_mix(volumes, labels, params, mixed[:b], mixed_masks[:b], mixed[b:], mixed_masks[b:])
