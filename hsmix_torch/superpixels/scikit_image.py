"""The ``"skimage"`` backend: scikit-image's SLIC, image by image, the reference."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from ..functional.slic_grid import label_bound
from .base import SuperpixelBackend

__all__ = ["SkimageBackend"]


class SkimageBackend(SuperpixelBackend):
    """scikit-image's ``slic`` per image on the CPU (the published scripts' superpixels),
    natively 2-D and 3-D (supervoxels of ``[B, C, D, H, W]`` volumes, with ``spacing``).

    Arguments have scikit-image's meaning: ``compactness`` is in CIELAB units per grid step
    for 3-channel images (converted to Lab as RGB) and in ``[0, 1]`` intensity units for any
    other channel count (each image is rescaled to ``[0, 1]`` by scikit-image). Extra keyword
    arguments (``max_num_iter``, ``sigma``, ``enforce_connectivity``, ...) go to ``slic``.
    Labels are 0-based and contiguous. The images travel to the host and the labels back to
    the images' device: this backend is a reference, not a fast path.

    Args:
        compactness: scikit-image's compactness; None: 8 for RGB, 0.1 otherwise.
        **slic_kwargs: passed to ``skimage.segmentation.slic``.

    Raises:
        ImportError: scikit-image is not installed.
        TypeError, ValueError: ``compactness`` is not a number > 0.
    """

    name = "skimage"

    def __init__(self, compactness: float | None = None, **slic_kwargs: object) -> None:
        super().__init__(compactness)
        try:
            from skimage.segmentation import slic
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(
                "the 'skimage' superpixel backend needs scikit-image: "
                "pip install 'hsmix_torch[skimage]'"
            ) from err
        self._slic = slic
        self.slic_kwargs = slic_kwargs

    def segment(
        self,
        images: Tensor,
        n_segments: Tensor,
        max_segments: int | None,
        spacing: tuple[float, ...] | None,
    ) -> Tensor:
        channels = images.shape[1]
        compactness = self.compactness_for(channels)
        arrays = images.detach().float().movedim(1, -1).cpu().numpy()
        counts = n_segments.tolist()
        out = np.empty(arrays.shape[:-1], dtype=np.int64)
        for i, (img, n) in enumerate(zip(arrays, counts, strict=True)):
            if channels == 1:
                img, axis = img[..., 0], None
            else:
                axis = -1
            out[i] = self._slic(
                img,
                n_segments=max(int(n), 1),
                compactness=compactness,
                start_label=0,
                channel_axis=axis,
                convert2lab=channels == 3,
                spacing=None if spacing is None else np.asarray(spacing),
                **self.slic_kwargs,
            )
        return torch.from_numpy(out).to(images.device)

    def label_bound(
        self,
        size: tuple[int, ...],
        max_segments: int,
        device: torch.device,
        spacing: tuple[float, ...] | None = None,
    ) -> int:
        # scikit-image's grid and minimum segment size are the torch SLIC's (tested).
        return label_bound(
            size,
            max_segments,
            float(self.slic_kwargs.get("min_size_factor", 0.5)),  # type: ignore[arg-type]
            bool(self.slic_kwargs.get("enforce_connectivity", True)),
        )
