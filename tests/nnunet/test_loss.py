"""SoftTargetLoss: nnU-Net's losses on hard targets (the same numbers), minimised at p = t
on soft ones, and nothing of an ignored share in it."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("nnunetv2", reason="the nnunet extra is not installed")
from nnunetv2.training.loss.compound_losses import DC_and_BCE_loss, DC_and_CE_loss  # noqa: E402
from nnunetv2.training.loss.dice import MemoryEfficientSoftDiceLoss  # noqa: E402

from hsmix_torch.nnunet import SoftTargetLoss  # noqa: E402

TOL = dict(rtol=1e-5, atol=1e-6)  # float32 sums in a different order


def _nnunet_softmax_loss(batch_dice: bool, ignore_label: int | None) -> DC_and_CE_loss:
    dice = {"batch_dice": batch_dice, "smooth": 1e-5, "do_bg": False, "ddp": False}
    return DC_and_CE_loss(dice, {}, weight_ce=1, weight_dice=1, ignore_label=ignore_label,
                          dice_class=MemoryEfficientSoftDiceLoss)  # fmt: skip


@pytest.mark.parametrize("batch_dice", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
@pytest.mark.parametrize("spatial", [(12, 10), (5, 6, 7)])
def test_equals_nnunets_softmax_loss_on_hard_targets(batch_dice, ignore, spatial) -> None:
    g = torch.Generator().manual_seed(0)
    k = 3
    logits = torch.randn(2, k, *spatial, generator=g)
    labels = torch.randint(0, k + ignore, (2, 1, *spatial), generator=g)
    onehot = torch.nn.functional.one_hot(labels[:, 0], k + 1)[..., :k].movedim(-1, 1).float()
    theirs = _nnunet_softmax_loss(batch_dice, k if ignore else None)(logits, labels)
    ours = SoftTargetLoss(batch_dice=batch_dice)(logits, onehot)  # ignored: the zero vector
    assert torch.allclose(ours, theirs, **TOL)


@pytest.mark.parametrize("batch_dice", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
def test_equals_nnunets_region_loss_on_hard_targets(batch_dice, ignore) -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 2, 9, 11, generator=g)
    target = torch.rand(2, 2 + ignore, 9, 11, generator=g) > 0.5
    if ignore:  # nnU-Net: ignored pixels belong to no region
        target[:, :2] &= ~target[:, 2:]
    dice = {"batch_dice": batch_dice, "do_bg": True, "smooth": 1e-5, "ddp": False}
    theirs = DC_and_BCE_loss({}, dice, use_ignore_label=ignore,
                             dice_class=MemoryEfficientSoftDiceLoss)(logits, target)  # fmt: skip
    ours = SoftTargetLoss(regions=True, has_ignore=ignore, batch_dice=batch_dice)(logits, target)
    assert torch.allclose(ours, theirs, **TOL)


@pytest.mark.parametrize("regions", [False, True])
def test_soft_targets_are_the_minimum(regions) -> None:
    """Logits whose probabilities equal a soft target score lower than any nearby logits
    (the Dice semimetric and the cross-entropy are both minimised at p = t), whereas
    nnU-Net's soft Dice drops further when the probabilities move towards 0 and 1."""
    g = torch.Generator().manual_seed(2)
    if regions:
        t = torch.rand(2, 2, 8, 8, generator=g).clamp(0.05, 0.95)
        at_target = torch.logit(t)
    else:
        t = torch.softmax(torch.randn(2, 3, 8, 8, generator=g), 1)
        at_target = t.log()
    loss = SoftTargetLoss(regions=regions)
    best = loss(at_target, t)
    for _ in range(20):
        nearby = at_target + 0.05 * torch.randn(at_target.shape, generator=g)
        assert loss(nearby, t) > best
    nnunet_dice = MemoryEfficientSoftDiceLoss(do_bg=True)  # on probabilities
    probabilities = torch.sigmoid if regions else lambda x: torch.softmax(x, 1)
    sharpened = 3 * at_target  # probabilities pushed towards 0 and 1
    assert nnunet_dice(probabilities(sharpened), t) < nnunet_dice(probabilities(at_target), t)


def test_an_ignored_share_carries_no_loss() -> None:
    """A pixel blended from an ignored pixel (weight 1 - w) and a labelled one counts with
    weight w: the same loss as that pixel alone, labelled, at weight w."""
    logits = torch.randn(1, 2, 1, 2)
    blended = torch.tensor([0.0, 0.4]).view(1, 2, 1, 1).expand(1, 2, 1, 2).clone()
    blended[..., 1] = torch.tensor([1.0, 0.0]).view(1, 2, 1)  # a labelled pixel beside it
    loss = SoftTargetLoss()
    grad = torch.autograd.grad(loss(logits.requires_grad_(True), blended), logits)[0]
    assert grad.abs().sum() > 0
    # No ignored share: the target sums to one everywhere; the loss differs.
    full = blended.clone()
    full[:, 0, :, 0] = 0.6
    assert not torch.allclose(loss(logits, full), loss(logits, blended))
    empty = torch.zeros(1, 2, 1, 2)
    empty[..., 1] = blended[..., 1]
    grad_empty = torch.autograd.grad(loss(logits, empty), logits)[0]
    assert grad_empty[..., 0].abs().max() == 0  # a fully ignored pixel: no gradient


def test_shapes_that_do_not_match_name_the_target() -> None:
    logits = torch.randn(2, 3, 8, 8)
    for loss, target in [
        (SoftTargetLoss(), torch.rand(2, 1, 8, 8)),  # a label map: one-hot it first
        (SoftTargetLoss(), torch.rand(2, 3, 8, 9)),
        (SoftTargetLoss(regions=True, has_ignore=True), torch.rand(2, 3, 8, 8)),
    ]:
        with pytest.raises(ValueError, match="target must have shape"):
            loss(logits, target)
    with pytest.raises(ValueError, match="target must have shape"):
        SoftTargetLoss()(torch.randn(2, 3), torch.rand(2, 3))
