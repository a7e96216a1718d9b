"""A small U-Net (about 1.9 M parameters) for the training-step and training benchmarks."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """Four-level U-Net: ``[B, C, H, W] -> [B, K, H, W]`` logits (H, W divisible by 8)."""

    def __init__(self, in_channels: int = 3, num_classes: int = 2, width: int = 32) -> None:
        super().__init__()
        w = width
        self.enc = nn.ModuleList([_block(in_channels, w), _block(w, 2 * w), _block(2 * w, 4 * w)])
        self.mid = _block(4 * w, 8 * w)
        self.up = nn.ModuleList(
            [nn.ConvTranspose2d(c, c // 2, 2, stride=2) for c in (8 * w, 4 * w, 2 * w)]
        )
        self.dec = nn.ModuleList([_block(8 * w, 4 * w), _block(4 * w, 2 * w), _block(2 * w, w)])
        self.head = nn.Conv2d(w, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for block in self.enc:
            x = block(x)
            skips.append(x)
            x = nn.functional.max_pool2d(x, 2)
        x = self.mid(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips), strict=True):
            x = dec(torch.cat([up(x), skip], dim=1))
        return self.head(x)


def soft_dice_ce_loss(logits: Tensor, target: Tensor, dice: str = "soft") -> Tensor:
    """Cross-entropy with soft targets plus a Dice loss, for probability masks ``[B, K, H, W]``.

    ``dice="soft"``: the usual soft Dice, ``1 - 2 sum(p t) / (sum p + sum t)``, per class over
    the batch. With soft targets it is not minimised at ``p = t`` (for a pixel with
    ``0 < t < 1`` it rewards ``p -> 1``). ``dice="semimetric"``: the Dice semimetric loss of
    Wang & Blaschko (2023), ``1 - (sum p + sum t - sum |p - t|) / (sum p + sum t)``, equal to
    the soft Dice on hard targets and minimised at ``p = t`` on soft ones. ``dice="none"``:
    cross-entropy alone.
    """
    log_p = logits.log_softmax(1)
    ce = -(target * log_p).sum(1).mean()
    if dice == "none":
        return ce
    p = log_p.exp()
    total = p.sum((0, 2, 3)) + target.sum((0, 2, 3))
    if dice == "soft":
        overlap = 2 * (p * target).sum((0, 2, 3))
    elif dice == "semimetric":
        overlap = total - (p - target).abs().sum((0, 2, 3))
    else:
        raise ValueError(f"dice must be 'soft', 'semimetric' or 'none', got {dice!r}")
    return ce + (1 - (overlap + 1) / (total + 1)).mean()
