"""Image batches for demos, tests and benchmarks: built-in samples and image/mask folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["load_image_folder", "resize_crop", "sample_batch"]


def resize_crop(image: Tensor, mask: Tensor | None, size: int) -> tuple[Tensor, Tensor | None]:
    """Resize ``[C, H, W]`` so the shorter side is ``size`` (area for images, nearest for the
    ``[H, W]`` mask), then centre-crop to ``size x size``. Dtypes are kept."""
    _, h, w = image.shape
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    mode = "area" if scale < 1 else "bilinear"
    resized = F.interpolate(image[None].float(), (new_h, new_w), mode=mode)[0]
    if image.dtype == torch.uint8:
        resized = resized.round().clamp(0, 255)
    resized = resized.to(image.dtype)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    out = resized[:, top : top + size, left : left + size]
    if mask is None:
        return out, None
    m = F.interpolate(mask[None, None].float(), (new_h, new_w), mode="nearest")[0, 0]
    return out, m.to(mask.dtype)[top : top + size, left : left + size]


def load_image_folder(
    root: str | Path,
    size: int = 224,
    limit: int | None = None,
    stride: int = 1,
    require_foreground: bool = False,
) -> tuple[Tensor, Tensor, list[str]]:
    """Load ``root/images/*.png`` with their ``root/masks/*.png`` as one batch.

    Images are resized and centre-cropped to ``size`` (see :func:`resize_crop`). Grey images
    stay 1-channel; RGBA drops alpha.

    Args:
        root: a folder with ``images/`` and ``masks/`` holding files with matching stems
            (the layout of ``../shared/data/*``).
        size: output side length.
        limit: keep at most this many pairs (after ``stride``).
        stride: take every ``stride``-th file of the sorted list.
        require_foreground: skip pairs whose mask is empty.

    Returns:
        ``(images uint8 [N, C, size, size], masks int64 [N, size, size], stems)``.
    """
    from PIL import Image

    root = Path(root)
    files = sorted((root / "images").glob("*.png"))[::stride]
    images, masks, stems = [], [], []
    for path in files:
        mask = np.array(Image.open(root / "masks" / path.name))
        if require_foreground and not mask.any():
            continue
        arr = np.array(Image.open(path))
        arr = arr[..., :3] if arr.ndim == 3 else arr[..., None]
        img, msk = resize_crop(
            torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1),
            torch.from_numpy(mask.astype(np.int64)),
            size,
        )
        images.append(img)
        masks.append(msk)
        stems.append(path.stem)
        if limit is not None and len(stems) >= limit:
            break
    if not stems:
        raise FileNotFoundError(f"no image/mask pairs under {root}")
    return torch.stack(images), torch.stack(masks), stems


def sample_batch(size: int = 224) -> tuple[Tensor, Tensor]:
    """A built-in batch of 4 RGB medical images with binary masks (needs scikit-image).

    Two crops of scikit-image's immunohistochemistry slide (mask: the 15 % most
    haematoxylin-stained pixels, i.e. nuclei) and two of its retina fundus photograph
    (mask: vessels, by a Sato ridge filter inside the field of view). Masks are derived,
    not expert annotations.

    Returns:
        ``(images float32 [4, 3, size, size] in [0, 1], masks int64 [4, size, size])``.
    """
    from skimage import color, data, filters, transform

    ihc = data.immunohistochemistry()
    retina = transform.resize(data.retina(), (512, 512), anti_aliasing=True)
    retina = (retina * 255).round().astype(np.uint8)

    nuclei = color.rgb2hed(ihc)[..., 0]
    nuclei_mask = nuclei > np.quantile(nuclei, 0.85)  # the most haematoxylin-stained 15 %
    green = retina[..., 1].astype(np.float64) / 255
    ridges = filters.sato(green, sigmas=(1, 2, 3), black_ridges=True)
    fov = retina.mean(axis=2) > 20
    vessel_mask = (ridges > filters.threshold_otsu(ridges[fov])) & fov

    crops = [
        (ihc, nuclei_mask, (0, 0)),
        (retina, vessel_mask, (128, 64)),
        (ihc, nuclei_mask, (256, 256)),
        (retina, vessel_mask, (160, 256)),
    ]
    images, masks = [], []
    for img, msk, (top, left) in crops:
        side = 256
        patch = torch.from_numpy(np.ascontiguousarray(img[top : top + side, left : left + side]))
        patch_mask = torch.from_numpy(msk[top : top + side, left : left + side].astype(np.int64))
        out, out_mask = resize_crop(patch.permute(2, 0, 1), patch_mask, size)
        images.append(out.float() / 255)
        masks.append(out_mask)
    return torch.stack(images), torch.stack(masks)
