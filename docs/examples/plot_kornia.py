"""
HSMix in a kornia pipeline
==========================

``RandomHSMix`` between kornia's own augmentations: B samples in, B out, each mixed hard or
soft (``output="either"``); integer label maps keep their labels (the partner's where its
weight is larger), never averaged.
"""

import kornia.augmentation as K
import matplotlib.pyplot as plt
import torch

from hsmix_torch.data import sample_batch
from hsmix_torch.kornia import RandomHSMix
from hsmix_torch.viz import overlay_mask

torch.manual_seed(4)  # kornia draws from the global generator
images, masks = sample_batch(96, count=2)
pipeline = K.AugmentationSequential(
    K.RandomHorizontalFlip(p=0.5),
    RandomHSMix(n_segments=(20, 40), p_hard=0.4, p_soft=0.5),
    data_keys=["input", "mask"],
)
x, y = pipeline(images, masks[:, None])
soft = pipeline._params[1].data["soft"].tolist()
fig, axes = plt.subplots(1, 4, figsize=(10, 2.8))
for i in range(2):
    axes[i].imshow(overlay_mask(images[i], masks[i]))
    axes[i].set_title(f"input {i}", fontsize=8)
    axes[2 + i].imshow(overlay_mask(x[i], y[i, 0].long()))
    axes[2 + i].set_title(f"output {i} ({'soft' if soft[i] else 'hard'})", fontsize=8)
for ax in axes:
    ax.axis("off")
fig.tight_layout()
