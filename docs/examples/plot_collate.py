"""
Mixing in DataLoader workers
============================

``SuperpixelCollate`` computes superpixels in the workers (the part that suits a CPU); the
module then mixes on the training device with ``segments=``. The same batch mixed by
``HSMixCollate`` entirely in the workers.
"""

import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader

from hsmix_torch import HSMix, HSMixCollate, SuperpixelCollate
from hsmix_torch.data import sample_batch
from hsmix_torch.viz import draw_boundaries, to_rgb

images, masks = sample_batch(96, count=2)
ds = [(images[i], masks[i], f"case{i}") for i in range(2)]
aug = HSMix(n_segments=(20, 40), num_classes=2, output="hard")
split = DataLoader(ds, batch_size=2, collate_fn=SuperpixelCollate(n_segments=(20, 40), seed=0))
x, y, names, labels = next(iter(split))
mixed, mixed_masks = aug(x, y, segments=labels, generator=torch.Generator().manual_seed(0))
whole = DataLoader(ds, batch_size=2, collate_fn=HSMixCollate(aug, seed=0))
in_workers, _, names2 = next(iter(whole))

fig, axes = plt.subplots(2, 3, figsize=(8, 5.4))
for i in range(2):
    for j, (title, picture) in enumerate(
        [(f"{names[i]}: the workers' superpixels", draw_boundaries(x[i], labels[i])),
         ("mixed on the device", to_rgb(mixed[i])), ("mixed in the workers", to_rgb(in_workers[i]))]
    ):  # fmt: skip
        axes[i, j].imshow(picture)
        axes[i, j].set_title(title, fontsize=8)
        axes[i, j].axis("off")
fig.tight_layout()
