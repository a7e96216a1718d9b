"""HSMix in users' pipelines: torchvision.transforms.v2, batch dicts (HSMixd), MONAI, viz."""

from __future__ import annotations

import pytest
import torch

from hsmix_torch import HSMix, HSMixd


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_tv_tensors_in_a_v2_pipeline(rgb_batch) -> None:
    tv_tensors = pytest.importorskip("torchvision.tv_tensors")
    v2 = pytest.importorskip("torchvision.transforms.v2")
    images, masks = rgb_batch
    images = tv_tensors.Image(images.float() / 255)
    masks = tv_tensors.Mask(masks)
    aug = HSMix(superpixels="grid", num_classes=2)
    out_images, out_masks = aug(images, masks, generator=_gen())
    assert isinstance(out_images, tv_tensors.Image) and isinstance(out_masks, tv_tensors.Mask)
    plain = aug(images.as_subclass(torch.Tensor), masks.as_subclass(torch.Tensor), generator=_gen())
    assert torch.equal(out_images.as_subclass(torch.Tensor), plain[0])
    # A v2 pipeline on batches: the flip hits images and masks alike, then HSMix mixes
    # exactly what it mixes on flipped inputs (same default-generator seed).
    flip = v2.RandomHorizontalFlip(p=1.0)
    torch.manual_seed(3)
    flipped_images, flipped_masks = v2.Compose([flip, aug])(images, masks)
    torch.manual_seed(3)  # the flip draws from the global generator too
    only_flipped = flip(images, masks)
    assert torch.equal(only_flipped[0], images.flip(-1))
    assert torch.equal(only_flipped[1], masks.flip(-1))
    expect = aug(*only_flipped)
    assert isinstance(flipped_images, tv_tensors.Image) and flipped_images.shape == (
        16,
        3,
        224,
        224,
    )
    assert torch.equal(flipped_images, expect[0]) and torch.equal(flipped_masks, expect[1])


def test_v2_sample_dicts_and_tuples_come_back_aligned(rgb_batch) -> None:
    """A v2 sample dict (image, mask, class labels of length B) and an (Image, Mask, labels)
    tuple pass through v2.Compose; the labels follow the doubled batch."""
    tv_tensors = pytest.importorskip("torchvision.tv_tensors")
    v2 = pytest.importorskip("torchvision.transforms.v2")
    images, masks = rgb_batch
    x, y = tv_tensors.Image(images[:4].float() / 255), tv_tensors.Mask(masks[:4])
    labels = torch.tensor([3, 1, 4, 1])
    aug = HSMix(superpixels="grid", num_classes=2)
    pipeline = v2.Compose([v2.Identity(), aug])
    torch.manual_seed(0)
    out = pipeline({"image": x, "mask": y, "label": labels, "name": ["a", "b", "c", "d"]})
    torch.manual_seed(0)
    ref_images, ref_masks = aug(x, y)
    assert isinstance(out["image"], tv_tensors.Image) and isinstance(out["mask"], tv_tensors.Mask)
    assert torch.equal(out["image"], ref_images) and torch.equal(out["mask"], ref_masks)
    assert torch.equal(out["label"], labels.repeat(2)) and out["name"] == list("abcd") * 2
    torch.manual_seed(0)
    images_t, masks_t, labels_t = pipeline(x, y, labels)
    assert torch.equal(images_t, ref_images) and torch.equal(masks_t, ref_masks)
    assert torch.equal(labels_t, labels.repeat(2))
    # B in, B out for pipelines that need it: output="either".
    either = HSMix(superpixels="grid", num_classes=2, output="either")
    out = v2.Compose([either])({"image": x, "mask": y, "label": labels})
    assert out["image"].shape[0] == 4 and torch.equal(out["label"], labels)


def test_monai_meta_tensors(rgb_batch) -> None:
    monai_data = pytest.importorskip("monai.data")
    images, masks = rgb_batch
    batch = {
        "image": monai_data.MetaTensor(images.float() / 255),
        "label": monai_data.MetaTensor(masks[:, None]),
    }
    out = HSMixd(keys=("image", "label"), superpixels="grid", num_classes=2)(
        batch, generator=_gen()
    )
    assert isinstance(out["image"], monai_data.MetaTensor) and out["image"].shape == (
        16,
        3,
        224,
        224,
    )
    assert isinstance(out["label"], monai_data.MetaTensor) and out["label"].shape == (
        16,
        2,
        224,
        224,
    )
    ref = HSMix(superpixels="grid", num_classes=2)(images.float() / 255, masks, generator=_gen())
    assert torch.equal(out["image"].as_tensor(), ref[0])


def test_viz_functions_draw_what_they_say(rgb_batch, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from hsmix_torch import viz

    images, masks = rgb_batch
    labels = torch.zeros(224, 224, dtype=torch.long)
    labels[:, 100:] = 1
    edges = viz.boundaries(labels)
    assert edges[:, 99].all() and edges.sum() == 224  # one column: the right neighbour differs
    drawn = viz.draw_boundaries(images[0], labels, color=(1, 0, 0))
    assert (drawn[:, 99] == (1, 0, 0)).all() and drawn.shape == (224, 224, 3)
    over = viz.overlay_mask(images[0], masks[0], color=(0, 1, 0), alpha=1.0)
    fg = masks[0].bool().numpy()
    assert (over[fg] == (0, 1, 0)).all() and (over[~fg] == viz.to_rgb(images[0])[~fg]).all()
    assert viz.foreground(torch.tensor([[[0.2]], [[0.8]]])).item() == pytest.approx(0.8)
    aug = HSMix(superpixels="grid", num_classes=2)
    x = images[:4].float() / 255
    mixed, mixed_masks, params = aug(x, masks[:4], return_params=True)
    fig = viz.plot_mix(
        x,
        masks[:4],
        params,
        mixed[:4],
        mixed_masks[:4],
        mixed[4:],
        mixed_masks[4:],
        rows=2,
        path=tmp_path / "grid.png",
    )
    assert (tmp_path / "grid.png").stat().st_size > 10_000 and len(fig.axes) == 2 * 9


def test_volume_viz_cuts_three_orthogonal_slices(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from hsmix_torch import viz
    from hsmix_torch.data import sample_volumes

    volume = torch.arange(4 * 5 * 6).view(1, 4, 5, 6)
    axial, coronal, sagittal = viz.orthogonal_slices(volume, (1, 2, 3))
    assert torch.equal(axial, volume[:, 1]) and torch.equal(coronal, volume[:, :, 2])
    assert torch.equal(sagittal, volume[..., 3])
    x, y = sample_volumes(20, count=2)
    aug = HSMix(n_segments=20, superpixels="grid", num_classes=3)
    mixed, mixed_masks, params = aug(x, y, return_params=True)
    fig = viz.plot_volume_mix(
        x,
        y,
        params,
        mixed[:2],
        mixed_masks[:2],
        mixed[2:],
        mixed_masks[2:],
        path=tmp_path / "v.png",
    )
    assert (tmp_path / "v.png").stat().st_size > 10_000 and len(fig.axes) == 2 * 3 * 5
    with pytest.raises(ValueError, match="volumes"):
        viz.plot_volume_mix(x[:, :, 0], y[:, 0], params, x, y, x, y)
