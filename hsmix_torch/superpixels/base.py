"""The superpixel backend protocol shared by every backend.

A backend is a callable ``(images [B, C, *S], n_segments LongTensor [B]) -> LongTensor
[B, *S]`` that returns, on the images' device, one label map per image; ``S`` is ``(H, W)``
for images and ``(D, H, W)`` for volumes (supervoxels), where the backend supports them
(:attr:`SuperpixelBackend.spatial`). Built-in backends return contiguous labels
``0 .. K_i - 1`` per image; HSMix itself only needs labels in ``[0, prod(S))``, so user
callables may return any labels in that range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .._checks import ValueChecks, check_compactness, check_images, check_spacing

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
    """Compactness used when none is given.

    Args:
        channels: the images' channels.

    Returns:
        8 for 3-channel (Lab) images, 0.1 otherwise (intensity units).
    """
    return DEFAULT_COMPACTNESS_RGB if channels == 3 else DEFAULT_COMPACTNESS_GREY


class SuperpixelBackend:
    """Base class of the built-in backends.

    Subclasses implement :meth:`segment`; ``__call__`` validates the arguments, so every
    backend rejects bad input the same way.

    Args:
        compactness: SLIC's compactness (> 0), or ``None`` for :func:`default_compactness`.

    Attributes:
        name: the registry name.
        compactness: SLIC's compactness, or ``None`` for :func:`default_compactness`.
        spatial: the numbers of spatial axes the backend segments: ``(2, 3)`` for images
            and volumes, ``(2,)`` for images only.
    """

    name: str = "base"
    spatial: tuple[int, ...] = (2, 3)

    def __init__(self, compactness: float | None = None) -> None:
        self.compactness = check_compactness(compactness)

    def compactness_for(self, channels: int) -> float:
        """The compactness used for images with ``channels`` channels.

        Args:
            channels: the images' channels.

        Returns:
            ``compactness``, or :func:`default_compactness` of ``channels`` when it is None.
        """
        return default_compactness(channels) if self.compactness is None else self.compactness

    def __call__(
        self,
        images: Tensor,
        n_segments: Tensor | int,
        *,
        max_segments: int | None = None,
        spacing: Sequence[float] | None = None,
    ) -> Tensor:
        """Superpixel label maps of a batch, its arguments checked.

        Args:
            images: ``[B, C, *S]`` float (``S``: ``(H, W)`` or ``(D, H, W)``); B may be 0.
            n_segments: the wanted number of superpixels, a scalar or ``[B]``.
            max_segments: an optional upper bound of ``n_segments`` known on the host (HSMix
                passes its range's maximum); backends that size buffers from it then need no
                host synchronisation to read ``n_segments`` from the device.
            spacing: the voxel size per spatial axis (scikit-image's meaning), or None for
                all 1.

        Returns:
            ``[B, *S]`` int64 labels on the images' device.

        Raises:
            TypeError: ``images`` is not a floating-point tensor.
            ValueError: ``images`` has a shape, values or spatial axes the backend does not
                take, ``spacing`` is not positive per axis, or ``n_segments`` is not a
                scalar or ``[B]``.
        """
        check_images(images, allow_empty_batch=True)
        self.check_axes(images)
        spacing = check_spacing(spacing, images.ndim - 2)
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
        return self.segment(images, n_segments, max_segments, spacing)

    def check_axes(self, images: Tensor) -> None:
        """Check that the backend segments images with these spatial axes.

        Args:
            images: ``[B, C, *S]``.

        Raises:
            ValueError: the backend does not take ``len(S)`` spatial axes
                (:attr:`spatial`).
        """
        axes = images.ndim - 2
        if axes not in self.spatial:
            raise ValueError(
                f"the {self.name!r} superpixels segment images with {self.spatial} spatial "
                f"axes, got images of shape {tuple(images.shape)} ({axes} spatial axes); "
                "volumes take 'torch', 'skimage', 'grid', a callable or precomputed labels"
            )

    def segment(
        self,
        images: Tensor,
        n_segments: Tensor,
        max_segments: int | None,
        spacing: tuple[float, ...] | None,
    ) -> Tensor:
        """Compute the labels of checked arguments (``__call__`` checks them; HSMix checks
        its batch once, :meth:`check_axes` included, and calls this directly): ``images``
        ``[B, C, *S]`` with B >= 1, ``n_segments`` ``[B]`` int64 on their device,
        ``spacing`` one float > 0 per spatial axis or None."""
        raise NotImplementedError

    def label_bound(
        self,
        size: tuple[int, ...],
        max_segments: int,
        device: torch.device,
        spacing: tuple[float, ...] | None = None,
    ) -> int:
        """An upper bound of the labels + 1 for images of spatial ``size`` and
        ``n_segments`` up to ``max_segments``, known before segmenting. ``prod(size)``
        (every label lies below it) unless a backend knows better."""
        return max(math.prod(size), 1)

    def capturable(self, device: torch.device) -> bool:
        """True when :meth:`segment` on ``device`` neither synchronises with the host nor
        changes shape with the data, so a CUDA graph can capture it (``cuda_graph=True``).
        False unless a backend knows better."""
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(compactness={self.compactness!r})"


class CallableBackend(SuperpixelBackend):
    """Wraps a plain callable ``(images, n_segments) -> [B, *S]`` as a backend.

    Images and volumes both reach it. A ``spacing`` other than None is passed on as the
    keyword ``spacing=`` (a tuple of floats, one per spatial axis), so a callable that is
    given volumes with a spacing must accept it.

    Args:
        fn: ``(images [B, C, *S], n_segments [B]) -> [B, *S]`` integer labels in
            ``[0, prod(S))`` on the images' device; its output is checked.
    """

    name = "callable"

    def __init__(self, fn: SuperpixelFn) -> None:
        super().__init__(None)
        self.fn = fn

    def segment(
        self,
        images: Tensor,
        n_segments: Tensor,
        max_segments: int | None,
        spacing: tuple[float, ...] | None,
    ) -> Tensor:
        if spacing is None:
            labels = self.fn(images, n_segments)
        else:
            labels = self.fn(images, n_segments, spacing=spacing)  # type: ignore[call-arg]
        return check_labels(labels, images, "superpixels callable output")

    def __repr__(self) -> str:
        return f"CallableBackend({self.fn!r})"


def check_labels(
    labels: Tensor,
    images: Tensor,
    name: str = "superpixels",
    check_values: bool = True,
    checks: ValueChecks | None = None,
) -> Tensor:
    """Check superpixel labels against the images they segment.

    Shapes, dtype and device are checked without synchronising. With ``check_values`` the
    range ``[0, prod(S))`` is checked too: added to ``checks`` (read back with the other
    value checks of a call), or read back here when no ``checks`` is given.

    Args:
        labels: ``[B, *S]`` (or ``[B, 1, *S]``) integer labels.
        images: the ``[B, C, *S]`` images they segment.
        name: ``labels`` as the caller wrote it, for errors.
        check_values: check the range of the labels too.
        checks: where to add the range check; None: run it here.

    Returns:
        The labels as ``[B, *S]`` int64.

    Raises:
        TypeError: ``labels`` is not an integer tensor.
        ValueError: its shape or device differs from the images', or (``check_values``
            without ``checks``) a label lies outside ``[0, prod(S))``.
    """
    if not isinstance(labels, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    expected = (images.shape[0], *images.shape[2:])
    if labels.ndim == len(expected) + 1 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape != expected:
        layout = "[B, D, H, W]" if len(expected) == 4 else "[B, H, W]"
        raise ValueError(f"{name} must have shape {layout}={expected}, got {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor, got {labels.dtype}")
    if labels.device != images.device:
        raise ValueError(f"{name} is on {labels.device} but images are on {images.device}")
    labels = labels.long()
    if check_values and labels.numel():
        voxels = math.prod(expected[1:])
        what = "D*H*W" if len(expected) == 4 else "H*W"
        own = checks if checks is not None else ValueChecks()
        own.add(
            (labels.min() < 0) | (labels.max() >= voxels),
            lambda _: f"{name} must hold labels in [0, {what}) = [0, {voxels})",
        )
        if checks is None:
            own.run()
    return labels
