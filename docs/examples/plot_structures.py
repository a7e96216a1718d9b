"""
Batches as structures
=====================

HSMix takes the batch a pipeline has: here a dict with the image, a mask, the un-augmented
image kept for a consistency loss, and per-sample names. The image and mask are mixed, the
rest comes back aligned with the doubled batch (the kept image by its place, not mixed).
"""

import matplotlib.pyplot as plt
import torch

from hsmix_torch import HSMix
from hsmix_torch.data import sample_batch
from hsmix_torch.viz import overlay_mask, to_rgb

images, masks = sample_batch(96, count=2)
batch = {"image": images, "mask": masks, "orig": images, "name": ["ihc", "retina"]}
out = HSMix(n_segments=(20, 40), num_classes=2)(batch, generator=torch.Generator().manual_seed(2))
print({k: (tuple(v.shape) if torch.is_tensor(v) else v) for k, v in out.items()})

fig, axes = plt.subplots(2, 4, figsize=(10, 5.2))
for k in range(4):
    axes[0, k].imshow(overlay_mask(out["image"][k], out["mask"][k].argmax(0)))
    axes[0, k].set_title(f"image + mask [{k}]: {out['name'][k]}", fontsize=8)
    axes[1, k].imshow(to_rgb(out["orig"][k]))
    axes[1, k].set_title(f"orig [{k}] (kept)", fontsize=8)
for ax in axes.flat:
    ax.axis("off")
fig.tight_layout()
