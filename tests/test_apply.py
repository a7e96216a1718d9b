"""The application of a mix: one rule per kind of mask (dense maps mixed as numbers, class
maps one-hot or as labels), errors naming each mask as the caller passed it, and params
that must fit the batch they mix."""

from __future__ import annotations

import pytest
import torch

from hsmix_torch import HSMix, apply


def _params(b: int = 3, size: int = 16):
    aug = HSMix(n_segments=4, superpixels="grid", output="either", targets="labels")
    x = torch.rand(b, 3, size, size)
    return aug, x, aug.make_params(x, generator=torch.Generator().manual_seed(0))


def test_float_label_maps_mix_as_labels_when_asked() -> None:
    """kornia hands label maps over as floats: with ``float_labels`` a one-channel float
    map is a label map (the label of the larger weight, any value kept exactly), else it
    is mixed as numbers."""
    aug, x, params = _params()
    labels = torch.randint(0, 5, (3, 1, 16, 16)).float()
    labels[0, 0, 0, 0] = 255.0  # an ignore label stays exact
    shape = params.hard_mask.shape
    (as_labels,) = apply.mask_layouts([labels], shape, aug.options, None, None, ["mask"], True)
    (as_numbers,) = apply.mask_layouts([labels], shape, aug.options, None, None, ["mask"])
    mixed = apply.mix_mask(as_labels, params, aug.options)
    assert mixed.dtype == labels.dtype and mixed.shape == labels.shape
    assert torch.equal(mixed, apply.mix_labels(labels, params, aug.options))
    assert set(mixed.unique().tolist()) <= set(labels.unique().tolist())
    assert torch.equal(apply.mix_mask(as_numbers, params, aug.options),
                       apply.mix_tensor(labels, params, aug.options))  # fmt: skip


def test_masks_are_named_as_passed_and_params_must_fit() -> None:
    aug, x, params = _params()
    shape = params.hard_mask.shape
    with pytest.raises(ValueError, match=r"float batch\['w'\] must have shape"):
        apply.mask_layouts([torch.rand(3, 2, 8, 8)], shape, aug.options, None, None,
                           ["batch['w']"])  # fmt: skip
    with pytest.raises(ValueError, match=r"masks\[1\] as class maps"):
        apply.mask_layouts([torch.zeros(3, 16, 16).long(), torch.zeros(3, 8, 8).long()], shape,
                           aug.options, None, None)  # fmt: skip
    with pytest.raises(ValueError, match="params were made for a batch of shape"):
        apply.mix_tensor(torch.rand(2, 3, 16, 16), params, aug.options, "images")
    with pytest.raises(TypeError, match="params must be HSMixParams"):
        aug.mix(x, None, {"partner": params.partner})
    with pytest.raises(TypeError, match="images must be a torch.Tensor"):
        apply.mix_tensor(x.numpy(), params, aug.options, "images")
