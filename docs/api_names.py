"""The public names of hsmix_torch, in one place: the API reference is generated from this
list (``conf.py``) and the tests hold every name to it (a page each in the built site, a
docstring with Args, Returns and Raises where they apply: ``tests/test_docstrings.py``).

A name is public when it is in the ``__all__`` of one of :data:`API_MODULES`. A name that
two modules export (``draw`` in ``hsmix_torch`` and ``hsmix_torch.sampler``) is documented
once, under the first.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator

# The package, its subpackages, the adapters (kornia; the collates and HSMixd are in the
# package itself; nnU-Net's trainers in hsmix_torch.nnunet), and the public modules users
# import from (samples, pictures, the check, structures, draws).
API_MODULES = (
    "hsmix_torch",
    "hsmix_torch.structure",
    "hsmix_torch.sampler",
    "hsmix_torch.functional",
    "hsmix_torch.superpixels",
    "hsmix_torch.saliency",
    "hsmix_torch.kernels",
    "hsmix_torch.metrics",
    "hsmix_torch.data",
    "hsmix_torch.viz",
    "hsmix_torch.check",
    "hsmix_torch.kornia",
    "hsmix_torch.nnunet",
)


def is_documented_object(obj: object) -> bool:
    """A class or function: documented by its own docstring, on a page of its own. Other
    public names (constants, type aliases) are described in :data:`DATA_DOCS`."""
    return inspect.isclass(obj) or inspect.isroutine(obj)


def public_names() -> Iterator[tuple[str, str, object]]:
    """``(module, name, object)`` of every public name, each object once."""
    seen: set[object] = set()
    for module_name in API_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            key = id(obj) if is_documented_object(obj) else (module_name, name)
            if key in seen:
                continue
            seen.add(key)
            yield module_name, name, obj


# What each public constant and type alias is (they have no docstring of their own).
DATA_DOCS = {
    "hsmix_torch.structure.Getter": "A callable ``batch -> tensor`` that names a field of a "
    "batch structure (``BatchFields(image=lambda b: b['x'])``).",
    "hsmix_torch.sampler.PAIRINGS": "The pairings of a mix: ``'derangement'`` (nobody paired "
    "with itself when B >= 2) and ``'permutation'`` (the published scripts').",
    "hsmix_torch.superpixels.DEFAULT_COMPACTNESS_GREY": "SLIC's compactness for images of "
    "other than 3 channels when none is given ([0, 1] intensity units; the Synapse scripts').",
    "hsmix_torch.superpixels.DEFAULT_COMPACTNESS_RGB": "SLIC's compactness for RGB images when "
    "none is given (CIELAB units; the ISIC scripts').",
    "hsmix_torch.superpixels.SuperpixelFn": "A superpixel callable ``(images [B, C, *S], "
    "n_segments [B]) -> [B, *S]`` integer labels in ``[0, prod(S))``.",
    "hsmix_torch.saliency.NAMES": "The saliency names :func:`get_saliency` resolves.",
    "hsmix_torch.saliency.VOLUME_DEFAULT": "What ``saliency='auto'`` takes for volumes: the 3-D "
    "spectral residual (the most coherent across slices on the MSD hippocampus crops).",
    "hsmix_torch.saliency.SaliencyFn": "A saliency callable ``images [B, C, *S] -> "
    "[B, 1, *S]`` float32 in [0, 1].",
    "hsmix_torch.kernels.KERNELS": "The values of ``kernels=``: ``'auto'`` (Triton on CUDA), "
    "``'triton'``, ``'torch'``.",
    "hsmix_torch.kernels.Kernels": "The type of ``kernels=`` arguments (a ``Literal`` of "
    ":data:`KERNELS`).",
    "hsmix_torch.viz.PLANES": "The three orthogonal planes of a ``[D, H, W]`` volume, each "
    "with the axis it cuts.",
    "hsmix_torch.nnunet.OPTIONS_VARIABLE": "The environment variable whose JSON (or JSON file) "
    "updates the trainers' ``hsmix_options``.",
    "hsmix_torch.nnunet.TRAINER_FOLDER": "The folder nnU-Net's ``nnUNet_extTrainer`` should "
    "point at (``hsmix-torch nnunet-trainers`` prints it).",
}
