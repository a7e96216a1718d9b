"""Triton kernels for the GPU path, each equal to a torch-ops reference it names.

The torch-ops code stays the reference and the fallback; ``kernels=`` arguments choose:
``"auto"`` (Triton on CUDA when it imports, torch ops elsewhere), ``"triton"`` (CUDA, or CPU
tensors under ``TRITON_INTERPRET=1``, which must be set before this package's kernel
modules are imported) or ``"torch"``. Kernels are registered as torch custom ops with fake
implementations, so ``torch.compile`` and CUDA graphs see them as single ops.

Kernels and the torch-ops references they equal (the SLIC and connectivity kernels take
images and volumes: an image is a volume of depth 1, the depth axis compiled in for volumes
only; the maps of a mix flatten the spatial axes):

- :mod:`.slic_kmeans`: the torch SLIC's k-means rounds, two kernels a round
  (``hsmix_torch.superpixels.torch_slic._kmeans``);
- :mod:`.connectivity`: the component-labelling rounds, two kernels a round, and both
  small-fragment merge passes (``hsmix_torch.superpixels.connectivity._run_rounds`` and
  ``_merge_small``);
- :mod:`.saliency`: OpenCV's fine-grained saliency (``hsmix_torch.saliency.fine_grained``);
- :mod:`.mixing_maps`: the per-superpixel uniforms (``hsmix_torch.sampler.region_uniforms``)
  and the soft weight L (``hsmix_torch.functional.soft_lambda``).

Torch ops still: the SLIC features (rescaling, CIELAB: a bit-exact Triton version needs
libdevice, which the interpreter cannot run), the grid set-up, the final relabelling, the
Beta weights of ``lam="beta"``, and the mixing itself (single passes over the data; a
Triton lerp would not match CUDA's FMA-contracted ``torch.lerp`` bit for bit).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Callable
from typing import Literal, TypeVar

import torch

__all__ = [
    "KERNELS",
    "Kernels",
    "check_kernels",
    "choose",
    "resolve_kernels",
    "triton_available",
    "with_fallback",
]

T = TypeVar("T")
_FAILED: set[str] = set()

Kernels = Literal["auto", "triton", "torch"]
KERNELS = ("auto", "triton", "torch")


# Found once at import: a plain constant is what torch.compile traces best.
_TRITON_FOUND = importlib.util.find_spec("triton") is not None


def triton_available() -> bool:
    """True when Triton can be imported (CUDA builds of torch ship it)."""
    return _TRITON_FOUND


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def check_kernels(kernels: object) -> str:
    """``kernels`` as given, or a ValueError naming the choices."""
    if kernels not in KERNELS:
        raise ValueError(f"kernels must be one of {KERNELS}, got {kernels!r}")
    return kernels  # type: ignore[return-value]


def resolve_kernels(kernels: str, device: torch.device) -> Literal["triton", "torch"]:
    """The implementation ``kernels`` picks for tensors on ``device``.

    Raises:
        ValueError: ``kernels="triton"`` where Triton cannot run (not installed; CPU tensors
            without ``TRITON_INTERPRET=1``; other devices).
    """
    check_kernels(kernels)
    if kernels == "torch":
        return "torch"
    runnable = triton_available() and (
        device.type == "cuda" or (device.type == "cpu" and _interpreting())
    )
    if kernels == "auto":
        return "triton" if runnable and device.type == "cuda" else "torch"
    if not runnable:
        why = (
            "Triton is not installed"
            if not triton_available()
            else f"Triton runs on CUDA tensors (or CPU tensors under TRITON_INTERPRET=1), "
            f"got {device.type} tensors"
        )
        raise ValueError(f'kernels="triton" cannot run here: {why}; use kernels="auto"')
    return "triton"


def with_fallback(
    name: str, kernel: Callable[..., T], reference: Callable[..., T]
) -> Callable[..., T]:
    """``kernel``, falling back to its torch-ops ``reference`` (with a warning, once per
    process) if it fails, e.g. to compile on a GPU or Triton version it was not built on.
    For ``kernels="auto"`` only: ``"triton"`` lets the error through."""

    def run(*args: object, **kwargs: object) -> T:
        if name not in _FAILED:
            try:
                return kernel(*args, **kwargs)
            except Exception as err:  # noqa: BLE001 - any failure: the reference still works
                _FAILED.add(name)
                warnings.warn(
                    f"the Triton kernel {name} failed ({type(err).__name__}: {err}); using "
                    'torch ops from now on (kernels="triton" raises instead)',
                    RuntimeWarning,
                    stacklevel=2,
                )
        return reference(*args, **kwargs)

    return run


def choose(
    name: str,
    kernels: str,
    device: torch.device,
    reference: Callable[..., T],
    load: Callable[[], Callable[..., T]],
) -> Callable[..., T]:
    """The implementation ``kernels`` picks on ``device``: the torch-ops ``reference``, or
    the Triton kernel ``load()`` imports (only then: the kernel modules must be imported
    after ``TRITON_INTERPRET`` is set), with the fallback for ``"auto"``."""
    if resolve_kernels(kernels, device) == "torch":
        return reference
    kernel = load()
    return with_fallback(name, kernel, reference) if kernels == "auto" else kernel
