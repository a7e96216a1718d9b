"""DataLoader ``collate_fn`` wrappers: mix in the workers, or only compute superpixels there.

Two ways to use CPU workers:

1. ``HSMixCollate(HSMix(...))``: the workers return batches that are already mixed.
2. ``SuperpixelCollate(...)``: the workers add superpixel labels to each batch; HSMix on the
   GPU consumes them with ``aug(images, masks, superpixels=labels)``, so saliency and mixing
   run on the device, overlapped with training.

Both accept the usual dataset outputs, tuples ``(image, mask, ...)`` and dicts, and return
the structure they were given. Each worker process draws from its own ``torch.Generator``,
seeded from the worker's torch seed (which the DataLoader derives from its own seed or
generator, distinct per worker) or from ``seed`` and the worker id.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import default_collate, get_worker_info

from ._tensor_types import plain, wrap_like
from .module import HSMix
from .sampler import segment_range
from .superpixels import SuperpixelFn, get_backend

__all__ = ["HSMixCollate", "SuperpixelCollate"]


class _PerProcessGenerator:
    """A ``torch.Generator`` created lazily in each (worker) process."""

    def __init__(self, seed: int | None) -> None:
        self.seed = seed
        self._generator: torch.Generator | None = None
        self._pid: int | None = None

    def get(self) -> torch.Generator:
        if self._generator is None or self._pid != os.getpid():
            info = get_worker_info()
            if self.seed is None:
                seed = torch.initial_seed()  # DataLoader: base_seed + worker_id
            else:
                seed = self.seed * 1_000_003 + (info.id if info is not None else 0)
            self._generator = torch.Generator().manual_seed(seed % 2**63)
            self._pid = os.getpid()
        return self._generator

    def __getstate__(self) -> dict[str, Any]:
        return {"seed": self.seed, "_generator": None, "_pid": None}


def _split(batch: Any, keys: tuple[str, str]) -> tuple[Tensor, Tensor | None]:
    if isinstance(batch, Mapping):
        if keys[0] not in batch:
            raise KeyError(f"batch dict has no image key {keys[0]!r}; keys: {list(batch)}")
        return batch[keys[0]], batch.get(keys[1])
    if isinstance(batch, Sequence) and not isinstance(batch, (str, bytes)) and len(batch) >= 1:
        return batch[0], batch[1] if len(batch) > 1 else None
    if isinstance(batch, Tensor):
        return batch, None
    raise TypeError(
        "the collated batch must be a tensor, a tuple/list (image, mask, ...) or a dict, "
        f"got {type(batch).__name__}"
    )


def _repeat(value: Any, times: int) -> Any:
    """Per-sample metadata for an output of ``times * B`` samples (hard block, soft block)."""
    if times == 1:
        return value
    if isinstance(value, Tensor) and value.ndim >= 1:
        return torch.cat([value] * times)
    if isinstance(value, (list, tuple)):
        return value * times
    return value


def _rebuild(batch: Any, new: dict[int | str, Any], times: int) -> Any:
    """The batch's structure with the ``new`` entries, other entries repeated ``times``."""
    if isinstance(batch, Tensor):
        return new[0]
    if isinstance(batch, Mapping):
        return {k: new[k] if k in new else _repeat(v, times) for k, v in batch.items()}
    items = [new[i] if i in new else _repeat(v, times) for i, v in enumerate(batch)]
    return tuple(items) if isinstance(batch, tuple) else items


class HSMixCollate:
    """``collate_fn`` that collates with ``base_collate`` and then applies ``aug`` to the batch.

    Args:
        aug: the :class:`~hsmix_torch.HSMix` to apply (on the CPU, in the worker).
        base_collate: how samples become a batch (``default_collate`` by default).
        image_key, mask_key: dict keys of images and masks (dict samples only).
        seed: optional seed; each worker then uses ``seed`` and its worker id. Without it,
            each worker seeds from its torch seed (reproducible with the DataLoader's seed).

    Returns the collated structure with images (and masks) mixed. With ``output="both"`` the
    batch doubles (hard block, then soft block), and every other per-sample entry (ids, file
    names, ...) is repeated in the same order, so nothing is dropped or misaligned.
    """

    def __init__(
        self,
        aug: HSMix,
        base_collate: Callable[[list[Any]], Any] = default_collate,
        image_key: str = "image",
        mask_key: str = "mask",
        seed: int | None = None,
    ) -> None:
        if not isinstance(aug, HSMix):
            raise TypeError(f"aug must be an HSMix module, got {type(aug).__name__}")
        self.aug = aug
        self.base_collate = base_collate
        self.keys = (image_key, mask_key)
        self._generator = _PerProcessGenerator(seed)

    def __call__(self, samples: list[Any]) -> Any:
        batch = self.base_collate(samples)
        images, masks = _split(batch, self.keys)
        # default_collate stacks tv_tensors into plain tensors: take the types from a sample.
        like_image, like_mask = _split(samples[0], self.keys) if samples else (images, masks)
        generator = self._generator.get()
        times = 2 if self.aug.output == "both" else 1
        if masks is None:
            mixed = self.aug(plain(images), generator=generator)
            new: dict[int | str, Any] = {self._slot(batch, 0): wrap_like(mixed, like_image)}
        else:
            mixed, mixed_masks = self.aug(plain(images), plain(masks), generator=generator)
            new = {
                self._slot(batch, 0): wrap_like(mixed, like_image),
                self._slot(batch, 1): wrap_like(mixed_masks, like_mask),
            }
        return _rebuild(batch, new, times)

    def _slot(self, batch: Any, index: int) -> int | str:
        return self.keys[index] if isinstance(batch, Mapping) else index


class SuperpixelCollate:
    """``collate_fn`` that adds superpixel labels ``[B, H, W]`` int64 to each batch.

    For the split mode: workers compute superpixels (the costly, CPU-friendly part), the
    GPU module consumes them: ``aug(images, masks, superpixels=labels)``.

    Args:
        superpixels: backend name (default ``"auto"``: fast-slic when installed) or callable.
        n_segments: int or inclusive ``(min, max)`` range drawn per image.
        compactness: passed to the backend.
        base_collate, image_key, seed: as for :class:`HSMixCollate`.
        superpixel_key: dict key for the labels (dict batches); tuples get them appended.
    """

    def __init__(
        self,
        superpixels: str | SuperpixelFn = "auto",
        n_segments: int | tuple[int, int] = (30, 80),
        compactness: float | None = None,
        base_collate: Callable[[list[Any]], Any] = default_collate,
        image_key: str = "image",
        superpixel_key: str = "superpixels",
        seed: int | None = None,
    ) -> None:
        self.n_segments = segment_range(n_segments)
        self.backend = get_backend(superpixels, compactness=compactness)
        self.base_collate = base_collate
        self.image_key = image_key
        self.superpixel_key = superpixel_key
        self._generator = _PerProcessGenerator(seed)

    def __call__(self, samples: list[Any]) -> Any:
        batch = self.base_collate(samples)
        images, _ = _split(batch, (self.image_key, ""))
        lo, hi = self.n_segments
        n = torch.randint(lo, hi + 1, (images.shape[0],), generator=self._generator.get())
        labels = self.backend(plain(images), n, max_segments=hi)
        if isinstance(batch, Mapping):
            return {**batch, self.superpixel_key: labels}
        if isinstance(batch, Tensor):
            return batch, labels
        return type(batch)([*batch, labels]) if isinstance(batch, tuple) else [*batch, labels]
