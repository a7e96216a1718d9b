"""Triton kernels for the GPU path, each equal to a torch-ops reference it names.

The torch-ops code stays the reference and the fallback; ``kernels=`` arguments choose:
``"auto"`` (Triton on CUDA when it imports, torch ops elsewhere), ``"triton"`` (CUDA, or CPU
tensors under ``TRITON_INTERPRET=1``, which must be set before this package's kernel
modules are imported) or ``"torch"``. Kernels are registered as torch custom ops with fake
implementations, so ``torch.compile`` and CUDA graphs see them as single ops.

Kernels and the torch-ops references they equal (the SLIC and connectivity kernels take
images and volumes: an image is a volume of depth 1, the depth axis compiled in for volumes
only; the maps of a mix flatten the spatial axes). All index in 32 bits (``_common``):
larger tensors take the torch ops or are refused. What a GPU does and the interpreter does
not is held to account here: every launch grid is 1-D (CUDA's second and third axes take
65,535 programs only), every division where a kernel promises torch's numbers is
``tl.div_rn`` (an fp32 ``/`` compiles to an approximate division), every atomic and store
is masked in bounds, and lanes sharing an address add their runs before one atomic. The
tests run every kernel adversarially (programs shuffled or interleaved, lanes shuffled,
poisoned buffers, addresses checked: ``tests/kernels/adversarial.py``), and ``hsmix-torch
check`` compares each stage with its reference on the user's own device.

- :mod:`.slic_features`: rescaling, CIELAB and compactness in one pass
  (``hsmix_torch.superpixels.torch_slic._features``; equal within about 1e-6 relative: the
  two powers of CIELAB are ``exp2(p * log2(x))``, the interpreter has no libdevice);
- :mod:`.slic_kmeans`: the torch SLIC's k-means, a start kernel and two kernels a round
  (``hsmix_torch.superpixels.torch_slic._kmeans``, label for label);
- :mod:`.connectivity`: components by union-find in three launches, scikit-image's
  small-fragment scan, the raster-order relabelling
  (``hsmix_torch.superpixels.connectivity.enforce_connectivity``, label for label);
- :mod:`.saliency`: OpenCV's fine-grained saliency, five kernels
  (``hsmix_torch.saliency.fine_grained``, bit for bit);
- :mod:`.mixing_maps`: the pasted set, ``M``, the soft weight ``L`` and ``mixed``
  (``hsmix_torch.functional.maps._mix_maps``, exactly);
- :mod:`.mixing`: the mixed batch and one-hot class maps in one pass over the data
  (``hsmix_torch.functional.mixing._mix_batch`` and ``_mix_classes``; equal on CUDA, within
  one rounding in the interpreter, which does not fuse the lerp's multiply-add).

Still torch ops: the per-image extremes before the features, the grid set-up, the random
draws and the Beta weights of ``lam="beta"`` (a few small launches; ``benchmarks/
gpu_report.py`` lists them per forward).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Callable
from typing import Literal, TypeVar

import torch

from .._checks import check_choice
from .._constants import KERNELS, Kernels

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


# Found once at import: a plain constant is what torch.compile traces best.
_TRITON_FOUND = importlib.util.find_spec("triton") is not None


def triton_available() -> bool:
    """Whether Triton can be imported (CUDA builds of torch ship it).

    Returns:
        True when the ``triton`` package is installed.
    """
    return _TRITON_FOUND


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def check_kernels(kernels: object) -> str:
    """Check a ``kernels=`` option.

    Args:
        kernels: the value given; one of ``"auto"``, ``"triton"``, ``"torch"``.

    Returns:
        ``kernels``, unchanged.

    Raises:
        TypeError: ``kernels`` is not a string.
        ValueError: it is not one of the choices (the error names them).
    """
    return check_choice(kernels, "kernels", KERNELS)


def resolve_kernels(kernels: str, device: torch.device) -> Literal["triton", "torch"]:
    """The implementation ``kernels`` picks for tensors on ``device``.

    Args:
        kernels: ``"auto"`` (Triton on CUDA tensors, torch ops elsewhere), ``"triton"`` or
            ``"torch"``.
        device: the device of the tensors the kernels will run on.

    Returns:
        ``"triton"`` or ``"torch"``.

    Raises:
        TypeError: ``kernels`` is not a string.
        ValueError: ``kernels`` is not a choice, or is ``"triton"`` where Triton cannot
            run (not installed; CPU tensors without ``TRITON_INTERPRET=1``; other devices).
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
    """``kernel``, falling back to its torch-ops ``reference`` if it fails.

    A failure (e.g. to compile on a GPU or Triton version it was not built on) warns once per
    process and uses ``reference`` from then on. For ``kernels="auto"`` only: ``"triton"``
    lets the error through.

    Args:
        name: the kernel's name, for the warning and the once-per-process record.
        kernel: the Triton implementation.
        reference: the torch-ops implementation it must equal.

    Returns:
        A callable with the signature of both.
    """

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
    """The implementation ``kernels`` picks on ``device``.

    Args:
        name: the kernel's name (see :func:`with_fallback`).
        kernels: ``"auto"``, ``"triton"`` or ``"torch"``.
        device: the device of the tensors.
        reference: the torch-ops implementation.
        load: imports and returns the Triton kernel; called only when it is picked (the
            kernel modules must be imported after ``TRITON_INTERPRET`` is set).

    Returns:
        ``reference``, the Triton kernel, or (``"auto"``) the kernel with the fallback.

    Raises:
        ValueError: see :func:`resolve_kernels`.
    """
    if resolve_kernels(kernels, device) == "torch":
        return reference
    kernel = load()
    return with_fallback(name, kernel, reference) if kernels == "auto" else kernel
