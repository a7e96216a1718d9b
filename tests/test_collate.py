"""DataLoader integration: mixing in workers, and superpixels from workers for the GPU module."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from hsmix_torch import HSMix, HSMixCollate, SuperpixelCollate

from .conftest import real_or_builtin


class Pairs(Dataset):
    """Real Kvasir-SEG images at 96 px, as tuples or dicts with metadata."""

    def __init__(self, as_dict: bool = False) -> None:
        images, masks = real_or_builtin("Kvasir_SEG", 16, 3, size=96)
        self.images = images.float() / 255
        self.masks = masks
        self.as_dict = as_dict

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        if self.as_dict:
            return {"image": self.images[i], "label": self.masks[i], "id": i, "name": f"img{i}"}
        return self.images[i], self.masks[i], i


def _aug(**kw) -> HSMix:
    return HSMix(n_segments=(20, 40), superpixels="grid", num_classes=2, **kw)


def _check_mixed(images, masks, source_images) -> None:
    """2B samples; soft masks are distributions; every pixel of the hard block is the pixel
    of one of the source images at the same place (a paste, never a blend)."""
    b = len(images) // 2
    assert images.shape == (2 * b, 3, 96, 96) and masks.shape == (2 * b, 2, 96, 96)
    assert torch.allclose(masks.sum(1), torch.ones(2 * b, 96, 96), atol=1e-6)
    hard = images[:b]
    from_a_source = (hard[:, None] == source_images[None]).all(2).any(1)  # [b, H, W]
    assert from_a_source.all()
    assert images.min() >= 0 and images.max() <= 1


def _epoch(ds, num_workers: int) -> list:
    """One pass with a fresh collate_fn; the DataLoader's (and the process's) seed fixed."""
    torch.manual_seed(0)  # with num_workers=0 the main process's seed is the worker seed
    loader = DataLoader(
        ds,
        batch_size=8,
        num_workers=num_workers,
        collate_fn=HSMixCollate(_aug()),
        generator=torch.Generator().manual_seed(0),
    )
    return list(loader)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_hsmix_collate_tuples(num_workers) -> None:
    ds = Pairs()
    batches = _epoch(ds, num_workers)
    assert len(batches) == 2
    for images, masks, ids in batches:
        _check_mixed(images, masks, ds.images)
        assert torch.equal(ids[:8], ids[8:])  # metadata follows the hard and soft blocks
        # Where nothing was pasted, the hard image is the source image of that id.
        same = (images[:8] == ds.images[ids[:8]]).flatten(1).float().mean(1)
        assert (same > 0.3).all()
    for a, b in zip(batches, _epoch(ds, num_workers), strict=True):
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    # Each batch (and with 2 workers, each worker) draws its own mix.
    assert not torch.equal(batches[0][0][8:] - ds.images[:8], batches[1][0][8:] - ds.images[8:])


def test_hsmix_collate_dicts_keep_other_keys() -> None:
    ds = Pairs(as_dict=True)
    collate = HSMixCollate(_aug(), mask_keys=["label"], seed=3)
    batch = next(iter(DataLoader(ds, batch_size=4, collate_fn=collate)))
    assert set(batch) == {"image", "label", "id", "name"}
    _check_mixed(batch["image"], batch["label"], ds.images)
    assert batch["name"] == [f"img{i}" for i in range(4)] * 2
    assert torch.equal(batch["id"], torch.arange(4).repeat(2))


def test_hsmix_collate_is_picklable_and_seeded() -> None:
    collate = HSMixCollate(_aug(), seed=11)
    clone = pickle.loads(pickle.dumps(collate))
    ds = Pairs()
    samples = [ds[i] for i in range(6)]
    assert torch.equal(collate(samples)[0], clone(samples)[0])
    with pytest.raises(TypeError, match="aug must be an HSMix"):
        HSMixCollate(lambda x: x)


def test_tv_tensors_round_trip() -> None:
    tv_tensors = pytest.importorskip("torchvision.tv_tensors")
    ds = Pairs()
    samples = [(tv_tensors.Image(ds.images[i]), tv_tensors.Mask(ds.masks[i])) for i in range(4)]
    images, masks = HSMixCollate(_aug(), seed=0)(samples)
    assert isinstance(images, tv_tensors.Image) and isinstance(masks, tv_tensors.Mask)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_split_mode_superpixels_from_workers(num_workers) -> None:
    ds = Pairs()
    collate = SuperpixelCollate("auto", n_segments=(20, 40), seed=1)
    loader = DataLoader(ds, batch_size=8, num_workers=num_workers, collate_fn=collate)
    aug = HSMix(num_classes=2)
    for images, masks, _, labels in loader:
        assert labels.shape == (8, 96, 96) and labels.dtype == torch.long
        assert (labels.flatten(1).amax(1) >= 5).all()  # real superpixels, not one segment
        out, out_masks, params = aug(
            images,
            masks,
            segments=labels,
            return_params=True,
            generator=torch.Generator().manual_seed(0),
        )
        assert torch.equal(params.segments, labels)
        _check_mixed(out, out_masks, ds.images)
        m = params.hard_mask
        assert torch.equal(out[:8], torch.where(m[:, None], images[params.partner], images))
    batch = SuperpixelCollate("grid", superpixel_key="sp")(
        [ds.__class__(True)[i] for i in range(3)]
    )
    assert batch["sp"].shape == (3, 96, 96)


def test_nested_metadata_stays_aligned_with_the_doubled_batch() -> None:
    """Dicts in tuples and lists of tensors: every per-sample entry follows the 2B samples."""
    ds = Pairs()
    samples = [
        (ds.images[i], ds.masks[i], {"id": i, "name": f"s{i}"}, [i, 2 * i]) for i in range(4)
    ]
    images, masks, meta, pair = HSMixCollate(_aug(), seed=0)(samples)
    assert images.shape[0] == masks.shape[0] == 8
    assert torch.equal(meta["id"], torch.arange(4).repeat(2))
    assert meta["name"] == [f"s{i}" for i in range(4)] * 2
    assert len(pair) == 2 and torch.equal(pair[1], 2 * torch.arange(4).repeat(2))
    _check_mixed(images, masks, ds.images[:4])


def test_collate_passes_batches_through_when_the_module_is_in_eval_mode() -> None:
    ds = Pairs()
    aug = _aug().eval()
    images, masks, ids = HSMixCollate(aug)([ds[i] for i in range(3)])
    assert torch.equal(images, ds.images[:3]) and torch.equal(masks, ds.masks[:3])
