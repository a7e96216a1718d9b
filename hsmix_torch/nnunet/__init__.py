"""HSMix in nnU-Net's training step (the ``nnunet`` extra: nnunetv2 2.8).

Train with ``nnUNetv2_train DATASET CONFIG FOLD -tr nnUNetTrainerHSMix`` after pointing
nnU-Net at the trainers: ``export nnUNet_extTrainer=$(hsmix-torch nnunet-trainers)``.

- :class:`nnUNetTrainerHSMix`: B in, B out, hard or soft per sample, soft targets and a loss
  that takes them (:class:`SoftTargetLoss`).
- :class:`nnUNetTrainerHSMixHard`: hard mixes only, integer targets, nnU-Net's own loss.
- :class:`nnUNetTrainerHSMix2B`: the published output, hard and soft batches (2B).

:mod:`.trainer` says how deep supervision, intensities, ignore labels, regions and options
are handled.
"""

from __future__ import annotations

from pathlib import Path

from .loss import SoftTargetLoss
from .trainer import (
    OPTIONS_VARIABLE,
    nnUNetTrainerHSMix,
    nnUNetTrainerHSMix2B,
    nnUNetTrainerHSMixHard,
)

__all__ = [
    "OPTIONS_VARIABLE",
    "TRAINER_FOLDER",
    "SoftTargetLoss",
    "nnUNetTrainerHSMix",
    "nnUNetTrainerHSMix2B",
    "nnUNetTrainerHSMixHard",
]

# What nnUNet_extTrainer points at: a folder whose one module names the trainers (nnU-Net
# imports every module of the folder it is given, so it cannot be this package's folder).
TRAINER_FOLDER = Path(__file__).resolve().parent / "trainers"
