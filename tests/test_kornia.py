"""RandomHSMix in kornia's AugmentationSequential (hsmix_torch/kornia.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

K = pytest.importorskip("kornia.augmentation", reason="kornia is an optional extra")

from hsmix_torch.functional import one_hot  # noqa: E402
from hsmix_torch.kornia import RandomHSMix  # noqa: E402

from .conftest import real_or_builtin  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KEYS = ["input", "mask"]


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    """6 Kvasir-SEG polyps (or built-in samples) at 64 px: float [0, 1], int64 [B, 1, H, W]."""
    images, masks = real_or_builtin("Kvasir_SEG", 6, 3, size=64)
    return images.float() / 255, masks[:, None]


def _pipeline(mix: RandomHSMix) -> K.AugmentationSequential:
    return K.AugmentationSequential(
        K.RandomHorizontalFlip(), K.RandomAffine(degrees=20, p=1.0), mix, data_keys=KEYS
    )


def _before_mix(seq: K.AugmentationSequential, images, masks):
    """What reached RandomHSMix in ``seq``'s last call: its first two children replayed."""
    pre = K.AugmentationSequential(seq[0], seq[1], data_keys=KEYS)
    return pre(images, masks, params=seq._params[:2])


@pytest.mark.parametrize("output", ["hard", "soft", "either"])
@pytest.mark.parametrize("mask_kind", ["int", "float", "one_hot"])
def test_pasted_regions_of_image_and_mask_coincide(batch, output, mask_kind) -> None:
    images, masks = batch
    given = {"int": masks, "float": masks.float(), "one_hot": one_hot(masks[:, 0], 2)}[mask_kind]
    torch.manual_seed(0)
    mix = RandomHSMix(output=output, superpixels="torch", p_hard=0.4)
    seq = _pipeline(mix)
    out, out_masks = seq(images, given)
    assert out.shape == images.shape and out_masks.shape == given.shape
    assert out_masks.dtype == given.dtype
    x, m = _before_mix(seq, images, given)
    m = m.float()
    p = mix._params
    partner, hard, lam, soft = p["partner"], p["hard_mask"], p["soft_lambda"], p["soft"]
    b = images.shape[0]
    assert torch.all(partner != torch.arange(b))  # derangement: everyone mixes
    assert torch.equal(soft, torch.full((b,), output == "soft") if output != "either" else soft)
    # M is the union of the selected superpixels of the partner.
    labels_b = p["segments"][partner]
    assert torch.equal(hard, torch.gather(p["selected"], 1, labels_b.flatten(1)).view_as(hard))
    # The image: hard samples take the partner's pixels exactly in M; soft ones blend with L.
    s4 = soft.view(b, 1, 1, 1)
    expect = torch.where(
        s4,
        x * (1 - lam[:, None]) + x[partner] * lam[:, None],
        torch.where(hard[:, None], x[partner], x),
    )
    torch.testing.assert_close(out, expect, atol=1e-6, rtol=0)
    # The mask: the same regions.
    if mask_kind == "one_hot":
        want = torch.where(
            s4,
            m * (1 - lam[:, None]) + m[partner] * lam[:, None],
            torch.where(hard[:, None], m[partner], m),
        )
        torch.testing.assert_close(out_masks, want, atol=1e-6, rtol=0)
        # Probabilities stay probabilities where both sources are (the affine's border is 0).
        full = (m.sum(1) == 1) & (m[partner].sum(1) == 1)
        torch.testing.assert_close(out_masks.sum(1)[full], torch.ones_like(out_masks[:, 0][full]))
    else:  # labels: the partner's where its weight is larger
        take = torch.where(soft.view(b, 1, 1), lam > 0.5, hard)[:, None]
        assert torch.equal(out_masks.float(), torch.where(take, m[partner], m))
    if output != "soft":
        assert bool(hard[~soft].any())  # the check above compared some pasted pixels


def test_stored_params_replay_the_same_batch(batch) -> None:
    images, masks = batch
    seq = _pipeline(RandomHSMix(superpixels="torch"))
    out, out_masks = seq(images, masks)
    params = seq._params
    torch.manual_seed(123)  # the replay draws nothing
    again, again_masks = seq(images, masks, params=params)
    assert torch.equal(out, again) and torch.equal(out_masks, again_masks)
    # A direct call replays from its own params, maps included.
    mix = RandomHSMix(superpixels="torch", data_keys=KEYS)
    x1, m1 = mix(images, masks.float())
    x2, m2 = mix(images, masks.float(), params=mix._params)
    assert torch.equal(x1, x2) and torch.equal(m1, m2)


def test_same_seed_same_batch_and_different_seed_differs(batch) -> None:
    images, masks = batch
    runs = []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        runs.append(_pipeline(RandomHSMix(superpixels="grid"))(images, masks))
    assert all(torch.equal(a, b) for a, b in zip(runs[0], runs[1], strict=True))
    assert not torch.equal(runs[0][0], runs[2][0])


def test_grey_and_half_precision(batch) -> None:
    images, masks = batch
    grey = images.mean(1, keepdim=True)
    out, out_masks = _pipeline(RandomHSMix(superpixels="torch"))(grey, masks)
    assert out.shape == grey.shape and out_masks.dtype == torch.int64
    half = RandomHSMix(superpixels="torch", data_keys=KEYS)
    out, out_masks = half(images.half(), masks.half())
    assert out.dtype == torch.float16 and out_masks.dtype == torch.float16
    assert set(out_masks.unique().tolist()) <= {0.0, 1.0}


def test_gates_p_and_p_batch_leave_samples_unchanged(batch) -> None:
    images, masks = batch
    for kw in ({"p": 0.0}, {"p_batch": 0.0}):
        out, out_masks = RandomHSMix(superpixels="grid", data_keys=KEYS, **kw)(
            images, masks.float()
        )
        assert torch.equal(out, images) and torch.equal(out_masks, masks.float())
    torch.manual_seed(1)
    mix = RandomHSMix(superpixels="grid", p=0.5, data_keys=KEYS)
    out, out_masks = mix(images, masks.float())
    off = mix._params["batch_prob"] < 0.5
    assert bool(off.any()) and bool((~off).any())
    assert torch.equal(out[off], images[off]) and torch.equal(out_masks[off], masks.float()[off])
    assert not torch.equal(out[~off], images[~off])


def test_unsupported_keys_inverse_and_options_are_refused(batch) -> None:
    images, masks = batch
    boxes = torch.tensor([[[1.0, 1.0, 9.0, 9.0]]]).expand(len(images), 1, 4)
    seq = K.AugmentationSequential(
        RandomHSMix(superpixels="grid"), data_keys=["input", "bbox_xyxy"]
    )
    with pytest.raises(NotImplementedError, match="cannot mix data key 'bbox'"):
        seq(images, boxes)
    with pytest.raises(NotImplementedError, match="'keypoints'"):
        RandomHSMix(data_keys=["input", "keypoints"])
    seq = _pipeline(RandomHSMix(superpixels="grid"))
    out, out_masks = seq(images, masks)
    with pytest.raises(RuntimeError, match="Inverse for RandomHSMix is not supported"):
        seq.inverse(out, out_masks)
    with pytest.raises(ValueError, match="'both'"):
        RandomHSMix(output="both")
    with pytest.raises(ValueError, match="same_on_batch"):
        RandomHSMix(same_on_batch=True)
    with pytest.raises(ValueError, match="masks must be"):
        RandomHSMix(masks="one_hot")
    with pytest.raises(ValueError, match="p_hard"):
        RandomHSMix(p_hard=2.0)
    with pytest.raises(ValueError, match="p must be"):
        RandomHSMix(p=1.5)
    with pytest.raises(TypeError, match="p_batch must be a number"):  # a type: TypeError
        RandomHSMix(p_batch="half")
    with pytest.raises(ValueError, match="p_batch must be in"):
        RandomHSMix(p_batch=-0.5)


def test_mask_without_its_image_and_wrong_sizes_are_refused(batch) -> None:
    images, masks = batch
    mix = RandomHSMix(superpixels="grid", data_keys=KEYS)
    shape_only = mix.forward_parameters(images.shape)
    with pytest.raises(ValueError, match="superpixels of its image"):
        mix(masks.float(), params=shape_only, data_keys=["mask"])
    mix(images, masks.float())
    with pytest.raises(ValueError, match=r"params were made for .* mask has shape"):
        mix(masks[:, :, :32].float(), params=mix._params, data_keys=["mask"])


def test_probability_masks_blend_and_label_masks_keep_labels(batch) -> None:
    images, masks = batch
    soft = masks.float() * 0.8
    torch.manual_seed(2)
    mix = RandomHSMix(superpixels="torch", output="soft", masks="probabilities", data_keys=KEYS)
    _, out_masks = mix(images, soft)
    lam, partner = mix._params["soft_lambda"][:, None], mix._params["partner"]
    torch.testing.assert_close(out_masks, soft * (1 - lam) + soft[partner] * lam)
    labels = torch.where(masks > 0, 3.0, 255.0)  # any label values, an ignore label too
    mix = RandomHSMix(superpixels="torch", output="soft", data_keys=KEYS)
    _, out_labels = mix(images, labels)
    assert set(out_labels.unique().tolist()) <= {3.0, 255.0}
    # A direct call may pass [B, H, W] label maps; they come back as they came.
    _, flat = mix(images, labels[:, 0], params=mix._params)
    assert torch.equal(flat, out_labels[:, 0])


def test_module_moves_and_repr(batch) -> None:
    mix = RandomHSMix(superpixels="grid").to(torch.float64)
    assert "RandomHSMix(n_segments=(30, 80)" in repr(mix) and "masks='labels'" in repr(mix)
    assert isinstance(mix, K.MixAugmentationBaseV2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_pipeline_matches_itself_on_replay(batch) -> None:
    images, masks = (t.cuda() for t in batch)
    seq = _pipeline(RandomHSMix()).cuda()
    out, out_masks = seq(images, masks)
    assert out.is_cuda and out_masks.is_cuda
    again = seq(images, masks, params=seq._params)
    assert torch.equal(out, again[0]) and torch.equal(out_masks, again[1])


def test_package_imports_without_kornia() -> None:
    code = (
        "import sys; sys.modules['kornia'] = None\n"
        "import torch, hsmix_torch\n"
        "out = hsmix_torch.HSMix(superpixels='grid')(torch.rand(2, 3, 32, 32))\n"
        "assert out.shape == (4, 3, 32, 32)\n"
        "try:\n"
        "    import hsmix_torch.kornia\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert res.returncode == 0, res.stderr
    assert 'pip install "hsmix_torch[kornia]"' in res.stdout


def test_lab_conversion_equals_kornia_on_real_images(batch) -> None:
    """Our rgb_to_lab (kept: see its module docstring) equals kornia's to float rounding."""
    from kornia.color import rgb_to_lab as kornia_lab

    from hsmix_torch.superpixels._color import rgb_to_lab

    images, _ = batch
    ours = rgb_to_lab(images.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    torch.testing.assert_close(ours, kornia_lab(images), atol=2e-4, rtol=0)
