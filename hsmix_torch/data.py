"""Image batches for demos, tests and benchmarks: built-in samples and image/mask folders."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ._checks import check_int

__all__ = [
    "load_image_folder",
    "load_volume_folder",
    "pad_volumes",
    "resize_crop",
    "sample_batch",
    "sample_volumes",
]


def resize_crop(image: Tensor, mask: Tensor | None, size: int) -> tuple[Tensor, Tensor | None]:
    """Resize an image so its shorter side is ``size`` (area for images, nearest for the
    mask), then centre-crop to ``size x size``. Dtypes are kept.

    Args:
        image: ``[C, H, W]``.
        mask: ``[H, W]``, or None.
        size: the output side.

    Returns:
        ``(image [C, size, size], mask [size, size] or None)``.
    """
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
            (one folder per data set).
        size: output side length.
        limit: keep at most this many pairs (after ``stride``).
        stride: take every ``stride``-th file of the sorted list.
        require_foreground: skip pairs whose mask is empty.

    Returns:
        ``(images uint8 [N, C, size, size], masks int64 [N, size, size], stems)``.

    Raises:
        FileNotFoundError: no image/mask pair under ``root``.
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


def load_volume_folder(
    root: str | Path, limit: int | None = None
) -> tuple[list[Tensor], list[Tensor], list[tuple[float, ...]], list[str]]:
    """Load ``root/*.npz`` volumes, each with ``image`` ``[D, H, W]``, ``label`` and
    ``spacing`` arrays (the layout of ``../shared/data/MSD_Hippocampus``).

    Intensities are min-max normalised per case to ``[0, 1]`` (raw MRI scales differ by
    orders of magnitude between cases). Shapes may differ: see :func:`pad_volumes`.

    Args:
        root: the folder of ``.npz`` files.
        limit: load at most this many (sorted by name).

    Returns:
        ``(images float32 [1, D, H, W] each, labels int64 [D, H, W] each, spacings, stems)``.

    Raises:
        FileNotFoundError: no ``.npz`` under ``root``.
    """
    files = sorted(Path(root).glob("*.npz"))[:limit]
    if not files:
        raise FileNotFoundError(f"no .npz volumes under {root}")
    images, labels, spacings, stems = [], [], [], []
    for path in files:
        with np.load(path) as z:
            volume = torch.from_numpy(z["image"].astype(np.float32))
            labels.append(torch.from_numpy(z["label"].astype(np.int64)))
            spacings.append(tuple(float(v) for v in z["spacing"]))
        lo, hi = volume.min(), volume.max()
        images.append(((volume - lo) / (hi - lo).clamp(min=1e-12))[None])
        stems.append(path.stem)
    return images, labels, spacings, stems


def pad_volumes(
    volumes: list[Tensor], shape: tuple[int, int, int] | None = None, value: float = 0
) -> Tensor:
    """Stack tensors of different sizes into one batch, padded at the far end of each axis
    and cropped where larger (MONAI's ``SpatialPadd`` does the same in a pipeline).

    Args:
        volumes: ``[..., D, H, W]`` tensors.
        shape: the output ``(D, H, W)``; default: the largest size per axis.
        value: the padding value.

    Returns:
        ``[N, ..., D, H, W]``.
    """
    shape = shape or tuple(max(v.shape[-3 + a] for v in volumes) for a in range(3))
    out = []
    for v in volumes:
        v = v[..., : shape[0], : shape[1], : shape[2]]
        pads = [p for a in (2, 1, 0) for p in (0, shape[a] - v.shape[-3 + a])]
        out.append(F.pad(v, pads, value=value))
    return torch.stack(out)


@lru_cache(maxsize=1)
def _sample_sources() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """scikit-image's immunohistochemistry slide and retina photograph, with derived masks."""
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
    return (ihc, nuclei_mask), (retina, vessel_mask)


# (source, top, left) of the 256 x 256 crops, alternating slide and fundus.
_CROPS = (
    (0, 0, 0),
    (1, 128, 64),
    (0, 256, 256),
    (1, 160, 256),
    (0, 0, 256),
    (1, 256, 128),
    (0, 256, 0),
    (1, 96, 200),
)


def sample_batch(size: int = 224, count: int = 4, channels: int = 3) -> tuple[Tensor, Tensor]:
    """A built-in batch of medical images with binary masks (needs scikit-image).

    Crops of scikit-image's immunohistochemistry slide (mask: the 15 % most
    haematoxylin-stained pixels, i.e. nuclei) and of its retina fundus photograph (mask:
    vessels, by a Sato ridge filter inside the field of view), alternating. There are 8
    distinct crops; beyond 8 they repeat mirrored left to right. Masks are derived, not
    expert annotations.

    Args:
        size: side length of the square images.
        count: number of images (>= 1).
        channels: 3 (RGB) or 1 (grey: the 8-bit luminance, as OpenCV computes it).

    Returns:
        ``(images float32 [count, channels, size, size] in [0, 1], masks int64
        [count, size, size])``.

    Raises:
        TypeError: ``count`` not an int.
        ValueError: ``count`` < 1, ``channels`` other than 1 or 3.
    """
    check_int(count, "count", minimum=1)
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    sources = _sample_sources()
    images, masks = [], []
    for i in range(count):
        which, top, left = _CROPS[i % len(_CROPS)]
        img, msk = sources[which]
        side = 256
        patch = torch.from_numpy(np.ascontiguousarray(img[top : top + side, left : left + side]))
        patch_mask = torch.from_numpy(msk[top : top + side, left : left + side].astype(np.int64))
        out, out_mask = resize_crop(patch.permute(2, 0, 1), patch_mask, size)
        if (i // len(_CROPS)) % 2:
            out, out_mask = out.flip(-1), out_mask.flip(-1)
        images.append(out)
        masks.append(out_mask)
    batch = torch.stack(images)
    if channels == 1:  # OpenCV's 8-bit luminance, (9798 R + 19235 G + 3735 B + 2**14) >> 15
        weights = torch.tensor([9798, 19235, 3735]).view(1, 3, 1, 1)
        batch = ((batch.long() * weights).sum(1, keepdim=True) + 2**14) >> 15
    return batch.float() / 255, torch.stack(masks)


# The modified 3-D Shepp-Logan head phantom (Kak & Slaney's ellipsoids, Toft's contrasts):
# value, semi-axes (x, y, z), centre (x, y, z), rotation about z in degrees, mask class.
# The two ventricles are class 1, the six small "lesions" class 2 (the published phantom
# also tilts the ventricles by 10 degrees out of plane; these are not tilted).
_PHANTOM = (
    (1.0, (0.69, 0.92, 0.81), (0.0, 0.0, 0.0), 0.0, 0),
    (-0.8, (0.6624, 0.874, 0.78), (0.0, -0.0184, 0.0), 0.0, 0),
    (-0.2, (0.11, 0.31, 0.22), (0.22, 0.0, 0.0), -18.0, 1),
    (-0.2, (0.16, 0.41, 0.28), (-0.22, 0.0, 0.0), 18.0, 1),
    (0.1, (0.21, 0.25, 0.41), (0.0, 0.35, -0.15), 0.0, 2),
    (0.1, (0.046, 0.046, 0.05), (0.0, 0.1, 0.25), 0.0, 2),
    (0.1, (0.046, 0.046, 0.05), (0.0, -0.1, 0.25), 0.0, 2),
    (0.1, (0.046, 0.023, 0.05), (-0.08, -0.605, 0.0), 0.0, 2),
    (0.1, (0.023, 0.023, 0.02), (0.0, -0.606, 0.0), 0.0, 2),
    (0.1, (0.023, 0.046, 0.02), (0.06, -0.605, 0.0), 0.0, 2),
)


def _phantom(shape: tuple[int, int, int], scale: float, shift: float) -> tuple[np.ndarray, ...]:
    """One phantom volume ``[D, H, W]`` (float64, unnormalised) and its class map."""
    z, y, x = np.meshgrid(*(np.linspace(-1, 1, n) for n in shape), indexing="ij")
    volume = np.zeros(shape)
    mask = np.zeros(shape, dtype=np.int64)
    for value, (a, b, c), (x0, y0, z0), phi, cls in _PHANTOM:
        t = np.deg2rad(phi)
        dx, dy, dz = x - x0 * scale - shift, y - y0 * scale, z - z0 * scale
        u = dx * np.cos(t) + dy * np.sin(t)
        v = -dx * np.sin(t) + dy * np.cos(t)
        inside = (u / (a * scale)) ** 2 + (v / (b * scale)) ** 2 + (dz / (c * scale)) ** 2 <= 1
        volume[inside] += value
        if cls:
            mask[inside] = cls
    return volume, mask


def sample_volumes(size: int | tuple[int, int, int] = 48, count: int = 2) -> tuple[Tensor, Tensor]:
    """A built-in batch of grey volumes with 3-class masks (numpy only, no download).

    The modified 3-D Shepp-Logan head phantom (see ``_PHANTOM``): skull, brain, two
    ventricles (class 1) and six small lesions (class 2), with mild noise. Samples differ:
    each is scaled (``1 - 0.04 k``), shifted along W, mirrored left to right every other
    one, and has its own noise, so pairs mix different anatomy.

    Args:
        size: ``D = H = W``, or ``(D, H, W)``.
        count: number of volumes (>= 1).

    Returns:
        ``(images float32 [count, 1, D, H, W] in [0, 1], masks int64 [count, D, H, W])``.

    Raises:
        TypeError: ``count`` not an int.
        ValueError: ``count`` < 1, a size that is not three positive ints.
    """
    check_int(count, "count", minimum=1)
    shape = (size,) * 3 if isinstance(size, int) else tuple(size)
    if len(shape) != 3 or not all(isinstance(n, int) and n >= 1 for n in shape):
        raise ValueError(f"size must be an int >= 1 or (D, H, W) of them, got {size!r}")
    images, masks = [], []
    for i in range(count):
        volume, mask = _phantom(shape, 1.0 - 0.04 * (i % 5), 0.03 * ((i % 3) - 1))
        volume += np.random.default_rng(i).normal(0.0, 0.02, shape)
        if i % 2:
            volume, mask = volume[..., ::-1], mask[..., ::-1]
        images.append(np.clip(volume, 0.0, 1.0))
        masks.append(np.ascontiguousarray(mask))
    batch = torch.from_numpy(np.stack(images)[:, None].astype(np.float32))
    return batch, torch.from_numpy(np.stack(masks))
