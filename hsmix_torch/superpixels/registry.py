"""Name -> backend registry, and the ``"auto"`` choice."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from functools import cache

import torch
from torch import Tensor

from .base import CallableBackend, SuperpixelBackend, SuperpixelFn

__all__ = ["available_backends", "get_backend", "register_backend", "resolve_auto"]

BackendFactory = Callable[..., SuperpixelBackend]
_REGISTRY: dict[str, tuple[BackendFactory, Callable[[], bool]]] = {}


def _always() -> bool:
    return True


def register_backend(
    name: str, factory: BackendFactory, available: Callable[[], bool] = _always
) -> None:
    """Register a backend under a name that :func:`get_backend` and ``HSMix`` accept.

    Args:
        name: the registry name (replaces a backend of that name).
        factory: ``factory(**options) -> SuperpixelBackend``.
        available: says whether the backend can run here (its optional package imports).

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: ``name`` is empty or ``"auto"``.
    """
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a string, got {type(name).__name__}")
    if not name or name == "auto":
        raise ValueError(f"backend name must be a non-empty string other than 'auto', got {name!r}")
    _REGISTRY[name] = (factory, available)


def available_backends() -> list[str]:
    """Names accepted by :func:`get_backend` (besides ``"auto"``) that can run here.

    Returns:
        The sorted names of the registered backends whose packages import.

    Example:
        >>> {"grid", "torch"} <= set(available_backends())
        True
    """
    return sorted(name for name, (_, available) in _REGISTRY.items() if available())


@cache  # "auto" asks on every call on the CPU
def skimage_available() -> bool:
    """True when scikit-image can be imported."""
    return importlib.util.find_spec("skimage") is not None


def resolve_auto(
    device: torch.device, spatial: int = 2, spacing: tuple[float, ...] | None = None
) -> str:
    """The backend ``"auto"`` picks.

    CUDA: ``"torch"`` (batched SLIC on the GPU, no host round trip; ``"auto"`` runs it in
    its ``sync_free`` mode), for images and volumes. Other devices: ``"fast_slic"`` for
    images without a spacing when fast-slic is installed (it is 2-D only and has no
    spacing), then ``"skimage"`` (natively 3-D, with spacing), else ``"torch"`` (no optional
    package needed, but slow on a CPU).

    Args:
        device: the images' device.
        spatial: 2 for images, 3 for volumes.
        spacing: the voxel size per spatial axis, or None for all 1.

    Returns:
        A registered backend name.
    """
    if device.type == "cuda":
        return "torch"
    spaced = spacing is not None and any(v != 1.0 for v in spacing)
    for name in ("fast_slic", "skimage"):
        handles = spatial in getattr(_REGISTRY[name][0], "spatial", ())
        if name in available_backends() and handles and not (spaced and name == "fast_slic"):
            return name
    return "torch"


class AutoBackend(SuperpixelBackend):
    """Picks the backend per call from the images' device, number of spatial axes and
    spacing (see :func:`resolve_auto`). ``repr`` names what it would pick on the CPU and
    CUDA; it does not change with the calls.

    Args:
        **options: passed to the constructor of the backend picked (``kernels`` only to
            ``"torch"``).
    """

    name = "auto"

    def __init__(self, **options: object) -> None:
        super().__init__(options.get("compactness"))  # type: ignore[arg-type]
        self.options = options
        self._cache: dict[str, SuperpixelBackend] = {}
        self._warned = False

    def resolve(
        self, device: torch.device, spatial: int = 2, spacing: tuple[float, ...] | None = None
    ) -> SuperpixelBackend:
        """The backend used for some images (built once per name).

        Args:
            device: the images' device.
            spatial: 2 for images, 3 for volumes.
            spacing: the voxel size per spatial axis, or None for all 1.

        Returns:
            The backend instance.
        """
        name = resolve_auto(device, spatial, spacing)
        if name == "torch" and device.type != "cuda" and not self._warned:
            self._warned = True
            warnings.warn(
                'superpixels="auto" fell back to the torch SLIC on the CPU (neither fast-slic '
                "nor scikit-image is installed); it is about 100 times slower than fast-slic "
                "there: pip install cython numpy setuptools wheel && pip install "
                "--no-build-isolation fast-slic",
                RuntimeWarning,
                stacklevel=3,
            )
        if name not in self._cache:
            options = dict(self.options)
            if name == "torch":  # inside a training step: no host synchronisation at all
                options.setdefault("sync_free", True)
            else:  # only the torch SLIC has Triton kernels
                options.pop("kernels", None)
            self._cache[name] = get_backend(name, **options)
        return self._cache[name]

    def label_bound(
        self,
        size: tuple[int, ...],
        max_segments: int,
        device: torch.device,
        spacing: tuple[float, ...] | None = None,
    ) -> int:
        backend = self.resolve(device, len(size), spacing)
        return backend.label_bound(size, max_segments, device, spacing)

    def capturable(self, device: torch.device) -> bool:
        return self.resolve(device).capturable(device)

    def segment(
        self,
        images: Tensor,
        n_segments: Tensor,
        max_segments: int | None,
        spacing: tuple[float, ...] | None,
    ) -> Tensor:
        backend = self.resolve(images.device, images.ndim - 2, spacing)
        return backend.segment(images, n_segments, max_segments, spacing)

    def __repr__(self) -> str:
        cpu = resolve_auto(torch.device("cpu"))
        volumes = resolve_auto(torch.device("cpu"), 3)
        options = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"AutoBackend(cpu -> {cpu!r} (volumes {volumes!r}), cuda -> 'torch'{options})"


def get_backend(backend: str | SuperpixelFn, **options: object) -> SuperpixelBackend:
    """Return a superpixel backend: ``(images [B, C, *S], n_segments [B]) -> [B, *S] long``.

    Args:
        backend: a registered name (see :func:`available_backends`), ``"auto"`` (the best
            backend for the images' device, chosen per call), a backend instance (returned
            as is), or any callable ``(images, n_segments) -> labels``.
        **options: passed to the backend's constructor (e.g. ``compactness``).

    Returns:
        The backend.

    Raises:
        TypeError: ``backend`` is neither a string nor a callable.
        ValueError: ``backend`` is not a registered name.
    """
    if isinstance(backend, SuperpixelBackend):
        return backend
    if isinstance(backend, str):
        if backend == "auto":
            return AutoBackend(**options)
        if backend not in _REGISTRY:
            raise ValueError(
                f"superpixels must be 'auto', one of {sorted(_REGISTRY)} or a callable, "
                f"got {backend!r}"
            )
        return _REGISTRY[backend][0](**options)
    if callable(backend):
        return CallableBackend(backend)
    raise TypeError(
        f"superpixels must be a backend name or a callable, got {type(backend).__name__}"
    )
