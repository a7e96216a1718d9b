"""nnU-Net trainers that mix each training batch with HSMix on the trainer's device.

nnU-Net augments per sample in CPU workers; a batch-level mix belongs after the loader, in
``train_step``. The trainers mix ``batch["data"]`` ``[B, C, *S]`` and the full-resolution
target, make the deep-supervision targets from the mixed one, and train on them. Validation,
checkpoints and ``nnUNetv2_predict`` are nnU-Net's own: nothing is mixed there.

- Deep supervision: at each lower resolution the target has the shape nnU-Net gave it; label
  maps are resampled as nnU-Net resamples them (nearest-exact), probabilities by an area
  average, so every scale sees the same mix.
- Intensities: nnU-Net's inputs are z-scored per channel and have no fixed range, so HSMix
  takes ``intensity_range=None``: superpixels and saliency see each image rescaled to its
  own minimum and maximum. The network's input is mixed, never rescaled.
- Labels: ``num_classes`` and ``ignore_index`` come from the dataset (nnU-Net's label
  manager); region-based targets (sigmoid regions, the ignore label in a last channel) are
  mixed as numbers, so soft region targets blend directly and stay in [0, 1].
- Options: ``hsmix_options`` (a class attribute) updated by the environment variable
  ``HSMIX_NNUNET_OPTIONS``: a JSON object, or the path of a JSON file holding one (e.g.
  ``{"p_hard": 0.5, "n_segments": [200, 400]}``). The options used go to nnU-Net's log.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from nnunetv2.training.loss.deep_supervision import DeepSupervisionWrapper
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from torch import Tensor

from ..module import HSMix
from .loss import SoftTargetLoss

__all__ = [
    "OPTIONS_VARIABLE",
    "nnUNetTrainerHSMix",
    "nnUNetTrainerHSMix2B",
    "nnUNetTrainerHSMixHard",
]

OPTIONS_VARIABLE = "HSMIX_NNUNET_OPTIONS"
# Set by the trainer from the dataset: an option of these names would contradict it.
_FROM_DATASET = ("num_classes", "ignore_index")


def _options_from_environment() -> dict[str, Any]:
    text = os.environ.get(OPTIONS_VARIABLE, "").strip()
    if not text:
        return {}
    if not text.startswith("{"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ValueError(
                f"{OPTIONS_VARIABLE} must be a JSON object or the path of a JSON file, got "
                f"{text!r} (no such file)"
            )
        text = path.read_text()
    try:
        options = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{OPTIONS_VARIABLE} is not valid JSON: {error}") from None
    if not isinstance(options, dict):
        kind = type(options).__name__
        raise ValueError(f"{OPTIONS_VARIABLE} must hold a JSON object, got a {kind}")
    return options


class nnUNetTrainerHSMix(nnUNetTrainer):  # noqa: N801 (nnU-Net's naming)
    """nnU-Net's trainer with HSMix on every training batch: B in, B out (``output="either"``:
    each sample hard- or soft-mixed), soft targets trained with :class:`SoftTargetLoss`.

    The batch size nnU-Net planned is kept, so its GPU memory plan holds. HSMix options come
    from the class attribute ``hsmix_options``, updated by the environment variable
    ``HSMIX_NNUNET_OPTIONS`` (JSON); the classes, ignore label and regions come from dataset.json.

    Args:
        plans, configuration, fold, dataset_json, device: nnU-Net's trainer arguments, as
            ``nnUNetv2_train -tr nnUNetTrainerHSMix`` passes them.

    Attributes:
        hsmix: the :class:`~hsmix_torch.HSMix` module (after ``initialize()``).
        hsmix_generator: None (torch's default generator), or a ``torch.Generator`` on the
            trainer's device to replay the mixes.
        train_loss: the loss of the mixed batches; ``loss`` stays nnU-Net's, for validation.
    """

    hsmix_options: ClassVar[dict[str, Any]] = {"output": "either"}

    def initialize(self) -> None:
        """nnU-Net's set-up, then the HSMix module and the loss of the mixed batches.

        Raises:
            ValueError: the options set what dataset.json decides (classes, ignore label).
        """
        super().initialize()
        options = {**self.hsmix_options, **_options_from_environment()}
        clash = sorted(set(options) & set(_FROM_DATASET))
        if clash:
            raise ValueError(
                f"HSMix options {clash} are set by the trainer from dataset.json; leave them out"
            )
        labels = self.label_manager
        options.setdefault("intensity_range", None)
        if not labels.has_regions:
            options |= {"num_classes": labels.num_segmentation_heads,
                        "ignore_index": labels.ignore_label}  # fmt: skip
        self.hsmix = HSMix(**options).to(self.device)
        self.hsmix_generator: torch.Generator | None = None
        self.train_loss = self._build_train_loss()
        self.print_to_log_file(f"HSMix: {self.hsmix!r}")

    @property
    def soft_targets(self) -> bool:
        """Whether the mixed targets are probabilities: any output but ``"hard"``, unless
        class maps are asked back as labels (``targets="labels"``: nnU-Net's own loss)."""
        opts = self.hsmix.options
        if opts.output == "hard":
            return False
        return self.label_manager.has_regions or opts.targets == "probabilities"

    def _build_train_loss(self) -> torch.nn.Module:
        if not self.soft_targets:
            return self.loss
        labels = self.label_manager
        loss = SoftTargetLoss(
            regions=labels.has_regions,
            has_ignore=labels.has_regions and labels.has_ignore_label,
            batch_dice=self.configuration_manager.batch_dice,
            ddp=self.is_ddp,
        )
        if isinstance(self.loss, DeepSupervisionWrapper):  # nnU-Net's weights per scale
            loss = DeepSupervisionWrapper(loss, self.loss.weight_factors)
        return loss

    def hsmix_batch(
        self, data: Tensor, target: Tensor | list[Tensor]
    ) -> tuple[Tensor, Tensor | list[Tensor]]:
        """Mix one training batch as :meth:`train_step` does, on the trainer's device.

        Args:
            data: ``[B, C, *S]`` float, nnU-Net's z-scored patches.
            target: ``[B, 1, *S]`` label maps (``[B, R, *S]`` region maps), or nnU-Net's
                deep-supervision list of them, full resolution first.

        Returns:
            ``(data, target)``: the mixed data ``[B', C, *S]`` (``B' = 2B`` for
            ``output="both"``) and the targets in the form given (a list: one per scale, in
            nnU-Net's shapes): label maps for ``output="hard"``, else probabilities
            ``[B', K, *S]`` (regions: ``[B', R, *S]`` in [0, 1]).
        """
        scales = target if isinstance(target, (list, tuple)) else [target]
        data = data.to(self.device, non_blocking=True)
        full = scales[0].to(self.device, non_blocking=True)
        if self.label_manager.has_regions:
            full = full.float()  # region maps are mixed as numbers
        data, mixed = self.hsmix(data, full, generator=self.hsmix_generator)
        if not isinstance(target, (list, tuple)):
            return data, mixed
        return data, [_resample(mixed, t.shape[2:], self.soft_targets) for t in scales]

    def train_step(self, batch: dict) -> dict:
        """nnU-Net's training step on the mixed batch (:meth:`hsmix_batch`), with
        ``train_loss``."""
        data, target = self.hsmix_batch(batch["data"], batch["target"])
        validation_loss, self.loss = self.loss, self.train_loss
        try:
            return super().train_step({**batch, "data": data, "target": target})
        finally:
            self.loss = validation_loss


class nnUNetTrainerHSMixHard(nnUNetTrainerHSMix):  # noqa: N801
    """Hard mixes only: integer targets and nnU-Net's own loss (``output="hard"``).

    Args:
        plans, configuration, fold, dataset_json, device: see :class:`nnUNetTrainerHSMix`.
    """

    hsmix_options: ClassVar[dict[str, Any]] = {"output": "hard"}


class nnUNetTrainerHSMix2B(nnUNetTrainerHSMix):  # noqa: N801
    """The published output: the hard batch then the soft batch, 2B samples a step
    (``output="both"``; twice the planned batch on the GPU).

    Args:
        plans, configuration, fold, dataset_json, device: see :class:`nnUNetTrainerHSMix`.
    """

    hsmix_options: ClassVar[dict[str, Any]] = {"output": "both"}


def _resample(target: Tensor, size: torch.Size, soft: bool) -> Tensor:
    """One deep-supervision target: nnU-Net's nearest-exact for label maps, an area average
    for probabilities; the full resolution is returned as is."""
    if target.shape[2:] == size:
        return target
    if soft:
        return F.interpolate(target, size=tuple(size), mode="area")
    return F.interpolate(target.float(), size=tuple(size), mode="nearest-exact").to(target.dtype)
