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
    # A v2 pipeline on batches: flip (images and masks together), then HSMix.
    pipeline = v2.Compose([v2.RandomHorizontalFlip(p=1.0), aug])
    flipped_images, flipped_masks = pipeline(images, masks)
    assert isinstance(flipped_images, tv_tensors.Image) and flipped_images.shape == (
        16,
        3,
        224,
        224,
    )
    assert flipped_masks.shape == (16, 2, 224, 224)


def test_hsmixd_mixes_named_entries_and_keeps_the_rest(rgb_batch) -> None:
    images, masks = rgb_batch
    images = images.float() / 255
    names = [f"case_{i}" for i in range(8)]
    batch = {
        "name": names,
        "image": images,
        "label": masks,
        "spacing": (1.0, 1.0),
        "ids": torch.arange(8),
    }
    t = HSMixd(keys=("image", "label"), superpixels="grid", num_classes=2)
    out = t(batch, generator=_gen())
    assert list(out) == list(batch)  # same keys, same order
    ref_images, ref_masks = HSMix(superpixels="grid", num_classes=2)(
        images, masks, generator=_gen()
    )
    assert torch.equal(out["image"], ref_images) and torch.equal(out["label"], ref_masks)
    assert out["name"] == names * 2 and torch.equal(out["ids"], torch.arange(8).repeat(2))
    assert out["spacing"] == (1.0, 1.0)
    hard = HSMixd(keys=("image", "label"), superpixels="grid", output="hard")(batch)
    assert hard["name"] is names and hard["label"].dtype == masks.dtype
    only_images = HSMixd(keys=("image", "seg"), allow_missing_keys=True, superpixels="grid")(
        {"image": images}
    )
    assert only_images["image"].shape == (16, 3, 224, 224)
    with pytest.raises(KeyError, match="seg"):
        HSMixd(keys=("image", "seg"), superpixels="grid")({"image": images})
    with pytest.raises(ValueError, match="keys"):
        HSMixd(keys=("a", "b", "c"))
    with pytest.raises(TypeError, match="dict"):
        t(images)


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
