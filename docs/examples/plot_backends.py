"""
Superpixel backends compared
============================

The same images segmented by every backend that runs here, at the same ``n_segments``:
scikit-image's SLIC (the reference), the batched torch SLIC (the GPU default), fast-slic
(the CPU default, where installed) and the regular grid. The numbers are the superpixels
each made and their boundary recall of the masks.
"""

import matplotlib.pyplot as plt
import torch

from hsmix_torch.data import sample_batch
from hsmix_torch.metrics import superpixel_quality
from hsmix_torch.superpixels import available_backends, get_backend
from hsmix_torch.viz import draw_boundaries

images, masks = sample_batch(128, count=2)
names = [n for n in ("skimage", "torch", "fast_slic", "grid") if n in available_backends()]
n = torch.tensor([60, 60])
fig, axes = plt.subplots(len(images), len(names), figsize=(2.6 * len(names), 5.4))
for j, name in enumerate(names):
    labels = get_backend(name)(images, n)
    for i in range(len(images)):
        quality = superpixel_quality(labels[i], masks[i])
        axes[i, j].imshow(draw_boundaries(images[i], labels[i]))
        axes[i, j].set_title(
            f"{name}: {int(labels[i].max()) + 1} sp, BR {quality.boundary_recall:.2f}", fontsize=8
        )
        axes[i, j].axis("off")
fig.tight_layout()
