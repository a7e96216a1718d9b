"""HSMix on volumes [B, C, D, H, W]: the same module, options and outputs as for images,
with masks [B, D, H, W], [B, 1, D, H, W] or [B, K, D, H, W], spacing, HSMixd, the collates,
MONAI's 3-D pipelines, and the bad inputs of volumes (built-in phantoms and MSD MRI)."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch.utils.data import DataLoader

from hsmix_torch import HSMix, HSMixCollate, HSMixd, SuperpixelCollate
from hsmix_torch.data import pad_volumes, sample_volumes

from .conftest import DATA, load_hippocampus


def _batch(count: int = 4, size=(12, 20, 18)) -> tuple[torch.Tensor, torch.Tensor]:
    """MSD hippocampus crops (padded, cropped) when ../shared/data is there, else phantoms."""
    if DATA.is_dir():
        images, labels, _, _ = load_hippocampus(limit=count)
        return pad_volumes(images, size), pad_volumes(labels, size)
    return sample_volumes(size, count=count)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("superpixels", ["torch", "skimage", "grid"])
@pytest.mark.parametrize("output", ["both", "hard", "soft", "either"])
def test_every_output_mode_on_volumes(superpixels, output) -> None:
    x, y = _batch()
    aug = HSMix(n_segments=(20, 40), superpixels=superpixels, output=output, num_classes=3)
    out, masks, p = aug(x, y, generator=_gen(), return_params=True)
    n = 8 if output == "both" else 4
    assert out.shape == (n, 1, 12, 20, 18) and out.dtype == x.dtype
    assert p.segments.shape == p.hard_mask.shape == p.soft_lambda.shape == (4, 12, 20, 18)
    if output == "hard":
        assert masks.shape == (4, 12, 20, 18) and masks.dtype == y.dtype  # class maps stay
        assert torch.equal(masks, torch.where(p.hard_mask, y[p.partner], y))
    else:
        assert masks.shape == (n, 3, 12, 20, 18)
        assert torch.allclose(masks.sum(1), torch.ones(n, 12, 20, 18), atol=1e-5)
    assert p.mixed.any()


def test_mask_layouts_of_volumes() -> None:
    x, y = _batch()
    aug = HSMix(n_segments=30, superpixels="grid", output="hard", num_classes=3)
    ref = aug(x, y, generator=_gen())[1]
    assert torch.equal(aug(x, y[:, None], generator=_gen())[1][:, 0], ref)  # [B, 1, D, H, W]
    dense = torch.nn.functional.one_hot(y, 3).movedim(-1, 1).float()  # [B, K, D, H, W]
    out = aug(x, dense, generator=_gen())[1]
    assert out.shape == dense.shape and torch.equal(out.argmax(1), ref)
    monai_float = aug(x, y[:, None].float(), generator=_gen())[1]  # MONAI's float labels
    assert torch.equal(monai_float[:, 0].long(), ref)


def test_spacing_reaches_the_superpixels() -> None:
    x, _ = _batch()
    seen = []

    def record(images, n_segments, spacing=None):
        seen.append(spacing)
        return torch.zeros(images.shape[:1] + images.shape[2:], dtype=torch.long)

    HSMix(superpixels=record, spacing=(3.0, 1.0, 0.5))(x)
    assert seen == [(3.0, 1.0, 0.5)]
    plain = HSMix(n_segments=30, superpixels="torch")(x, generator=_gen())
    thick = HSMix(n_segments=30, superpixels="torch", spacing=(4, 1, 1))(x, generator=_gen())
    assert not torch.equal(plain, thick)  # other supervoxels, other mixes


def test_precomputed_supervoxels_and_same_seed() -> None:
    x, y = _batch()
    labels = HSMix(superpixels="torch").backend(x, 25)
    aug = HSMix(n_segments=25, superpixels="grid", num_classes=3)
    a = aug(x, y, segments=labels, generator=_gen(3), return_params=True)
    b = aug(x, y, segments=labels, generator=_gen(3))
    assert torch.equal(a[2].segments, labels)
    assert all(torch.equal(u, v) for u, v in zip(a[:2], b, strict=True))
    replay = aug.mix(x, y, a[2])
    assert torch.equal(replay[0], a[0]) and torch.equal(replay[1], a[1])


def test_saliency_and_lambda_on_volumes() -> None:
    x, y = _batch()
    for saliency in ("auto", "fine_grained", "spectral_residual", "spectral_residual_3d"):
        aug = HSMix(n_segments=30, superpixels="grid", output="soft", saliency=saliency)
        p = aug.make_params(x, generator=_gen())
        lam = p.soft_lambda[p.mixed]
        assert lam.min() >= 0 and lam.max() <= 1 and (lam > 0).any()
    with pytest.raises(ValueError, match=r"\[B, 1, D, H, W\]"):
        HSMix(superpixels="grid", saliency=lambda v: v[:, :1, 0])(x)


def test_single_sample_constant_and_one_slice_volumes() -> None:
    x, y = _batch()
    aug = HSMix(n_segments=20, superpixels="torch", num_classes=3)
    one = aug(x[:1], y[:1], generator=_gen())
    assert torch.equal(one[0][0], x[0]) and torch.equal(one[0][1], x[0])  # nobody to mix with
    flat = aug(torch.full_like(x, 0.5), y, generator=_gen())[0]
    assert torch.isfinite(flat).all()
    # D = 1: a defined result, the 2-D image batch's (with the same saliency map).
    aug = HSMix(n_segments=20, superpixels="torch", num_classes=3, saliency="fine_grained")
    thin = aug(x[:, :, 5:6], y[:, 5:6], generator=_gen())
    assert thin[0].shape == (8, 1, 1, 20, 18)
    image_like = aug(x[:, :, 5], y[:, 5], generator=_gen())
    assert torch.equal(thin[0][:, :, 0], image_like[0])
    tiny = aug(torch.rand(2, 1, 2, 3, 2), torch.zeros(2, 2, 3, 2, dtype=torch.long))[0]
    assert tiny.shape == (4, 1, 2, 3, 2)  # n_segments above the voxel count: one per voxel


def test_uint8_half_and_multichannel_volumes() -> None:
    x, y = _batch()
    aug = HSMix(n_segments=20, superpixels="grid", num_classes=3)
    u8 = aug((x * 255).to(torch.uint8), y, generator=_gen())[0]
    assert u8.dtype == torch.uint8
    half = aug(x.half(), y, generator=_gen())[0]
    assert half.dtype == torch.float16 and torch.isfinite(half).all()
    four = aug(x.expand(-1, 4, -1, -1, -1), y, generator=_gen())[0]  # 4 MRI sequences
    assert four.shape == (8, 4, 12, 20, 18)


def test_bad_volume_input_is_a_clear_error() -> None:
    x, y = _batch()
    aug = HSMix(superpixels="grid", num_classes=3)
    with pytest.raises(ValueError, match=r"B, D, H, W = \(4, 12, 20, 18\)"):
        aug(x, y[:, :, :10])  # masks of another size
    with pytest.raises(ValueError, match="class maps must have shape"):
        aug(x, y[:, 0])  # a 2-D mask for volumes
    with pytest.raises(ValueError, match="spacing=\\(1.0, 2.0\\) has 2 values"):
        HSMix(superpixels="grid", spacing=(1, 2))(x)
    with pytest.raises(ValueError, match="finite values > 0"):
        HSMix(spacing=(1, -2, 1))
    with pytest.raises(ValueError, match=r"\[B, C, D, H, W\]"):
        aug(x[None])
    from hsmix_torch.superpixels import fast_slic_available

    if fast_slic_available():  # 2-D only (tests/superpixels/test_volumes.py without HSMix)
        with pytest.raises(ValueError, match="2,\\) spatial axes"):
            HSMix(superpixels="fast_slic")(x)


def test_hsmixd_on_volume_dicts() -> None:
    x, y = _batch()
    t = HSMixd(keys=("image", "label"), n_segments=20, superpixels="grid", num_classes=3)
    out = t({"image": x, "label": y[:, None], "spacing": (1.0, 1.0, 1.0), "id": [0, 1, 2, 3]})
    assert out["image"].shape == (8, 1, 12, 20, 18) and out["label"].shape == (8, 3, 12, 20, 18)
    assert out["id"] == [0, 1, 2, 3, 0, 1, 2, 3] and out["spacing"] == (1.0, 1.0, 1.0)


def test_collates_on_volume_samples() -> None:
    x, y = _batch()
    samples = [(x[i], y[i], i) for i in range(4)]
    aug = HSMix(n_segments=20, superpixels="grid", num_classes=3)
    collate = HSMixCollate(aug, seed=0)
    images, masks, ids = collate(samples)
    assert images.shape == (8, 1, 12, 20, 18) and masks.shape == (8, 3, 12, 20, 18)
    assert ids.tolist() == [0, 1, 2, 3] * 2
    clone = pickle.loads(pickle.dumps(collate))
    assert torch.equal(clone(samples)[0], HSMixCollate(aug, seed=0)(samples)[0])
    split = SuperpixelCollate("grid", n_segments=(10, 20), spacing=(2, 1, 1), seed=0)
    _, _, _, labels = split(samples)
    assert labels.shape == (4, 12, 20, 18)
    mixed = aug(images[:4], masks[:4].argmax(1), segments=labels)
    assert mixed[0].shape == (8, 1, 12, 20, 18)


def test_monai_patches_in_a_dataloader() -> None:
    """MONAI 3-D: RandCropByPosNegLabeld patches of MetaTensors, batched by a DataLoader,
    mixed by HSMixd on the batch (the training-step form) and by HSMixCollate in workers."""
    monai = pytest.importorskip("monai")
    from monai.transforms import Compose, EnsureChannelFirstd, RandCropByPosNegLabeld

    x, y = _batch(4, size=(16, 24, 24))
    data = [{"image": x[i, 0].numpy(), "label": y[i].numpy()} for i in range(4)]
    crop = Compose(
        [
            EnsureChannelFirstd(keys=("image", "label"), channel_dim="no_channel"),
            RandCropByPosNegLabeld(
                keys=("image", "label"), label_key="label", spatial_size=(12, 16, 16), num_samples=1
            ),
        ]
    )
    crop.set_random_state(0)
    dataset = monai.data.Dataset(data, transform=crop)
    mix = HSMixd(keys=("image", "label"), n_segments=20, superpixels="grid", num_classes=3)
    mix.set_random_state(0)
    loader = monai.data.DataLoader(dataset, batch_size=4, num_workers=0)
    batch = next(iter(loader))
    out = mix(batch)
    assert isinstance(out["image"], monai.data.MetaTensor)
    assert out["image"].shape == (8, 1, 12, 16, 16) and out["label"].shape == (8, 3, 12, 16, 16)
    assert torch.allclose(out["label"].sum(1), torch.ones(8, 12, 16, 16), atol=1e-5)

    def patches(samples):  # RandCropByPosNegLabeld returns a list per sample
        return [s[0] if isinstance(s, list) else s for s in samples]

    collate = HSMixCollate(
        HSMix(n_segments=20, superpixels="grid", num_classes=3, output="either"),
        base_collate=lambda s: monai.data.list_data_collate(patches(s)),
        image_key="image",
        mask_keys=("label",),
        seed=0,
    )
    loader = DataLoader(dataset, batch_size=4, collate_fn=collate, num_workers=2)
    for batch in loader:
        assert batch["image"].shape == (4, 1, 12, 16, 16)
        assert batch["label"].shape == (4, 3, 12, 16, 16)
