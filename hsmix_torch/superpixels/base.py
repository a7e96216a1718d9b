"""The superpixel backend protocol shared by every backend.

A backend is a callable ``(images [B, C, H, W], n_segments LongTensor [B]) -> LongTensor
[B, H, W]`` that returns, on the images' device, one label map per image. Built-in backends
return contiguous labels ``0 .. K_i - 1`` per image; HSMix itself only needs labels in
``[0, H * W)``, so user callables may return any labels in that range.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .._checks import check_images

__all__ = [
    "DEFAULT_COMPACTNESS_GREY",
    "DEFAULT_COMPACTNESS_RGB",
    "CallableBackend",
    "SuperpixelBackend",
    "SuperpixelFn",
    "check_labels",
    "default_compactness",
]

SuperpixelFn = Callable[[Tensor, Tensor], Tensor]

# The published scripts: compactness 8 on RGB (ISIC 2017, CIELAB units) and 0.1 on grey CT
# (Synapse). In SLIC, colour distances of non-RGB images are in [0, 1] intensity units, about
# 100 times smaller than CIELAB's, so one value cannot suit both.
DEFAULT_COMPACTNESS_RGB = 8.0
DEFAULT_COMPACTNESS_GREY = 0.1


def default_compactness(channels: int) -> float:
    """Compactness used when none is given: 8 for 3-channel (Lab) images, 0.1 otherwise."""
    return DEFAULT_COMPACTNESS_RGB if channels == 3 else DEFAULT_COMPACTNESS_GREY


class SuperpixelBackend:
    """Base class of the built-in backends.

    Subclasses implement :meth:`segment`; ``__call__`` validates the arguments, so every
    backend rejects bad input the same way.

    Attributes:
        name: the registry name.
        compactness: SLIC's compactness, or ``None`` for :func:`default_compactness`.
    """

    name: str = "base"

    def __init__(self, compactness: float | None = None) -> None:
        if compactness is not None and not compactness > 0:
            raise ValueError(f"compactness must be > 0 or None, got {compactness!r}")
        self.compactness = compactness

    def compactness_for(self, channels: int) -> float:
        """The compactness used for images with ``channels`` channels."""
        return default_compactness(channels) if self.compactness is None else self.compactness

    def __call__(
        self, images: Tensor, n_segments: Tensor | int, *, max_segments: int | None = None
    ) -> Tensor:
        """Label maps ``[B, H, W]`` int64 for ``images [B, C, H, W]`` and ``n_segments [B]``.

        ``max_segments`` is an optional upper bound of ``n_segments`` known on the host (HSMix
        passes its range's maximum); backends that size buffers from it then need no host
        synchronisation to read ``n_segments`` from the device.
        """
        check_images(images, allow_empty_batch=True)
        n_segments = torch.as_tensor(n_segments, device=images.device).long().reshape(-1)
        if n_segments.numel() == 1 and images.shape[0] != 1:
            n_segments = n_segments.expand(images.shape[0])
        if n_segments.shape != (images.shape[0],):
            raise ValueError(
                f"n_segments must be a scalar or have shape [B]={images.shape[0]}, "
                f"got {tuple(n_segments.shape)}"
            )
        if images.shape[0] == 0:
            return torch.zeros(
                images.shape[:1] + images.shape[2:], dtype=torch.long, device=images.device
            )
        return self.segment(images, n_segments, max_segments)

    def segment(self, images: Tensor, n_segments: Tensor, max_segments: int | None) -> Tensor:
        """Compute the labels; arguments are already checked by ``__call__``."""
        raise NotImplementedError

    def label_bound(self, h: int, w: int, max_segments: int, device: torch.device) -> int:
        """An upper bound of the labels + 1 for ``H x W`` images and ``n_segments`` up to
        ``max_segments``, known before segmenting. ``H * W`` (every label lies below it)
        unless a backend knows better."""
        return max(h * w, 1)

    def capturable(self, device: torch.device) -> bool:
        """True when :meth:`segment` on ``device`` neither synchronises with the host nor
        changes shape with the data, so a CUDA graph can capture it (``cuda_graph=True``).
        False unless a backend knows better."""
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(compactness={self.compactness!r})"


class CallableBackend(SuperpixelBackend):
    """Wraps a plain callable ``(images, n_segments) -> [B, H, W]`` as a backend."""

    name = "callable"

    def __init__(self, fn: SuperpixelFn) -> None:
        super().__init__(None)
        self.fn = fn

    def segment(self, images: Tensor, n_segments: Tensor, max_segments: int | None) -> Tensor:
        labels = self.fn(images, n_segments)
        return check_labels(labels, images, "superpixels callable output")

    def __repr__(self) -> str:
        return f"CallableBackend({self.fn!r})"


def check_labels(
    labels: Tensor, images: Tensor, name: str = "superpixels", check_values: bool = True
) -> Tensor:
    """Check that ``labels`` is an integer ``[B, H, W]`` map matching ``images``; return int64.

    Shapes, dtype and device are checked without synchronising. With ``check_values`` the
    range ``[0, H * W)`` is checked too, which reads numbers back from a GPU.
    """
    if not isinstance(labels, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    b, _, h, w = images.shape
    if labels.ndim == 4 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape != (b, h, w):
        raise ValueError(f"{name} must have shape [B, H, W]={(b, h, w)}, got {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor, got {labels.dtype}")
    if labels.device != images.device:
        raise ValueError(f"{name} is on {labels.device} but images are on {images.device}")
    labels = labels.long()
    if check_values and labels.numel() and (labels.min() < 0 or labels.max() >= h * w):
        raise ValueError(f"{name} must hold labels in [0, H*W) = [0, {h * w})")
    return labels
