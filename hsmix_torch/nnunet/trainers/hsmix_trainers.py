"""The HSMix trainers, for nnU-Net's search of ``nnUNet_extTrainer`` (it imports this module
by its file name and looks for the trainer class named by ``-tr``)."""

from hsmix_torch.nnunet.trainer import (
    nnUNetTrainerHSMix,
    nnUNetTrainerHSMix2B,
    nnUNetTrainerHSMixHard,
)

__all__ = ["nnUNetTrainerHSMix", "nnUNetTrainerHSMix2B", "nnUNetTrainerHSMixHard"]
