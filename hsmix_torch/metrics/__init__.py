"""Evaluation measures: superpixel quality against ground-truth masks."""

from __future__ import annotations

from .superpixel_quality import (
    SuperpixelQuality,
    achievable_segmentation_accuracy,
    average_quality,
    boundary_recall,
    fragmented_fraction,
    superpixel_quality,
    undersegmentation_error,
)

__all__ = [
    "SuperpixelQuality",
    "achievable_segmentation_accuracy",
    "average_quality",
    "boundary_recall",
    "fragmented_fraction",
    "superpixel_quality",
    "undersegmentation_error",
]
