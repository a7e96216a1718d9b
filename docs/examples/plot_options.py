"""
The options side by side
========================

What each option of HSMix changes, drawn on one pair of the built-in samples. These are
the pictures of the options page.
"""

import matplotlib.pyplot as plt
import torch

from hsmix_torch import HSMix
from hsmix_torch.data import sample_batch
from hsmix_torch.saliency import fine_grained, spectral_residual
from hsmix_torch.viz import draw_boundaries, foreground, to_rgb

images, masks = sample_batch(96, count=2)


def run(seed=0, **options):
    aug = HSMix(num_classes=2, **options)
    g = torch.Generator().manual_seed(seed)
    return aug(images, masks, generator=g, return_params=True)


def row(axes, panels):
    for ax, (title, picture) in zip(axes, panels, strict=True):
        ax.imshow(picture, cmap="magma" if picture.ndim == 2 else None)
        ax.set_title(title, fontsize=8)
        ax.axis("off")


# %%
# ``n_segments`` and ``superpixels``: the superpixels of the partner and the pasted set M.
fig, axes = plt.subplots(2, 3, figsize=(8, 5.4))
panels = []
for n in (10, 40, 160):
    out, _, p = run(n_segments=n, p_hard=0.4, output="hard")
    panels.append((f"n_segments={n}", draw_boundaries(out[0], p.segments[p.partner[0]])))
row(axes[0], panels)
panels = []
for name in ("grid", "skimage", "torch"):
    out, _, p = run(n_segments=40, p_hard=0.4, output="hard", superpixels=name)
    panels.append((f"superpixels={name!r}", draw_boundaries(out[0], p.segments[p.partner[0]])))
row(axes[1], panels)
fig.tight_layout()

# %%
# ``p_hard``: the probability of pasting each partner superpixel.
fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
row(
    axes,
    [
        (f"p_hard={v}", to_rgb(run(p_hard=v, n_segments=40, output="hard")[0][0]))
        for v in (0.1, 0.3, 0.6)
    ],
)
fig.tight_layout()

# %%
# ``lam``, ``aggregate`` and ``saliency``: the soft weight L, and the two saliency maps.
fig, axes = plt.subplots(1, 5, figsize=(11, 2.6))
panels = [
    (f"L, {kw}", run(n_segments=40, output="soft", **dict([kw]))[2].soft_lambda[0].numpy())
    for kw in (("aggregate", "sum"), ("aggregate", "mean"), ("lam", "beta"))
]
panels += [
    ("fine_grained", fine_grained(images)[0, 0].numpy()),
    ("spectral_residual", spectral_residual(images)[0, 0].numpy()),
]
row(axes, panels)
fig.tight_layout()

# %%
# ``output`` and ``targets``: the masks each output returns (the foreground probability of
# soft targets; labels where ``targets="labels"``).
fig, axes = plt.subplots(1, 5, figsize=(11, 2.6))
panels = []
for output in ("both", "hard", "soft", "either"):
    _, m, _ = run(n_segments=40, output=output)
    panels.append((f"output={output!r}", foreground(m[-1])))
_, labels, _ = run(n_segments=40, output="soft", targets="labels")
panels.append(("targets='labels'", foreground(labels[0])))
row(axes, panels)
fig.tight_layout()

# %%
# ``pairing`` and ``p``: whom each sample is mixed with, over 200 draws of a batch of 4
# (a derangement never pairs a sample with itself; the permutation and ``p < 1`` do).
fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
big = torch.rand(4, 1, 8, 8)
pairings = [("derangement", {}), ("permutation", {"pairing": "permutation"}), ("p=0.5", {"p": 0.5})]
for ax, (title, options) in zip(axes, pairings, strict=True):
    counts = torch.zeros(4, 4)
    aug = HSMix(n_segments=2, superpixels="grid", **options)
    for seed in range(200):
        p = aug.make_params(big, generator=torch.Generator().manual_seed(seed))
        counts[torch.arange(4), p.partner] += 1
    ax.imshow(counts, cmap="Blues")
    ax.set_title(f"{title}: sample -> partner", fontsize=8)
    ax.set_xlabel("partner")
    ax.set_ylabel("sample")
fig.tight_layout()
