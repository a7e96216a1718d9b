"""Shared fixtures: real images from ../shared/data (skipped when absent) and skimage samples."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from hsmix_torch.data import load_image_folder, resize_crop

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


@pytest.fixture(scope="session")
def rgb_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """8 RGB uint8 images [8, 3, 224, 224] (Kvasir-SEG polyps) with binary masks."""
    return load_set("Kvasir_SEG", limit=8)


@pytest.fixture(scope="session")
def any_rgb_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """16 RGB uint8 images [16, 3, 224, 224] with masks: Kvasir-SEG when ../shared/data is
    there, else the built-in samples (so device tests run on a machine without the data)."""
    if DATA.is_dir():
        return load_set("Kvasir_SEG", limit=16)
    from hsmix_torch.data import sample_batch

    images, masks = sample_batch(224)
    return (images * 255).round().to(torch.uint8).repeat(4, 1, 1, 1), masks.repeat(4, 1, 1)


@pytest.fixture(scope="session")
def grey_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """8 grey uint8 images [8, 1, 224, 224] (BUSI ultrasound) with binary masks."""
    return load_set("BUSI", limit=8)


@pytest.fixture(scope="session")
def skimage_samples() -> list[torch.Tensor]:
    """scikit-image's bundled RGB samples as uint8 [3, H, W] tensors at 224 and 256 px."""
    from skimage import data

    ihc = torch.from_numpy(data.immunohistochemistry()).permute(2, 0, 1)
    retina = torch.from_numpy(np.ascontiguousarray(data.retina())).permute(2, 0, 1)
    return [resize_crop(ihc, None, 224)[0], resize_crop(retina, None, 256)[0]]
