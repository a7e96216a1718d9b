"""DataLoader ``collate_fn`` wrappers: mix in the workers, or only compute superpixels there.

Two ways to use CPU workers:

1. ``HSMixCollate(HSMix(...))``: the workers return batches that are already mixed.
2. ``SuperpixelCollate(...)``: the workers add superpixel labels to each batch; HSMix on the
   GPU consumes them with ``aug(images, masks, segments=labels)``, so saliency and mixing
   run on the device, overlapped with training.

Both take any sample structure (tuples, dicts, nested; ``tv_tensors``) and find the image and
masks as :mod:`hsmix_torch.structure` says. Each worker process draws from its own
``torch.Generator``, seeded from the worker's torch seed (which the DataLoader derives from
its own seed or generator, distinct per worker) or from ``seed`` and the worker id.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import default_collate, get_worker_info

from ._checks import check_seed, check_spacing, segment_range
from ._tensor_types import plain
from .module import HSMix
from .sampler import segment_counts
from .structure import BatchFields, Getter, locate, retype_like
from .superpixels import SuperpixelFn, get_backend

__all__ = ["HSMixCollate", "SuperpixelCollate"]


class _PerProcessGenerator:
    """A ``torch.Generator`` created lazily in each (worker) process."""

    def __init__(self, seed: int | None) -> None:
        self.seed = check_seed(seed)
        self._generator: torch.Generator | None = None
        self._pid: int | None = None

    @torch.compiler.disable  # process bookkeeping, not tensor code
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


def _callable(fn: object, name: str) -> Callable[..., Any]:
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {fn!r}")
    return fn


def _collate(base: Callable[[list[Any]], Any], samples: list[Any]) -> Any:
    if not samples:
        raise ValueError("collate_fn got an empty list of samples")
    return retype_like(base(samples), samples[0])


class HSMixCollate:
    """``collate_fn`` that collates with ``base_collate`` and then mixes the batch with ``aug``.

    Args:
        aug: the :class:`~hsmix_torch.HSMix` to apply (on the CPU, in the worker). In
            ``aug.eval()`` mode batches pass unmixed, as with the module.
        base_collate: how samples become a batch (``default_collate`` by default).
        image_key, mask_keys: dict keys (or getters) of the image and the masks; None finds
            them by type, key or position (:mod:`hsmix_torch.structure`).
        seed: optional seed; each worker then uses ``seed`` and its worker id. Without it,
            each worker seeds from its torch seed (reproducible with the DataLoader's seed).

    Called with a list of samples, it returns the collated structure with images and
    masks mixed. With ``output="both"`` the batch doubles (hard block, then soft block), and
    every other per-sample entry (ids, file names, nested metadata) is repeated in the same
    order, so nothing is dropped or misaligned.

    Raises:
        TypeError: ``aug`` is no HSMix, ``base_collate`` no callable, ``seed`` no int.
    """

    def __init__(
        self,
        aug: HSMix,
        base_collate: Callable[[list[Any]], Any] = default_collate,
        image_key: str | Getter | None = None,
        mask_keys: Sequence[str | Getter] | None = None,
        seed: int | None = None,
    ) -> None:
        if not isinstance(aug, HSMix):
            raise TypeError(f"aug must be an HSMix module, got {type(aug).__name__}")
        self.aug = aug
        self.base_collate = _callable(base_collate, "base_collate")
        self.fields = BatchFields(image=image_key, masks=mask_keys)
        self._generator = _PerProcessGenerator(seed)

    def __call__(self, samples: list[Any]) -> Any:
        """Collate ``samples`` and mix the batch.

        Args:
            samples: the DataLoader's list of samples (any structure).

        Returns:
            The batch structure, mixed (unmixed in ``aug.eval()`` mode).
        """
        batch = _collate(self.base_collate, samples)
        if not self.aug.training:
            return batch
        mixed, _ = self.aug.mix_structure(batch, self.fields, generator=self._generator.get())
        return mixed


class SuperpixelCollate:
    """``collate_fn`` that adds superpixel labels ``[B, *S]`` int64 to each batch (images
    ``[B, C, H, W]`` or volumes ``[B, C, D, H, W]``).

    For the split mode: workers compute superpixels (the costly, CPU-friendly part), the
    GPU module consumes them: ``aug(images, masks, segments=labels)``.

    Args:
        superpixels: backend name (default ``"auto"``: fast-slic when installed) or callable.
        n_segments: int or inclusive ``(min, max)`` range drawn per image.
        compactness: passed to the backend.
        spacing: the voxel size per spatial axis, passed to the backend (see
            :class:`~hsmix_torch.HSMix`); None: all 1.
        base_collate, image_key, seed: as for :class:`HSMixCollate`.
        superpixel_key: dict key for the labels (dict batches); tuples and lists get them
            appended, a tensor batch becomes ``(images, labels)``.

    Raises:
        TypeError: an argument of the wrong type.
        ValueError: an unknown backend, ``n_segments`` or ``spacing`` out of range.
    """

    def __init__(
        self,
        superpixels: str | SuperpixelFn = "auto",
        n_segments: int | tuple[int, int] = (30, 80),
        compactness: float | None = None,
        spacing: Sequence[float] | None = None,
        base_collate: Callable[[list[Any]], Any] = default_collate,
        image_key: str | Getter | None = None,
        superpixel_key: str = "superpixels",
        seed: int | None = None,
    ) -> None:
        self.n_segments = segment_range(n_segments)
        self.backend = get_backend(superpixels, compactness=compactness)
        self.spacing = check_spacing(spacing)
        self.base_collate = _callable(base_collate, "base_collate")
        self.fields = BatchFields(image=image_key, masks=())
        if not isinstance(superpixel_key, str):
            raise TypeError(f"superpixel_key must be a dict key (str), got {superpixel_key!r}")
        self.superpixel_key = superpixel_key
        self._generator = _PerProcessGenerator(seed)

    def __call__(self, samples: list[Any]) -> Any:
        """Collate ``samples`` and add the superpixels of their images.

        Args:
            samples: the DataLoader's list of samples (any structure).

        Returns:
            The batch with the labels ``[B, *S]`` int64 added (see ``superpixel_key``).

        Raises:
            KeyError: a dict batch that has a ``superpixel_key`` entry already.
        """
        batch = _collate(self.base_collate, samples)
        flat = locate(batch, self.fields)
        images = plain(flat.leaves[flat.image])
        n = segment_counts(images.shape[0], self.n_segments, images.device, self._generator.get())
        labels = self.backend(images, n, max_segments=self.n_segments[1], spacing=self.spacing)
        if isinstance(batch, Mapping):
            if self.superpixel_key in batch:
                raise KeyError(f"the batch already has a {self.superpixel_key!r} entry")
            return {**batch, self.superpixel_key: labels}
        if isinstance(batch, Tensor):
            return batch, labels
        return type(batch)([*batch, labels]) if isinstance(batch, tuple) else [*batch, labels]
