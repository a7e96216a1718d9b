"""Triton kernels for the GPU path, each equal to a torch-ops reference it names.

The torch-ops code stays the reference and the fallback; ``kernels=`` arguments choose:
``"auto"`` (Triton on CUDA when it imports, torch ops elsewhere), ``"triton"`` (CUDA, or CPU
tensors under ``TRITON_INTERPRET=1``, which must be set before this package's kernel
modules are imported) or ``"torch"``. Kernels are registered as torch custom ops with fake
implementations, so ``torch.compile`` and CUDA graphs see them as single ops.

Kernels so far, for the torch SLIC: the assignment (:mod:`.slic_assign`, reference
``hsmix_torch.superpixels.torch_slic._assign``), the centre update's sums
(:mod:`.slic_update`, reference ``torch_slic._update``), and in the connectivity step the
component-labelling rounds and the small-fragment merge's neighbour search
(:mod:`.connectivity`, references ``hsmix_torch.superpixels.connectivity._run_rounds`` and
``_merge_keys_torch``); fine-grained saliency (:mod:`.saliency`, reference
``hsmix_torch.saliency.fine_grained``'s torch body). The merge's bookkeeping, the region
reductions and the mixing are torch ops.
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
