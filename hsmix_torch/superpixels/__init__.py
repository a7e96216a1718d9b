"""Superpixel backends behind one protocol.

``get_backend(name)`` returns a callable ``(images [B, C, *S], n_segments LongTensor [B])
-> LongTensor [B, *S]`` on the images' device, for images (S = H, W) and, but for
fast-slic, volumes (S = D, H, W: supervoxels, with ``spacing=``). Backends: ``"torch"``
(batched SLIC in tensor ops, the GPU default), ``"fast_slic"`` (fast-slic on the CPU, the
CPU default for images when installed), ``"skimage"`` (scikit-image's SLIC, the
reference), ``"grid"`` (regular cells), and ``"auto"`` (the best available for the images'
device). Each backend declares a bound
of its labels before segmenting (:meth:`SuperpixelBackend.label_bound`), which sizes the
per-superpixel tables on devices where reading the labels' maximum would synchronise.
"""

from __future__ import annotations

from .base import (
    DEFAULT_COMPACTNESS_GREY,
    DEFAULT_COMPACTNESS_RGB,
    CallableBackend,
    SuperpixelBackend,
    SuperpixelFn,
    check_labels,
    default_compactness,
)
from .fast_slic import FastSlicBackend, fast_slic_available
from .grid import GridBackend
from .registry import (
    AutoBackend,
    available_backends,
    get_backend,
    register_backend,
    resolve_auto,
    skimage_available,
)
from .scikit_image import SkimageBackend
from .torch_slic import TorchSlicBackend, slic

register_backend("fast_slic", FastSlicBackend, fast_slic_available)
register_backend("grid", GridBackend)
register_backend("skimage", SkimageBackend, skimage_available)
register_backend("torch", TorchSlicBackend)

__all__ = [
    "AutoBackend",
    "DEFAULT_COMPACTNESS_GREY",
    "DEFAULT_COMPACTNESS_RGB",
    "CallableBackend",
    "FastSlicBackend",
    "GridBackend",
    "SkimageBackend",
    "SuperpixelBackend",
    "SuperpixelFn",
    "TorchSlicBackend",
    "available_backends",
    "check_labels",
    "default_compactness",
    "fast_slic_available",
    "get_backend",
    "register_backend",
    "resolve_auto",
    "slic",
]
