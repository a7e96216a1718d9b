"""The pure kernels against direct per-sample, per-region loops."""

from __future__ import annotations

import pytest
import torch

import hsmix_torch.functional as HF


def _labels(b=3, h=12, w=17, k=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, k, (b, h, w), generator=g)


def test_region_reduce_matches_loops() -> None:
    labels = _labels()
    values = torch.rand(labels.shape, generator=torch.Generator().manual_seed(1))
    sums, counts = HF.region_reduce(values, labels, 8, "sum")
    means, _ = HF.region_reduce(values, labels, 8, "mean")
    for b in range(3):
        for k in range(8):
            sel = labels[b] == k
            assert counts[b, k] == sel.sum()
            assert torch.isclose(sums[b, k], values[b][sel].double().sum(), atol=1e-8)
            if sel.any():
                assert torch.isclose(means[b, k], values[b][sel].double().mean(), atol=1e-8)


def test_region_reduce_on_images_too_large_to_pack_sums_and_counts() -> None:
    """Above 2**19 pixels sums and counts are scattered separately; both paths are exact
    (torch.rand draws multiples of 2**-24, which the 24-bit fixed point holds exactly)."""
    g = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 5, (1, 1024, 520), generator=g)
    values = torch.rand(labels.shape, generator=g)
    sums, counts = HF.region_reduce(values, labels, 5)
    small_sums, small_counts = HF.region_reduce(values[:, :500], labels[:, :500], 5)
    for k in range(5):
        sel = labels[0] == k
        assert counts[0, k] == sel.sum() and small_counts[0, k] == sel[:500].sum()
        assert sums[0, k] == values[0][sel].double().sum()
        assert small_sums[0, k] == values[0, :500][sel[:500]].double().sum()


def test_minmax_normalize_ignores_absent_regions() -> None:
    v = torch.tensor([[3.0, 1.0, 100.0, 2.0]], dtype=torch.float64)
    present = torch.tensor([[True, True, False, True]])
    out = HF.minmax_normalize(v, present, eps=0.0)
    assert torch.equal(out, torch.tensor([[1.0, 0.0, 0.0, 0.5]], dtype=torch.float64))


def test_superpixel_mask_paint_and_composite() -> None:
    labels = _labels()
    selected = torch.zeros(3, 6, dtype=torch.bool)
    selected[0, 2] = selected[1, 0] = selected[1, 5] = True
    m = HF.superpixel_mask(labels, selected)
    for b in range(3):
        expect = torch.zeros_like(m[b])
        for k in range(6):
            if selected[b, k]:
                expect |= labels[b] == k
        assert torch.equal(m[b], expect)
    painted = HF.paint_regions(torch.arange(18.0).view(3, 6), labels)
    assert torch.equal(painted, (labels + torch.arange(3).view(3, 1, 1) * 6).float())
    other = _labels(seed=3)
    comp = HF.composite_regions(labels, other, m, 6)
    assert torch.equal(comp, torch.where(m, other + 6, labels))
    assert torch.equal(
        HF.single_region(torch.zeros(2, 4, 4, dtype=torch.long)), torch.tensor([True, True])
    )


def test_mixing_endpoints_are_exact_and_dtypes_kept() -> None:
    a = torch.rand(2, 3, 5, 5)
    b = torch.rand(2, 3, 5, 5)
    zeros, ones = torch.zeros(2, 5, 5), torch.ones(2, 5, 5)
    assert torch.equal(HF.soft_mix(a, b, zeros), a) and torch.equal(HF.soft_mix(a, b, ones), b)
    assert torch.equal(HF.soft_mix(a, a, torch.rand(2, 5, 5)), a)
    u8a, u8b = (a * 255).to(torch.uint8), (b * 255).to(torch.uint8)
    half = HF.soft_mix(u8a, u8b, torch.full((2, 5, 5), 0.5))
    assert half.dtype == torch.uint8
    assert torch.equal(half, torch.round((u8a.float() + u8b.float()) / 2).to(torch.uint8))
    m = torch.rand(2, 5, 5) > 0.5
    assert torch.equal(HF.hard_mix(u8a, u8b, m), torch.where(m[:, None], u8b, u8a))
    idx = torch.randint(0, 4, (2, 5, 5))
    assert torch.equal(HF.hard_mix(idx, idx.flip(0), m), torch.where(m, idx.flip(0), idx))
    bf = HF.soft_mix(a.bfloat16(), b.bfloat16(), torch.full((2, 5, 5), 0.25))
    assert bf.dtype == torch.bfloat16


def test_one_hot_and_ignore() -> None:
    labels = torch.tensor([[[0, 1], [2, 255]]])
    out = HF.one_hot(labels, 3, ignore_index=255)
    assert out.shape == (1, 3, 2, 2)
    assert torch.equal(out.sum(1), torch.tensor([[[1.0, 1.0], [1.0, 0.0]]]))
    assert torch.equal(out.argmax(1)[0, 0], torch.tensor([0, 1]))
    inside = HF.one_hot(labels[:, :, :1].expand(2, 2, 1), 3, ignore_index=2)  # an ignored class
    assert inside.dtype == torch.float32 and inside.shape == (2, 3, 2, 1)
    assert torch.equal(inside[0, :, :, 0], torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))


def test_saliency_lambda_normalises_per_image() -> None:
    labels = _labels()
    rel = torch.rand(labels.shape, generator=torch.Generator().manual_seed(2))
    lam = HF.saliency_lambda(rel, labels, 6, "sum")
    for b in range(3):
        assert lam[b].min() == 0 and lam[b].max() > 0.99
    assert torch.allclose(
        HF.relative_saliency(torch.zeros(2), torch.ones(2)), torch.full((2,), 1 / 1.0001)
    )


def test_region_and_mixing_kernels_take_any_number_of_spatial_axes() -> None:
    """On volumes [B, D, H, W] the kernels give what they give on the same voxels laid out
    as images [B, D*H, W]: they depend on the spatial axes only through their flattening."""
    g = torch.Generator().manual_seed(0)
    b, d, h, w = 3, 4, 6, 5
    labels = torch.randint(0, 7, (b, d, h, w), generator=g)
    sal = torch.rand(b, d, h, w, generator=g)
    partner = torch.tensor([2, 0, 1])
    selected = torch.rand(b, 7, generator=g) < 0.4
    a = torch.rand(b, 2, d, h, w, generator=g)
    flat = lambda t: t.reshape(*t.shape[:-3], d * h, w)  # noqa: E731
    mask = HF.superpixel_mask(labels[partner], selected)
    assert torch.equal(flat(mask), HF.superpixel_mask(flat(labels)[partner], selected))
    for aggregate in ("sum", "mean"):
        lam = HF.soft_lambda(sal, labels, partner, mask, 7, aggregate)
        ref = HF.soft_lambda(flat(sal), flat(labels), partner, flat(mask), 7, aggregate)
        assert lam.shape == (b, d, h, w) and torch.equal(flat(lam), ref)
    assert torch.equal(
        flat(HF.hard_mix(a, a[partner], mask)), HF.hard_mix(flat(a), flat(a)[partner], flat(mask))
    )
    assert torch.equal(
        flat(HF.soft_mix(a, a[partner], lam)), HF.soft_mix(flat(a), flat(a)[partner], flat(lam))
    )


def test_soft_lambda_and_region_uniforms_name_bad_arguments() -> None:
    from hsmix_torch.sampler import region_uniforms

    sal, labels = torch.rand(2, 4, 5), torch.zeros(2, 4, 5, dtype=torch.long)
    partner, hard = torch.tensor([1, 0]), torch.zeros(2, 4, 5, dtype=torch.bool)
    ok = (sal, labels, partner, hard, 3)
    HF.soft_lambda(*ok)
    bad = [
        ((sal[:, :3], labels, partner, hard, 3), ValueError, "saliency must have the labels'"),
        ((sal, labels.float(), partner, hard, 3), TypeError, "labels must be an integer"),
        ((sal, labels, partner, hard.float(), 3), TypeError, "hard_mask must be bool"),
        ((sal.long(), labels, partner, hard, 3), TypeError, "saliency must be floating"),
        ((sal, labels, partner[:1], hard, 3), ValueError, r"partner must have shape \[B\]=2"),
        ((sal, labels, partner.float(), hard, 3), TypeError, "partner must be an integer"),
        ((sal, labels, partner, hard, 0), ValueError, "num_labels must be >= 1"),
        ((sal, labels, partner, hard, 3, "max"), ValueError, "aggregate must be"),
        ((sal, labels.tolist(), partner, hard, 3), TypeError, "labels must be a torch.Tensor"),
    ]
    for args, err, match in bad:
        with pytest.raises(err, match=match):
            HF.soft_lambda(*args)
    with pytest.raises(ValueError, match="partner_labels must have"):
        HF.soft_lambda(*ok, partner_labels=labels[:, :2])
    with pytest.raises(TypeError, match="key must be an integer tensor"):
        region_uniforms(torch.rand(3), 4)
    with pytest.raises(ValueError, match="num_labels must be >= 0"):
        region_uniforms(torch.tensor([1]), -1)
    with pytest.raises(TypeError, match="num_labels must be an int"):
        region_uniforms(torch.tensor([1]), 4.0)
    for bad_kernels in ("cuda", "gpu"):  # the maps and the mix name their choices
        with pytest.raises(ValueError, match="kernels must be one of"):
            HF.mix_maps(labels, partner, torch.tensor([1, 2, 3]), 7, 0.2, output="hard",
                        kernels=bad_kernels)  # fmt: skip
