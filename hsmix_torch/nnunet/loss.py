"""A loss for the soft targets HSMix makes, with nnU-Net's conventions.

nnU-Net trains with cross-entropy (or BCE for regions) plus its soft Dice. Its soft Dice is
not minimised at ``p = t`` when ``t`` is soft (a pixel with ``0 < t < 1`` rewards ``p -> 1``),
so here the Dice term is the Dice semimetric of Wang & Blaschko (2023):
``(sum p + sum t - sum |p - t| + smooth) / (sum p + sum t + smooth)``, which equals nnU-Net's
soft Dice on hard targets and is minimised at ``p = t``. On hard targets the whole loss
equals nnU-Net's ``DC_and_CE_loss`` / ``DC_and_BCE_loss`` (tested), ignore label included.

Ignored pixels: a one-hot target from HSMix is the zero vector where the label was the ignore
label, so a mixed pixel's target sums to its valid share ``v`` (1 outside ignored areas, 0
inside, between where an ignored pixel was blended). Each pixel counts with weight ``v``
(its target is ``t / v``): nothing of an ignored share reaches the loss. For regions, nnU-Net
keeps the ignore label in a last target channel; ``v = 1 - t_ignore``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["SoftTargetLoss"]


class SoftTargetLoss(nn.Module):
    """Cross-entropy (softmax) or BCE (regions) with soft targets plus the Dice semimetric.

    Args:
        regions: sigmoid outputs per region (nnU-Net's region-based training) instead of a
            softmax over classes.
        has_ignore: regions only: the target's last channel is the ignore share.
        batch_dice: sum the Dice terms over the batch before dividing (nnU-Net's plan).
        smooth: added to the Dice numerator and denominator (nnU-Net: 1e-5).
        ddp: gather the batch Dice sums over DDP workers (as nnU-Net does).

    Shapes: ``logits`` ``[B, K, *S]`` (any float dtype; computed in float32) and ``target``
    ``[B, K, *S]`` probabilities (``[B, K + 1, *S]`` for regions with an ignore channel).
    Returns a scalar: the cross-entropy plus the negative Dice (nnU-Net's sign convention:
    its losses go below zero), the Dice over the foreground classes for softmax outputs and
    over every region for sigmoid outputs, as nnU-Net computes it.
    """

    def __init__(
        self,
        regions: bool = False,
        has_ignore: bool = False,
        batch_dice: bool = False,
        smooth: float = 1e-5,
        ddp: bool = False,
    ) -> None:
        super().__init__()
        self.regions, self.has_ignore = regions, has_ignore
        self.batch_dice, self.smooth, self.ddp = batch_dice, smooth, ddp

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        extra = int(self.regions and self.has_ignore)  # the ignore channel of region targets
        expected = (logits.shape[0], logits.shape[1] + extra, *logits.shape[2:])
        if logits.ndim < 3 or tuple(target.shape) != expected:
            raise ValueError(
                f"target must have shape {expected} for logits of shape "
                f"{tuple(logits.shape)} ([B, K, *S]; probabilities), got {tuple(target.shape)}"
            )
        x, t = logits.float(), target.float()
        if self.regions:
            valid = 1 - t[:, -1:] if self.has_ignore else torch.ones_like(t[:, :1])
            t = t[:, :-1] if self.has_ignore else t
            p = torch.sigmoid(x)
            # valid * BCE(x, t / valid), written so that valid = 0 gives 0
            ce = -(t * F.logsigmoid(x) + (valid - t) * F.logsigmoid(-x))
            # nnU-Net: a plain mean without an ignore channel, else a sum over the regions
            # per valid pixel.
            ce = ce.sum() / valid.sum().clamp_min(1e-8) if self.has_ignore else ce.mean()
        else:
            valid = t.sum(1, keepdim=True)
            log_p = x.log_softmax(1)
            ce = -(t * log_p).sum() / valid.sum().clamp_min(1e-8)
            p, t = log_p.exp()[:, 1:], t[:, 1:]  # nnU-Net's Dice leaves the background out
        return ce - self._dice(p * valid, t).mean()

    def _dice(self, p: Tensor, t: Tensor) -> Tensor:
        axes = tuple(range(2, p.ndim))
        total = p.sum(axes) + t.sum(axes)
        differ = (p - t).abs().sum(axes)
        if self.batch_dice:
            if self.ddp:
                from nnunetv2.utilities.ddp_allgather import AllGatherGrad

                total, differ = AllGatherGrad.apply(total), AllGatherGrad.apply(differ)
                total, differ = total.flatten(0, 1), differ.flatten(0, 1)
            total, differ = total.sum(0), differ.sum(0)
        return (total - differ + self.smooth) / (total + self.smooth).clamp_min(1e-8)
