"""``HSMixd``: HSMix on a batch dict (MONAI's convention): named entries mixed with one set
of maps, the rest aligned; errors name the entry as ``data['key']``; missing keys are
BatchFields' one rule (a KeyError, or skipped with ``allow_missing_keys``)."""

from __future__ import annotations

import pytest
import torch

from hsmix_torch import HSMix, HSMixd


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


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
        HSMixd(keys=("a", "b", "a"))
    with pytest.raises(TypeError, match="dict"):
        t(images)


def test_hsmixd_mixes_any_number_of_keys_with_the_same_maps(rgb_batch) -> None:
    """An image, a label map, a second label map and a weight map: all with one M and L."""
    images, masks = rgb_batch
    x = images[:4].float() / 255
    label = masks[:4, None].float()  # MONAI's float labels [B, 1, H, W]
    second = 1 - masks[:4]
    weight = torch.rand(4, 1, 224, 224, generator=_gen(1))
    t = HSMixd(
        keys=("image", "label", "label2", "weight"),
        dense_keys=("weight",),
        superpixels="grid",
        num_classes=2,
    )
    out = t({"image": x, "label": label, "label2": second, "weight": weight}, generator=_gen())
    params = t.aug.make_params(x, generator=_gen())
    ref = t.aug.mix(x, [masks[:4], second, weight], params, dense=[False, False, True])
    assert torch.equal(out["image"], ref[0])
    assert torch.equal(out["label"], ref[1][0]) and out["label"].shape == (8, 2, 224, 224)
    assert torch.equal(out["label2"], ref[1][1])
    assert torch.equal(out["weight"], ref[1][2]) and out["weight"].shape == (8, 1, 224, 224)
    # The weight map's hard block uses the same M as the image.
    m = params.hard_mask[:, None]
    assert torch.equal(out["weight"][:4], torch.where(m, weight[params.partner], weight))
    with pytest.raises(ValueError, match="one flag per mask"):
        t.aug.mix(x, [masks[:4], weight], params, dense=[True])
    with pytest.raises(ValueError, match="dense_keys"):
        HSMixd(keys=("image", "label"), dense_keys=("weight",))
    with pytest.raises(ValueError, match="whole numbers"):
        HSMixd(keys=("image", "w"), superpixels="grid", num_classes=2)({"image": x, "w": weight})


def test_hsmixd_set_random_state_follows_monai(rgb_batch) -> None:
    images, masks = rgb_batch
    batch = {"image": images[:4].float() / 255, "label": masks[:4]}
    t = HSMixd(keys=("image", "label"), superpixels="grid", num_classes=2)
    assert t.set_random_state(seed=5) is t
    a = t(batch)["image"]
    t.set_random_state(seed=5)
    assert torch.equal(t(batch)["image"], a)
    t.set_random_state(state=torch.Generator().manual_seed(5))
    assert torch.equal(t(batch)["image"], a)  # the per-device generator is seeded alike
    with pytest.raises(TypeError, match="state"):
        t.set_random_state(state=5)


def test_errors_name_the_entry_as_the_user_wrote_it() -> None:
    x = torch.rand(2, 1, 16, 16)
    y = torch.randint(0, 2, (2, 16, 16))
    t = HSMixd(keys=("image", "label", "weightmap"), dense_keys=("weightmap",),
               superpixels="grid", num_classes=2)  # fmt: skip
    with pytest.raises(ValueError, match=r"float data\['weightmap'\] must have shape"):
        t({"image": x, "label": y, "weightmap": torch.rand(2, 1, 8, 8)})
    with pytest.raises(ValueError, match=r"data\['label'\] hold label 3 >= num_classes=2"):
        t({"image": x, "label": y * 0 + 3, "weightmap": torch.rand(2, 1, 16, 16)})
    with pytest.raises(KeyError, match="no image key 'image'"):
        t({"img": x})
    with pytest.raises(TypeError, match="keys must be a dict key or a sequence"):
        HSMixd(keys=("image", 3))
    with pytest.raises(TypeError, match="allow_missing_keys must be a bool"):
        HSMixd(allow_missing_keys="yes")
    with pytest.raises(TypeError, match="seed must be an int"):
        t.set_random_state(seed="5")
