"""A faithful per-sample re-implementation of the published HSMix scripts: the baseline.

Written from the paper and the authors' scripts, the way the authors' scripts work: one pair at a
time, scikit-image SLIC computed for both images of every pair, OpenCV saliency for both,
and Python loops over superpixels and regions. It differs from the scripts only where they
are wrong (hsmix.md): SLIC sees the real image (not a reshape-scrambled one), saliency
reads the 8-bit image (not float bytes), and integer masks are mixed one-hot.

Used as the speed baseline by the benchmarks and as the numerical reference by the tests.
"""

from __future__ import annotations

import numpy as np

__all__ = ["opencv_saliency", "reference_batch", "reference_pair"]


def opencv_saliency(image_hwc: np.ndarray, kind: str = "fine_grained") -> np.ndarray:
    """OpenCV's static saliency of an RGB (or grey) image, float in [0, 1] or uint8."""
    import cv2

    img = image_hwc
    if img.dtype != np.uint8:
        img = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    img = np.ascontiguousarray(img[..., ::-1] if img.shape[-1] == 3 else img[..., 0])
    algo = (
        cv2.saliency.StaticSaliencyFineGrained_create()
        if kind == "fine_grained"
        else cv2.saliency.StaticSaliencySpectralResidual_create()
    )
    ok, sal = algo.computeSaliency(img)
    if not ok:
        raise RuntimeError("OpenCV saliency failed")
    return sal.astype(np.float32)


def _saliency(image: np.ndarray) -> np.ndarray:
    """OpenCV's fine-grained map of an ``H x W x C`` image, or of each slice of a volume."""
    if image.ndim == 4:
        return np.stack([opencv_saliency(s) for s in image])
    return opencv_saliency(image)


def reference_pair(
    x_a: np.ndarray,
    x_b: np.ndarray,
    y_a: np.ndarray,
    y_b: np.ndarray,
    seg_a: np.ndarray,
    seg_b: np.ndarray,
    select_b: dict[int, bool],
    sal_a: np.ndarray,
    sal_b: np.ndarray,
    aggregate: str = "sum",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hard and soft mix of one pair, with loops over superpixels as in the scripts.

    Images or volumes: S below is ``H x W`` or ``D x H x W``.

    Args:
        x_a, x_b: ``S x C`` float images.
        y_a, y_b: ``K x S`` float (one-hot or soft) masks.
        seg_a, seg_b: ``S`` int superpixel labels.
        select_b: for every label of ``seg_b``, whether it is pasted.
        sal_a, sal_b: ``S`` saliency maps in [0, 1].
        aggregate: ``"sum"`` (published) or ``"mean"``.

    Returns:
        ``(x_hard, y_hard, x_soft, y_soft, M, L)``.
    """
    labels_b = np.unique(seg_b)
    mask = np.zeros(seg_a.shape, dtype=np.float64)
    if len(labels_b) > 1:  # a single-superpixel partner leaves the pair unmixed
        for k in labels_b:
            if select_b[int(k)]:
                mask[seg_b == k] = 1.0
    x_hard = x_a * (1 - mask[..., None]) + x_b * mask[..., None]
    y_hard = y_a * (1 - mask) + y_b * mask

    lam_map = np.zeros(seg_a.shape, dtype=np.float64)
    if len(labels_b) > 1:
        composite = np.where(mask > 0, seg_b, seg_a + 10000)
        relative = sal_b / (sal_a + sal_b + 1e-4)
        regions = np.unique(composite)
        values = []
        for k in regions:
            region = composite == k
            if aggregate == "sum":
                values.append(float((relative * region).mean()))
            else:
                values.append(float(relative[region].mean()))
        values = np.array(values)
        lam = (values - values.min()) / (values.max() - values.min() + 1e-5)
        for k, v in zip(regions, lam, strict=True):
            lam_map[composite == k] = v
    x_soft = x_a * (1 - lam_map[..., None]) + x_b * lam_map[..., None]
    y_soft = y_a * (1 - lam_map) + y_b * lam_map
    return x_hard, y_hard, x_soft, y_soft, mask, lam_map


def reference_batch(
    images: np.ndarray,
    masks: np.ndarray,
    n_segments: tuple[int, int] = (30, 80),
    p_hard: float = 0.2,
    compactness: float = 8.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The published per-sample HSMix on a batch, as the baseline for timing.

    Args:
        images: ``B x S x C`` float in [0, 1] (S: ``H x W``, or ``D x H x W`` for volumes,
            whose saliency OpenCV computes slice by slice).
        masks: ``B x K x S`` float one-hot masks.

    Returns:
        ``(mixed images 2B x S x C, mixed masks 2B x K x S)``: hard then soft.
    """
    from skimage.segmentation import slic

    rng = np.random.default_rng(seed)
    b = images.shape[0]
    perm = rng.permutation(b)
    channel_axis = -1 if images.shape[-1] > 1 else None
    hard_x, hard_y, soft_x, soft_y = [], [], [], []
    for i in range(b):
        j = perm[i]
        img_a = images[i] if channel_axis is not None else images[i, ..., 0]
        img_b = images[j] if channel_axis is not None else images[j, ..., 0]
        seg_a = slic(
            img_a,
            n_segments=int(rng.integers(n_segments[0], n_segments[1] + 1)),
            compactness=compactness,
            start_label=1,
            channel_axis=channel_axis,
        )
        seg_b = slic(
            img_b,
            n_segments=int(rng.integers(n_segments[0], n_segments[1] + 1)),
            compactness=compactness,
            start_label=1,
            channel_axis=channel_axis,
        )
        select = {int(k): bool(rng.random() < p_hard) for k in np.unique(seg_b)}
        sal_a = _saliency(images[i])
        sal_b = _saliency(images[j])
        xh, yh, xs, ys, _, _ = reference_pair(
            images[i], images[j], masks[i], masks[j], seg_a, seg_b, select, sal_a, sal_b
        )
        hard_x.append(xh)
        hard_y.append(yh)
        soft_x.append(xs)
        soft_y.append(ys)
    return np.stack(hard_x + soft_x), np.stack(hard_y + soft_y)
