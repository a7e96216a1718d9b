"""Pictures of what HSMix does: superpixel boundaries, mask overlays, maps, and a grid; for
volumes, the same as three orthogonal slices per sample."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .params import HSMixParams

__all__ = [
    "PLANES",
    "boundaries",
    "draw_boundaries",
    "foreground",
    "orthogonal_slices",
    "overlay_mask",
    "plot_mix",
    "plot_volume_mix",
    "to_rgb",
]

# The three orthogonal planes of a [D, H, W] volume: the axis each one cuts.
PLANES = {"axial (D)": 0, "coronal (H)": 1, "sagittal (W)": 2}


def to_rgb(image: Tensor) -> np.ndarray:
    """An image as an array matplotlib shows.

    Grey is repeated; images with other than 1 or 3 channels show their channel mean.

    Args:
        image: ``[C, H, W]`` float in [0, 1] (clipped) or uint8, on any device.

    Returns:
        ``H x W x 3`` float32 array in [0, 1].
    """
    x = image.detach().float().cpu()
    if image.dtype == torch.uint8:
        x = x / 255
    if x.shape[0] != 3:
        x = x.mean(0, keepdim=True).expand(3, -1, -1)
    return x.clamp(0, 1).permute(1, 2, 0).numpy()


def boundaries(labels: Tensor) -> np.ndarray:
    """Where superpixels meet.

    Args:
        labels: ``[H, W]`` integer labels.

    Returns:
        ``H x W`` bool array, True where the right or lower neighbour has another label.
    """
    lab = labels.detach().cpu().numpy()
    edge = np.zeros(lab.shape, dtype=bool)
    edge[:, :-1] |= lab[:, 1:] != lab[:, :-1]
    edge[:-1, :] |= lab[1:, :] != lab[:-1, :]
    return edge


def draw_boundaries(
    image: Tensor, labels: Tensor, color: tuple[float, float, float] = (1, 1, 0)
) -> np.ndarray:
    """An image with superpixel boundaries drawn on.

    Args:
        image: ``[C, H, W]`` float in [0, 1] or uint8.
        labels: ``[H, W]`` integer labels.
        color: RGB in [0, 1] of the boundary pixels.

    Returns:
        ``H x W x 3`` float32 array in [0, 1].
    """
    rgb = to_rgb(image).copy()
    rgb[boundaries(labels)] = color
    return rgb


def overlay_mask(
    image: Tensor, mask: Tensor, color: tuple[float, float, float] = (0, 1, 0), alpha: float = 0.4
) -> np.ndarray:
    """``[C, H, W]`` image with a mask blended on in ``color``: ``alpha * strength``.

    Soft masks show as partial tints.

    Args:
        image: ``[C, H, W]`` float in [0, 1] or uint8.
        mask: ``[H, W]`` (integer: label > 0) or ``[K, H, W]`` (soft: foreground strength,
            see :func:`foreground`).
        color: RGB in [0, 1] of the tint.
        alpha: the tint's weight where the foreground strength is 1.

    Returns:
        ``H x W x 3`` float array in [0, 1].
    """
    rgb = to_rgb(image)
    weight = alpha * foreground(mask)[..., None]
    return rgb * (1 - weight) + np.asarray(color, dtype=rgb.dtype) * weight


def foreground(mask: Tensor) -> np.ndarray:
    """Foreground strength of one mask as ``H x W`` floats in [0, 1].

    Args:
        mask: ``[H, W]`` integer map (foreground: label > 0) or ``[K, H, W]`` float map
            (``1 - mask[0]`` for K >= 2, the probability of not being background;
            ``mask[0]`` for K = 1).

    Returns:
        ``H x W`` float32 array.
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

    Returns:
        The matplotlib figure.
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
        lab_b = params.segments[j]
        pasted = draw_boundaries(images[j], lab_b, (1, 1, 0))
        pasted[boundaries(params.hard_mask[i].long())] = (1, 0, 0)
        panels = [
            (to_rgb(images[i]), None),
            (to_rgb(images[j]), None),
            (draw_boundaries(images[i], params.segments[i]), None),
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
        _draw_row(axes[i], panels, titles if i == 0 else None, f"sample {i} (B = {j})")
    return _finish(fig, path)


def _draw_row(
    axes: np.ndarray, panels: list, titles: list[str] | None, label: str, size: int = 8
) -> None:
    """One row of ``(picture, colour map)`` panels on a [0, 1] scale, titled when asked."""
    for k, (panel, cmap) in enumerate(panels):
        ax = axes[k]
        ax.imshow(panel, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[k], fontsize=8)
    axes[0].set_ylabel(label, fontsize=size)


def _finish(fig: Figure, path: str | Path | None) -> Figure:
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def orthogonal_slices(volume: Tensor, centre: tuple[int, int, int]) -> list[Tensor]:
    """The three orthogonal slices of a volume through one voxel.

    Args:
        volume: ``[..., D, H, W]``.
        centre: the voxel ``(d, h, w)`` the slices pass through.

    Returns:
        ``[..., H, W]``, ``[..., D, W]`` and ``[..., D, H]`` views (the planes of
        :data:`PLANES`, in their order).
    """
    return [volume.select(volume.ndim - 3 + axis, centre[axis]) for axis in PLANES.values()]


def _centre_of(mask: Tensor) -> tuple[int, int, int]:
    """The voxel nearest the centre of mass of a bool ``[D, H, W]`` mask (the middle when
    the mask is empty), so the slices cut through what was pasted."""
    idx = mask.nonzero().float()
    if not len(idx):
        return tuple(n // 2 for n in mask.shape)  # type: ignore[return-value]
    centre = idx.mean(0)
    nearest = idx[(idx - centre).norm(dim=1).argmin()]
    return tuple(int(v) for v in nearest)  # type: ignore[return-value]


def plot_volume_mix(
    images: Tensor,
    masks: Tensor,
    params: HSMixParams,
    hard_images: Tensor,
    hard_masks: Tensor,
    soft_images: Tensor,
    soft_masks: Tensor,
    rows: int = 2,
    path: str | Path | None = None,
) -> Figure:
    """A volume mix as three orthogonal slices per sample.

    For each sample, three rows (axial, coronal, sagittal slices through the centre of the
    pasted set M) of: source A with its supervoxels, partner B with its supervoxels and M
    outlined, the hard mix with its mask, the soft weight L, the soft mix with its mask.

    Args:
        images, masks: the input volumes ``[B, C, D, H, W]`` and their masks ``[B, D, H, W]``
            / ``[B, K, D, H, W]``.
        params: the :class:`~hsmix_torch.HSMixParams` of the mix.
        hard_images, hard_masks, soft_images, soft_masks: the two branches' outputs (B each).
        rows: at most this many samples are drawn.
        path: if given, the figure is saved there (PNG).

    Returns:
        The matplotlib figure.

    Raises:
        ValueError: ``images`` are not volumes.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if images.ndim != 5:
        raise ValueError(f"images must be volumes [B, C, D, H, W], got {tuple(images.shape)}")
    n = min(rows, images.shape[0])
    titles = ["A, supervoxels", "B, supervoxels, M", "hard mix, mask", "soft weight L", "soft mix"]
    fig, axes = plt.subplots(
        3 * n, len(titles), figsize=(2.0 * len(titles), 2.0 * 3 * n), squeeze=False
    )
    for i in range(n):
        j = int(params.partner[i])
        centre = _centre_of(params.hard_mask[i].cpu())
        cut = lambda t, c=centre: orthogonal_slices(t, c)  # noqa: E731
        for p, plane in enumerate(PLANES):
            a, b = cut(images[i])[p], cut(images[j])[p]
            pasted = draw_boundaries(b, cut(params.segments[j])[p], (1, 1, 0))
            pasted[boundaries(cut(params.hard_mask[i].long())[p])] = (1, 0, 0)
            panels = [
                (draw_boundaries(a, cut(params.segments[i])[p]), None),
                (pasted, None),
                (overlay_mask(cut(hard_images[i])[p], cut(hard_masks[i])[p]), None),
                (cut(params.soft_lambda[i])[p].float().cpu().numpy(), "viridis"),
                (overlay_mask(cut(soft_images[i])[p], cut(soft_masks[i])[p]), None),
            ]
            row = 3 * i + p
            label = f"sample {i} (B = {j})\n{plane}"
            _draw_row(axes[row], panels, titles if row == 0 else None, label, size=7)
    return _finish(fig, path)
