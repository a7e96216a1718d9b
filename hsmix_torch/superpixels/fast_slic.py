"""The ``"fast_slic"`` backend: fast-slic's SIMD SLIC on the CPU, image by image."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from .._checks import check_int, check_probability
from ..functional import minmax_rescale
from .base import SuperpixelBackend

__all__ = ["FastSlicBackend", "fast_slic_available"]

# fast-slic measures colour in 8-bit units. These factors turn scikit-image's compactness
# into fast-slic's so both backends segment alike: for Lab (RGB) fast-slic's value is the
# same number; for grey (replicated to 3 channels) about 100 times larger matched
# scikit-image's quality and segment counts best on real medical images
# (benchmarks/superpixel_quality.py).
_COMPACTNESS_FACTOR_RGB = 1.0
_COMPACTNESS_FACTOR_GREY = 100.0


@lru_cache(maxsize=1)
def fast_slic_available() -> bool:
    """True when the optional fast-slic package can be imported."""
    try:
        import fast_slic  # noqa: F401
    except ImportError:
        return False
    return True


def _slic_class() -> type:
    """fast-slic's AVX2 class where the CPU has AVX2, its portable class elsewhere."""
    import fast_slic

    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        from fast_slic.avx2 import SlicAvx2

        return SlicAvx2
    return fast_slic.Slic


def _to_uint8_rgb(images: Tensor) -> np.ndarray:
    """``[B, C, H, W]`` -> contiguous ``B x H x W x 3`` uint8, rescaled per image to 0..255.

    Each image is stretched jointly over its channels to the full 8-bit range (as
    scikit-image rescales to [0, 1]), so any value range works: [0, 1] floats, uint8,
    Hounsfield units, z-scores. Grey is replicated to 3 channels; other channel counts
    than 1 and 3 use their mean.
    """
    x = images.detach()
    if x.shape[1] not in (1, 3):
        x = x.mean(dim=1, keepdim=True, dtype=torch.float32)
    b, _, h, w = x.shape
    x = minmax_rescale(x, top=255.0).round_()
    # One pass casts to uint8, moves channels last and replicates grey to 3 channels.
    out = torch.empty((b, h, w, 3), dtype=torch.uint8)
    out.copy_(x.permute(0, 2, 3, 1).expand(-1, -1, -1, 3))
    return out.numpy()


def _write_contiguous(raw: np.ndarray, out: np.ndarray) -> None:
    """Write non-negative labels ``raw``, renumbered to ``0..K-1`` in label order, to ``out``.

    fast-slic's labels are nearly always contiguous already; then this is one widening copy.
    """
    present = np.bincount(raw.ravel()) > 0
    if present.all():
        out[...] = raw
    else:
        np.take(np.cumsum(present) - 1, raw, out=out)


class FastSlicBackend(SuperpixelBackend):
    """fast-slic (Kim's SIMD SLIC) per image on the CPU: the fastest CPU backend.

    Args:
        compactness: in scikit-image's units (converted for fast-slic, see the module), so
            ``"fast_slic"``, ``"skimage"`` and ``"torch"`` are interchangeable. None: 8 for
            RGB, 0.1 otherwise.
        min_size_factor: pieces below this fraction of the mean superpixel size are merged
            (scikit-image's 0.5 by default; fast-slic's own default is 0.25).
        num_threads: threads for a batch; -1 (default) follows ``torch.get_num_threads()``
            at call time, which DataLoader workers set to 1. fast-slic releases the GIL, so
            images are spread over a pool of this many threads, one single-threaded image
            each: on a 2-core machine that segments a batch of 224x224 images about 10 %
            faster than one image after another on fast-slic's own OpenMP threads. A batch
            smaller than the pool shares the threads out per image instead; fast-slic's
            labels do not depend on its thread count. 1 runs the images one by one in the
            calling thread.

    RGB is converted to Lab by fast-slic; grey images are replicated to three channels
    without Lab. Labels are contiguous ``0..K-1`` per image and come back on the images'
    device. fast-slic is 2-D only and has no pixel spacing: volumes and a ``spacing`` other
    than all 1 are a ValueError (``"auto"`` picks another backend for volumes).

    Raises:
        ImportError: fast-slic is not installed.
        TypeError: an option is not a number.
        ValueError: ``compactness`` is not > 0, ``min_size_factor`` outside ``[0, 1]`` or
            ``num_threads`` neither -1 nor >= 1.
    """

    name = "fast_slic"
    spatial = (2,)

    def __init__(
        self, compactness: float | None = None, min_size_factor: float = 0.5, num_threads: int = -1
    ) -> None:
        super().__init__(compactness)
        if not fast_slic_available():
            raise ImportError(
                "the 'fast_slic' superpixel backend needs the fast-slic package, which must be "
                "built without build isolation: pip install cython numpy setuptools wheel && "
                "pip install --no-build-isolation fast-slic"
            )
        check_probability(min_size_factor, "min_size_factor")  # a fraction in [0, 1]
        if check_int(num_threads, "num_threads", minimum=-1) == 0:
            raise ValueError(f"num_threads must be -1 (torch's count) or >= 1, got {num_threads!r}")
        self.min_size_factor = float(min_size_factor)
        self.num_threads = num_threads
        self._slic_class = _slic_class()

    def segment(
        self,
        images: Tensor,
        n_segments: Tensor,
        max_segments: int | None,
        spacing: tuple[float, ...] | None,
    ) -> Tensor:
        if spacing is not None and any(v != 1.0 for v in spacing):
            raise ValueError(
                f"the 'fast_slic' superpixels have no pixel spacing, got spacing={spacing}; "
                "use superpixels='torch' or 'skimage'"
            )
        channels = images.shape[1]
        rgb = channels == 3
        factor = _COMPACTNESS_FACTOR_RGB if rgb else _COMPACTNESS_FACTOR_GREY
        compactness = self.compactness_for(channels) * factor
        arrays = _to_uint8_rgb(images)
        out = np.empty(arrays.shape[:3], dtype=np.int64)
        pixels = images.shape[2] * images.shape[3]
        counts = n_segments.tolist()

        threads = torch.get_num_threads() if self.num_threads == -1 else self.num_threads
        workers = min(threads, len(counts))
        per_image = max(threads // len(counts), 1)  # a batch smaller than the pool splits it

        def segment_one(i: int) -> None:
            slic = self._slic_class(
                # fast-slic crashes (SIGFPE) when asked for more segments than pixels.
                num_components=min(max(int(counts[i]), 1), pixels),
                compactness=compactness,
                min_size_factor=self.min_size_factor,
                convert_to_lab=rgb,
                num_threads=per_image,
            )
            _write_contiguous(slic.iterate(arrays[i]), out[i])

        if workers <= 1:
            for i in range(len(counts)):
                segment_one(i)
        else:
            # A pool per call: nothing to shut down, and safe across DataLoader worker forks.
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(segment_one, range(len(counts))))  # list() re-raises errors
        return torch.from_numpy(out).to(images.device)

    def label_bound(
        self,
        size: tuple[int, ...],
        max_segments: int,
        device: torch.device,
        spacing: tuple[float, ...] | None = None,
    ) -> int:
        # fast-slic merges pieces below min_size_factor of the mean size (pixels / n) into a
        # neighbour: at most n / min_size_factor pieces, and one more (tested).
        pixels = math.prod(size)
        if self.min_size_factor <= 0:
            return pixels
        return min(pixels, int(max(max_segments, 1) / self.min_size_factor) + 2)

    def __repr__(self) -> str:
        return f"FastSlicBackend(compactness={self.compactness!r}, num_threads={self.num_threads})"
