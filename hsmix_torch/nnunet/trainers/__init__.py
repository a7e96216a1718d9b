"""The folder ``nnUNet_extTrainer`` points at (see :mod:`hsmix_torch.nnunet`)."""
