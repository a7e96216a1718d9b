"""Shared fixtures: real images from ../shared/data (HSMIX_DATA elsewhere) or, without them,
the package's built-in samples; and scikit-image's samples."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

# Without a GPU, Triton kernels run in Triton's interpreter on CPU tensors; it is chosen when
# the kernel modules are imported (lazily, by the code that uses them), so set it first.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
# pytest-xdist runs one worker per core (make test): each takes one core's threads.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
from torch import Tensor

from hsmix_torch.data import load_image_folder, load_volume_folder, resize_crop, sample_batch

# HSMIX_DATA points elsewhere, e.g. at a copy carried to a GPU machine.
DATA = Path(
    os.environ.get("HSMIX_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
RGB_SETS = ("Kvasir_SEG", "DRIVE", "CHASE_DB1")
GREY_SETS = ("BUSI", "ISBI2012_EM")


def _need_data() -> None:
    if not DATA.is_dir():
        pytest.skip(f"real-image data not found at {DATA} (only the project's CI has it)")


def load_set(name: str, size: int = 224, limit: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """``limit`` image/mask pairs with non-empty masks, spread evenly over the sorted set."""
    _need_data()
    n_files = len(list((DATA / name / "images").glob("*.png")))
    images, masks, _ = load_image_folder(
        DATA / name,
        size=size,
        limit=limit,
        stride=max(1, n_files // (2 * limit)),
        require_foreground=True,
    )
    return images, masks


def load_hippocampus(limit: int | None = None):
    """MSD hippocampus MRI crops of ../shared/data (normalised per case): ``(images
    [1, D, H, W] each, labels [D, H, W] each, spacings, stems)``, or a skip without it."""
    _need_data()
    return load_volume_folder(DATA / "MSD_Hippocampus", limit=limit)


def builtin_batch(count: int, channels: int = 3, size: int = 224) -> tuple[Tensor, Tensor]:
    """The package's built-in samples as uint8 ``[count, channels, size, size]`` with masks."""
    images, masks = sample_batch(size, count=count, channels=channels)
    return (images * 255).round().to(torch.uint8), masks


def real_or_builtin(name: str, limit: int, channels: int, size: int = 224):
    """``limit`` pairs of a real data set when ../shared/data is there, else as many
    built-in samples (so every feature is exercised on a user's clone too)."""
    if DATA.is_dir():
        return load_set(name, size=size, limit=limit)
    return builtin_batch(limit, channels, size)


@pytest.fixture(scope="session")
def rgb_batch() -> tuple[Tensor, Tensor]:
    """8 RGB uint8 images [8, 3, 224, 224] with binary masks: Kvasir-SEG polyps, or the
    built-in samples without ../shared/data."""
    return real_or_builtin("Kvasir_SEG", 8, 3)


@pytest.fixture(scope="session")
def any_rgb_batch() -> tuple[Tensor, Tensor]:
    """16 RGB uint8 images [16, 3, 224, 224] with masks (Kvasir-SEG or built-in)."""
    return real_or_builtin("Kvasir_SEG", 16, 3)


@pytest.fixture(scope="session")
def grey_batch() -> tuple[Tensor, Tensor]:
    """8 grey uint8 images [8, 1, 224, 224] with binary masks: BUSI ultrasound, or the
    built-in samples in grey without ../shared/data."""
    return real_or_builtin("BUSI", 8, 1)


@pytest.fixture(scope="session")
def skimage_samples() -> list[torch.Tensor]:
    """scikit-image's bundled RGB samples as uint8 [3, H, W] tensors at 224 and 256 px."""
    from skimage import data

    ihc = torch.from_numpy(data.immunohistochemistry()).permute(2, 0, 1)
    retina = torch.from_numpy(np.ascontiguousarray(data.retina())).permute(2, 0, 1)
    return [resize_crop(ihc, None, 224)[0], resize_crop(retina, None, 256)[0]]
