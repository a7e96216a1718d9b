"""Pictures of what HSMix does: superpixel boundaries, mask overlays, maps, and a grid."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .params import HSMixParams

__all__ = ["boundaries", "draw_boundaries", "foreground", "overlay_mask", "plot_mix", "to_rgb"]


def to_rgb(image: Tensor) -> np.ndarray:
    """``[C, H, W]`` (float in [0, 1] or uint8) -> ``H x W x 3`` float array in [0, 1].

    Grey is repeated; images with other than 1 or 3 channels show their channel mean.
    """
    x = image.detach().float().cpu()
    if image.dtype == torch.uint8:
        x = x / 255
    if x.shape[0] != 3:
        x = x.mean(0, keepdim=True).expand(3, -1, -1)
    return x.clamp(0, 1).permute(1, 2, 0).numpy()


def boundaries(labels: Tensor) -> np.ndarray:
    """``[H, W]`` labels -> bool ``H x W``: True where the right or lower neighbour differs."""
    lab = labels.detach().cpu().numpy()
    edge = np.zeros(lab.shape, dtype=bool)
    edge[:, :-1] |= lab[:, 1:] != lab[:, :-1]
    edge[:-1, :] |= lab[1:, :] != lab[:-1, :]
    return edge


def draw_boundaries(
    image: Tensor, labels: Tensor, color: tuple[float, float, float] = (1, 1, 0)
) -> np.ndarray:
    """``[C, H, W]`` image with the boundaries of ``[H, W]`` labels drawn in ``color``."""
    rgb = to_rgb(image).copy()
    rgb[boundaries(labels)] = color
    return rgb


def overlay_mask(
    image: Tensor, mask: Tensor, color: tuple[float, float, float] = (0, 1, 0), alpha: float = 0.4
) -> np.ndarray:
    """``[C, H, W]`` image with a mask blended on in ``color``: ``alpha * strength``.

    ``mask`` is ``[H, W]`` (integer: label > 0) or ``[K, H, W]`` (soft: foreground strength,
    see :func:`foreground`), so soft masks show as partial tints.
    """
    rgb = to_rgb(image)
    weight = alpha * foreground(mask)[..., None]
    return rgb * (1 - weight) + np.asarray(color, dtype=rgb.dtype) * weight


def foreground(mask: Tensor) -> np.ndarray:
    """Foreground strength of one mask as ``H x W`` floats in [0, 1].

    ``[H, W]`` integer maps: label > 0. ``[K, H, W]`` maps: ``1 - mask[0]`` for K >= 2 (the
    probability of not being background), ``mask[0]`` for K = 1.
    """
    m = mask.detach().float().cpu()
    if m.ndim == 2:
        return (m > 0).float().numpy()
    return (1 - m[0] if m.shape[0] >= 2 else m[0]).clamp(0, 1).numpy()


def plot_mix(
    images: Tensor,
    masks: Tensor,
    params: HSMixParams,
    hard_images: Tensor,
    hard_masks: Tensor,
    soft_images: Tensor,
    soft_masks: Tensor,
    saliency: Tensor | None = None,
    rows: int = 4,
    path: str | Path | None = None,
) -> Figure:
    """A grid, one row per sample: source A, partner B, A's superpixels, B's superpixels with
    the pasted set M outlined, hard mix and its mask, saliency of A, the soft weight L, soft
    mix and its mask.

    Args:
        images, masks: the input batch ``[B, C, H, W]`` and ``[B, H, W]`` / ``[B, K, H, W]``.
        params: the :class:`~hsmix_torch.HSMixParams` of the mix.
        hard_images, hard_masks, soft_images, soft_masks: the two branches' outputs (B each).
        saliency: optional ``[B, 1, H, W]`` saliency of the inputs.
        rows: at most this many samples are drawn.
        path: if given, the figure is saved there (PNG).
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(rows, images.shape[0])
    titles = [
        "A (input)",
        "B (partner)",
        "superpixels A",
        "superpixels B, M",
        "hard mix",
        "hard mask",
        "saliency A",
        "soft weight L",
        "soft mix",
        "soft mask",
    ]
    if saliency is None:
        titles.remove("saliency A")
    fig, axes = plt.subplots(n, len(titles), figsize=(1.9 * len(titles), 2.0 * n), squeeze=False)
    for i in range(n):
        j = int(params.partner[i])
        lab_b = params.superpixels[j]
        pasted = draw_boundaries(images[j], lab_b, (1, 1, 0))
        pasted[boundaries(params.hard_mask[i].long())] = (1, 0, 0)
        panels = [
            (to_rgb(images[i]), None),
            (to_rgb(images[j]), None),
            (draw_boundaries(images[i], params.superpixels[i]), None),
            (pasted, None),
            (to_rgb(hard_images[i]), None),
            (foreground(hard_masks[i]), "gray"),
        ]
        if saliency is not None:
            panels.append((saliency[i, 0].float().cpu().numpy(), "magma"))
        panels += [
            (params.soft_lambda[i].float().cpu().numpy(), "viridis"),
            (to_rgb(soft_images[i]), None),
            (foreground(soft_masks[i]), "gray"),
        ]
        for k, (panel, cmap) in enumerate(panels):
            ax = axes[i, k]
            ax.imshow(panel, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[k], fontsize=8)
        axes[i, 0].set_ylabel(f"sample {i} (B = {j})", fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
