"""The structure layer: image and masks found by key, getter, type or position; every other
per-sample leaf repeated when the batch doubles; clear errors for what it cannot do."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
import torch

from hsmix_torch import HSMix
from hsmix_torch.structure import BatchFields, locate, retype_like

tv_tensors = pytest.importorskip("torchvision.tv_tensors")


def _batch(b: int = 3):
    g = torch.Generator().manual_seed(0)
    return torch.rand(b, 3, 16, 16, generator=g), torch.randint(0, 2, (b, 16, 16), generator=g)


def test_found_by_key_getter_type_and_position() -> None:
    x, y = _batch()
    flat = locate(
        {"meta": {"id": torch.arange(3)}, "img": x, "seg": y}, BatchFields("img", ["seg"])
    )
    assert flat.paths[flat.image] == "batch['img']" and [flat.paths[i] for i in flat.masks] == [
        "batch['seg']"
    ]
    batch = {"a": [x, y]}
    flat = locate(batch, BatchFields(lambda b: b["a"][0], [lambda b: b["a"][1]]))
    assert flat.leaves[flat.image] is x and flat.leaves[flat.masks[0]] is y
    flat = locate({"other": torch.zeros(3), "x": tv_tensors.Image(x), "y": tv_tensors.Mask(y)})
    assert flat.paths[flat.image] == "batch['x']" and flat.paths[flat.masks[0]] == "batch['y']"
    flat = locate({"image": x, "label": y, "labels": torch.arange(3)})  # keys; [B] is no mask
    assert [flat.paths[i] for i in flat.masks] == ["batch['label']"]
    flat = locate((x, y, torch.arange(3)))  # position: first tensor, next mask-shaped one
    assert (flat.image, flat.masks) == (0, [1])


def test_other_leaves_repeat_at_any_depth() -> None:
    x, y = _batch()
    batch = (
        tv_tensors.Image(x),
        tv_tensors.Mask(y),
        [{"id": torch.arange(3), "names": ["a", "b", "c"], "arr": np.arange(3)}],
        {"spacing": (1.0, 2.0), "scale": 0.5, "pair": [torch.ones(3), torch.zeros(2)]},
    )
    out = HSMix(superpixels="grid", num_classes=2)(*batch)
    assert isinstance(out, tuple) and len(out) == 4
    assert isinstance(out[0], tv_tensors.Image) and out[0].shape == (6, 3, 16, 16)
    assert isinstance(out[1], tv_tensors.Mask) and out[1].shape == (6, 2, 16, 16)
    meta = out[2][0]
    assert torch.equal(meta["id"], torch.arange(3).repeat(2))
    assert meta["names"] == ["a", "b", "c"] * 2 and np.array_equal(meta["arr"], [0, 1, 2] * 2)
    rest = out[3]
    assert rest["spacing"] == (1.0, 2.0) and rest["scale"] == 0.5  # constants stay
    assert torch.equal(rest["pair"][0], torch.ones(6)) and rest["pair"][1].shape == (2,)


def test_errors_name_what_is_wrong() -> None:
    x, y = _batch()
    with pytest.raises(TypeError, match="no image tensor found"):
        locate({"name": "a"})
    with pytest.raises(ValueError, match=r"two candidates for the image: batch\['a'\]"):
        locate({"a": tv_tensors.Image(x), "b": tv_tensors.Image(x)})
    with pytest.raises(KeyError, match="no mask key 'label'"):
        locate({"image": x}, BatchFields("image", ["label"]))
    with pytest.raises(KeyError, match="no image key 'img'"):
        locate({"image": x}, BatchFields("img"))
    with pytest.raises(ValueError, match="getter"):
        locate({"image": x}, BatchFields(lambda b: x.clone()))
    with pytest.raises(TypeError, match="masks must be a sequence"):
        BatchFields("image", "label")

    class Ids:  # one item per sample, but no way to repeat it
        def __len__(self) -> int:
            return 3

    aug = HSMix(superpixels="grid", num_classes=2)
    with pytest.raises(TypeError, match=r"batch\['ids'\] \(Ids\) has 3 items"):
        aug({"image": x, "mask": y, "ids": Ids()})
    with pytest.raises(ValueError, match=r"channels first"):
        aug({"image": x.permute(0, 2, 3, 1)[..., 0]})  # [B, H, W]: not an image batch
    with pytest.raises(ValueError, match=r"look channels-last \[B, H, W, C\]"):
        aug({"image": x.permute(0, 2, 3, 1), "mask": y})
    assert (
        HSMix(superpixels="grid", output="hard")({"image": x, "ids": Ids()})["image"].shape[0] == 3
    )


def test_retype_like_restores_tv_tensors_after_default_collate() -> None:
    x, y = _batch()
    sample = {"image": tv_tensors.Image(x[0]), "mask": tv_tensors.Mask(y[0]), "id": 0}
    batch = torch.utils.data.default_collate([sample] * 3)
    assert type(batch["image"]) is torch.Tensor
    typed = retype_like(batch, sample)
    assert isinstance(typed["image"], tv_tensors.Image) and isinstance(
        typed["mask"], tv_tensors.Mask
    )


def test_aliased_entries_follow_the_per_sample_rule_not_the_image() -> None:
    """The structure is rebuilt by place: an entry that holds the image's (or a mask's)
    tensor object under another key comes back as it went in, repeated per sample."""
    x, y = _batch()
    aug = HSMix(superpixels="grid", num_classes=2)
    out = aug({"image": x, "mask": y, "orig": x, "target_copy": y}, generator=_gen())
    ref_x, ref_y = aug(x, y, generator=_gen())
    assert torch.equal(out["image"], ref_x) and torch.equal(out["mask"], ref_y)
    assert torch.equal(out["orig"], torch.cat([x, x]))  # the un-augmented image, aligned
    assert torch.equal(out["target_copy"], torch.cat([y, y]))  # not mixed as a mask
    nested = aug({"image": x, "mask": y, "log": {"input": x}}, generator=_gen())
    assert torch.equal(nested["log"]["input"], torch.cat([x, x]))
    with pytest.raises(ValueError, match=r"found at batch\['orig'\] and batch\['image'\]"):
        locate({"orig": x, "image": x}, BatchFields(lambda b: b["image"]))


def test_places_are_named_as_the_caller_wrote_them() -> None:
    x, y = _batch()
    aug = HSMix(superpixels="grid", num_classes=2)
    with pytest.raises(ValueError, match=r"inputs\[2\]"):
        aug(x, y, torch.rand(3, 2, 8, 8))  # a weight map of the wrong size, third argument
    with pytest.raises(ValueError, match=r"batch\['target'\]\['weights'\]"):
        aug.mix_structure(
            {"image": x, "target": {"label": y, "weights": torch.rand(3, 2, 8, 8)}},
            BatchFields(
                "image", [lambda b: b["target"]["label"], lambda b: b["target"]["weights"]]
            ),
        )
    flat = locate({"a": [x, Pair(y, y[:, 0])]}, BatchFields(lambda b: b["a"][0]), root="data")
    assert flat.paths == ["data['a'][0]", "data['a'][1].first", "data['a'][1].second"]


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class Pair(NamedTuple):
    first: torch.Tensor
    second: torch.Tensor
