"""
Hard and soft mix
=================

One call gives both branches of HSMix (``output="both"``): the hard batch, where a random
set M of the partner's superpixels is pasted onto each image and its mask, then the soft
batch, where the two images are blended with the weight L of the partner's relative
saliency per composite region. The masks follow the same maps.
"""

import torch

from hsmix_torch import HSMix
from hsmix_torch.data import sample_batch
from hsmix_torch.saliency import fine_grained
from hsmix_torch.viz import plot_mix

images, masks = sample_batch(128, count=2)
aug = HSMix(n_segments=(30, 50), p_hard=0.3, num_classes=2)
g = torch.Generator().manual_seed(1)
mixed, mixed_masks, params = aug(images, masks, generator=g, return_params=True)
b = images.shape[0]
print(f"partners {params.partner.tolist()}, pasted {params.selected.sum(1).tolist()}")

# %%
# Per row: the image A, its partner B, both superpixel maps (M outlined), the hard mix and
# its mask, A's saliency, L, and the soft mix with its soft mask.
plot_mix(
    images,
    masks,
    params,
    mixed[:b],
    mixed_masks[:b],
    mixed[b:],
    mixed_masks[b:],
    saliency=fine_grained(images),
)
