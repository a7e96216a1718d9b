"""Name -> backend registry, and the ``"auto"`` choice."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import torch
from torch import Tensor

from .base import CallableBackend, SuperpixelBackend, SuperpixelFn

__all__ = ["available_backends", "get_backend", "register_backend", "resolve_auto"]

BackendFactory = Callable[..., SuperpixelBackend]
_REGISTRY: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Register ``factory(**options) -> SuperpixelBackend`` under ``name``."""
    if not isinstance(name, str) or not name or name == "auto":
        raise ValueError(f"backend name must be a non-empty string other than 'auto', got {name!r}")
    _REGISTRY[name] = factory


def available_backends() -> list[str]:
    """Names accepted by :func:`get_backend` (besides ``"auto"``)."""
    return sorted(_REGISTRY)


def resolve_auto(device: torch.device) -> str:
    """The backend ``"auto"`` picks for images on ``device``.

    CUDA: ``"torch"`` (batched SLIC on the GPU, no host round trip; ``"auto"`` runs it in
    its ``sync_free`` mode). Other devices:
    ``"fast_slic"`` when fast-slic is installed, else ``"skimage"``, else ``"torch"`` (no
    optional package needed).
    """
    from .fast_slic import fast_slic_available

    if device.type == "cuda":
        return "torch"
    if fast_slic_available():
        return "fast_slic"
    return "skimage" if importlib.util.find_spec("skimage") is not None else "torch"


class _AutoBackend(SuperpixelBackend):
    """Picks the backend per call from the images' device (see :func:`resolve_auto`)."""

    name = "auto"

    def __init__(self, **options: object) -> None:
        super().__init__(options.get("compactness"))  # type: ignore[arg-type]
        self.options = options
        self._cache: dict[str, SuperpixelBackend] = {}

    def segment(self, images: Tensor, n_segments: Tensor, max_segments: int | None) -> Tensor:
        name = resolve_auto(images.device)
        if name not in self._cache:
            options = dict(self.options)
            if name == "torch":  # inside a training step: no host synchronisation at all
                options.setdefault("sync_free", True)
            self._cache[name] = get_backend(name, **options)
        return self._cache[name].segment(images, n_segments, max_segments)


def get_backend(backend: str | SuperpixelFn, **options: object) -> SuperpixelBackend:
    """Return a superpixel backend: ``(images [B,C,H,W], n_segments [B]) -> [B,H,W] long``.

    Args:
        backend: a registered name (see :func:`available_backends`), ``"auto"`` (the best
            backend for the images' device, chosen per call), a backend instance (returned
            as is), or any callable ``(images, n_segments) -> labels``.
        **options: passed to the backend's constructor (e.g. ``compactness``).
    """
    if isinstance(backend, SuperpixelBackend):
        return backend
    if isinstance(backend, str):
        if backend == "auto":
            return _AutoBackend(**options)
        if backend not in _REGISTRY:
            raise ValueError(
                f"superpixels must be 'auto', one of {available_backends()} or a callable, "
                f"got {backend!r}"
            )
        return _REGISTRY[backend](**options)
    if callable(backend):
        return CallableBackend(backend)
    raise TypeError(
        f"superpixels must be a backend name or a callable, got {type(backend).__name__}"
    )
