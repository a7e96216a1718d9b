"""
Saliency maps
=============

The two OpenCV static saliency maps HSMix can weigh the soft mix with, computed as batched
tensor ops (bit for bit and to about 1e-7 of OpenCV on the 8-bit images), and the relative
saliency of each image's partner, from which L is made.
"""

import matplotlib.pyplot as plt
import torch

from hsmix_torch.data import sample_batch
from hsmix_torch.functional import relative_saliency
from hsmix_torch.saliency import fine_grained, spectral_residual
from hsmix_torch.viz import to_rgb

images, _ = sample_batch(128, count=2)
fine = fine_grained(images)[:, 0]
spectral = spectral_residual(images)[:, 0]
partner = torch.tensor([1, 0])
relative = relative_saliency(fine, fine[partner])
fig, axes = plt.subplots(2, 4, figsize=(10, 5.2))
for i in range(2):
    for j, (title, picture) in enumerate(
        [("image", to_rgb(images[i])), ("fine_grained", fine[i]),
         ("spectral_residual", spectral[i]), ("partner's relative saliency", relative[i])]
    ):  # fmt: skip
        axes[i, j].imshow(picture, cmap=None if j == 0 else "magma")
        axes[i, j].set_title(title, fontsize=8)
        axes[i, j].axis("off")
fig.tight_layout()
