"""HSMix invariants on real (or built-in) images, replay, and every option of the module."""

from __future__ import annotations

import pytest
import torch

from hsmix_torch import HSMix, HSMixParams, draw
from hsmix_torch.functional import composite_regions

SEED = 1234


def _gen(seed: int = SEED) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module", params=["rgb", "grey"])
def batch(request, rgb_batch, grey_batch):
    images, masks = rgb_batch if request.param == "rgb" else grey_batch
    return images.float() / 255, masks


def _run(aug: HSMix, images, masks, seed: int = SEED):
    return aug(images, masks, generator=_gen(seed), return_params=True)


def test_hard_branch_invariants(batch) -> None:
    images, masks = batch
    aug = HSMix(n_segments=(30, 80), p_hard=0.3, superpixels="skimage", output="hard")
    out, out_masks, params = _run(aug, images, masks)
    b = images.shape[0]
    assert out.shape == images.shape and out_masks.shape == masks.shape
    assert out_masks.dtype == masks.dtype  # integer maps stay integer maps
    partner = params.partner
    m = params.hard_mask
    # Every output pixel is the pixel of x_i or of x_j, chosen by M; masks use the same M.
    expect = torch.where(m[:, None], images[partner], images)
    assert torch.equal(out, expect)
    assert torch.equal(out_masks, torch.where(m, masks[partner], masks))
    # M is a union of whole superpixels of x_j.
    labels_b = params.segments[partner]
    for i in range(b):
        for k in labels_b[i].unique():
            inside = m[i][labels_b[i] == k]
            assert inside.all() or not inside.any()
    # Identity pairs are unchanged.
    same = partner == torch.arange(b)
    assert torch.equal(out[same], images[same])


def test_soft_branch_invariants(batch) -> None:
    images, masks = batch
    aug = HSMix(
        n_segments=(30, 80), p_hard=0.2, superpixels="skimage", output="soft", num_classes=2
    )
    out, out_masks, params = _run(aug, images, masks)
    partner, lam = params.partner, params.soft_lambda
    h, w = images.shape[-2:]
    regions = composite_regions(params.segments, params.segments[partner], params.hard_mask, h * w)
    assert lam.min() >= 0 and lam.max() <= 1
    for i in range(images.shape[0]):
        if partner[i] == i:
            assert torch.equal(lam[i], torch.zeros_like(lam[i]))
            continue
        # One lambda per region of S_ab; min 0 and max ~1 (the published 1e-5 in the denominator).
        for k in regions[i].unique():
            vals = lam[i][regions[i] == k]
            assert torch.equal(vals, vals[:1].expand_as(vals))
        assert lam[i].min() == 0
        assert lam[i].max() > 0.95
    # Images and masks use the same L; one-hot masks stay distributions.
    onehot = torch.nn.functional.one_hot(masks, 2).permute(0, 3, 1, 2).float()
    expect = torch.lerp(onehot, onehot[partner], lam[:, None])
    assert torch.allclose(out_masks, expect, atol=1e-6)
    assert torch.allclose(out_masks.sum(1), torch.ones_like(out_masks[:, 0]), atol=1e-6)
    assert torch.allclose(out, torch.lerp(images, images[partner], lam[:, None]), atol=1e-6)


def test_both_is_hard_then_soft_and_nothing_dropped(rgb_batch) -> None:
    images, masks = rgb_batch
    images = images.float() / 255
    kw = dict(n_segments=(30, 80), superpixels="skimage", num_classes=2)
    both, both_masks, params = _run(HSMix(output="both", **kw), images, masks)
    b = images.shape[0]
    assert both.shape[0] == both_masks.shape[0] == 2 * b
    hard = HSMix(output="hard", **kw).mix(images, masks, params)
    soft = HSMix(output="soft", **kw).mix(images, masks, params)
    assert torch.equal(both[:b], hard[0]) and torch.equal(both[b:], soft[0])
    assert torch.equal(both_masks[b:], soft[1])
    # The hard branch of "both" is one-hot, so it can be concatenated with the soft one.
    assert torch.equal(both_masks[:b].argmax(1), hard[1])


def test_expected_pasted_fraction_is_p_hard(rgb_batch) -> None:
    images, masks = rgb_batch
    images = images.float() / 255
    aug = HSMix(n_segments=(60, 60), p_hard=0.3, superpixels="grid", output="hard")
    fractions = []
    for seed in range(40):
        _, _, params = _run(aug, images, masks, seed)
        moved = params.partner != torch.arange(images.shape[0])
        fractions.append(params.hard_mask[moved].float().mean())
    # 40 batches x ~7 pairs x 60 cells: the standard error is below 0.01.
    assert abs(float(torch.stack(fractions).mean()) - 0.3) < 0.03


def test_replay_with_mix_is_exact(batch) -> None:
    images, masks = batch
    aug = HSMix(superpixels="skimage", num_classes=2)
    out, out_masks, params = _run(aug, images, masks)
    assert isinstance(params, HSMixParams)
    assert params.segments.shape == masks.shape and params.segments.dtype == torch.long
    assert params.hard_mask.dtype == torch.bool and params.soft_lambda.dtype == torch.float32
    assert params.partner.shape == params.mixed.shape == (images.shape[0],)
    assert params.soft is None  # only output="either" chooses per sample
    # The per-superpixel selection paints M: replayable from the superpixels alone.
    labels_b = params.segments[params.partner]
    assert torch.equal(
        params.selected.gather(1, labels_b.flatten(1)).view_as(labels_b), params.hard_mask
    )
    replay, replay_masks = aug.mix(images, masks, params)
    assert torch.equal(replay, out) and torch.equal(replay_masks, out_masks)


def test_same_seed_same_batch_different_seed_different_batch(rgb_batch) -> None:
    images, masks = rgb_batch
    images = images.float() / 255
    aug = HSMix(superpixels="skimage", num_classes=2)
    a = _run(aug, images, masks, 7)
    b = _run(aug, images, masks, 7)
    c = _run(aug, images, masks, 8)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    # A generator leaves the global RNG alone.
    state = torch.get_rng_state()
    _run(aug, images, masks, 9)
    assert torch.equal(state, torch.get_rng_state())


def test_single_superpixel_partner_and_p_zero_leave_images_unchanged(rgb_batch) -> None:
    images, masks = rgb_batch
    images = images.float() / 255
    out, out_masks, params = _run(
        HSMix(n_segments=1, superpixels="grid", num_classes=2), images, masks
    )
    b = images.shape[0]
    assert torch.equal(out[:b], images) and torch.equal(out[b:], images)
    assert not params.hard_mask.any() and not params.soft_lambda.any()
    out, _, params = _run(HSMix(p=0.0, superpixels="grid", num_classes=2), images, masks)
    assert torch.equal(params.partner, torch.arange(b)) and not params.mixed.any()
    assert torch.equal(out[:b], images) and torch.equal(out[b:], images)


def test_beta_lambda_is_one_draw_per_partner_superpixel(rgb_batch) -> None:
    images, masks = rgb_batch
    images = images.float() / 255
    aug = HSMix(
        lam="beta",
        alpha=0.5,
        p_hard=0.5,
        superpixels="grid",
        n_segments=(20, 40),
        output="soft",
        num_classes=2,
    )
    _, _, params = _run(aug, images, masks)
    for i in range(images.shape[0]):
        j = params.partner[i]
        if j == i:
            continue
        labels_b = params.segments[j]
        for k in labels_b.unique():
            vals = params.soft_lambda[i][labels_b == k]
            assert torch.equal(vals, vals[:1].expand_as(vals))
    moved = params.partner != torch.arange(images.shape[0])
    lam = params.soft_lambda[moved]
    assert lam.min() >= 0 and lam.max() <= 1 and lam.std() > 0.1


def test_mean_aggregate_differs_from_sum_and_stays_normalised(rgb_batch) -> None:
    images, masks = rgb_batch
    images = images.float() / 255
    s = _run(
        HSMix(aggregate="sum", superpixels="skimage", output="soft", num_classes=2), images, masks
    )[2]
    m = _run(
        HSMix(aggregate="mean", superpixels="skimage", output="soft", num_classes=2), images, masks
    )[2]
    assert torch.equal(s.hard_mask, m.hard_mask)
    assert not torch.equal(s.soft_lambda, m.soft_lambda)
    moved = m.partner != torch.arange(images.shape[0])
    assert (m.soft_lambda[moved].amin((1, 2)) == 0).all()
    assert (m.soft_lambda[moved].amax((1, 2)) > 0.99).all()


def test_mask_layouts(rgb_batch) -> None:
    images, masks = rgb_batch
    images = images.float() / 255
    b = images.shape[0]
    multi = masks * torch.arange(b).remainder(3).add(1).view(b, 1, 1)  # classes 0..3
    aug = HSMix(superpixels="grid", num_classes=4)
    _, out, _ = _run(aug, images, multi)
    assert out.shape == (2 * b, 4, 224, 224) and out.dtype == torch.float32
    assert torch.allclose(out.sum(1), torch.ones(2 * b, 224, 224), atol=1e-6)
    # [B, 1, H, W] integer maps and one-hot float maps give the same mix.
    _, out_1 = aug(images, multi[:, None], generator=_gen())
    onehot = torch.nn.functional.one_hot(multi, 4).permute(0, 3, 1, 2).float()
    _, out_oh = aug(images, onehot, generator=_gen())
    assert torch.equal(out_1, out) and torch.allclose(out_oh, out)
    # Multi-label / soft float masks keep their dtype and are mixed the same way.
    soft = torch.rand(b, 3, 224, 224, dtype=torch.float64)
    _, out_soft, params = aug(images, soft, generator=_gen(), return_params=True)
    assert out_soft.dtype == torch.float64 and out_soft.shape == (2 * b, 3, 224, 224)
    expect_hard = torch.where(params.hard_mask[:, None], soft[params.partner], soft)
    assert torch.equal(out_soft[:b], expect_hard)
    # [B, 1, H, W] hard-only integer maps keep their shape and dtype.
    _, out_hard = HSMix(superpixels="grid", output="hard")(images, multi[:, None].to(torch.uint8))
    assert out_hard.shape == (b, 1, 224, 224) and out_hard.dtype == torch.uint8


def test_ignore_index(rgb_batch) -> None:
    images, masks = rgb_batch
    images = images.float() / 255
    masks = masks.clone()
    masks[:, :10] = 255
    hard = HSMix(superpixels="grid", output="hard", num_classes=2, ignore_index=255)
    out, out_masks, params = _run(hard, images, masks)
    assert torch.equal(out_masks, torch.where(params.hard_mask, masks[params.partner], masks))
    both = HSMix(superpixels="grid", num_classes=2, ignore_index=255)
    _, out_masks, params = _run(both, images, masks)
    assert torch.equal(out_masks[:, :, :10], torch.zeros_like(out_masks[:, :, :10]))
    assert torch.allclose(
        out_masks[:, :, 10:].sum(1), torch.ones_like(out_masks[:, 0, 10:]), atol=1e-6
    )


def test_images_only_and_uint8_and_half(rgb_batch) -> None:
    images, _ = rgb_batch
    aug = HSMix(superpixels="grid")
    out = aug(images, generator=_gen())
    assert isinstance(out, torch.Tensor) and out.dtype == torch.uint8 and out.shape[0] == 16
    out_f, params = aug(images.float() / 255, generator=_gen(), return_params=True)
    assert torch.equal(params.hard_mask, aug.make_params(images, generator=_gen()).hard_mask)
    # uint8 soft mix = rounded float mix of the same values.
    assert (out[8:].float() - (out_f[8:] * 255)).abs().max() <= 0.5 + 1e-3
    half = aug(images.half() / 255, generator=_gen())
    assert half.dtype == torch.float16
    assert (half.float() - out_f).abs().max() < 2e-3


def test_errors_name_the_argument(rgb_batch) -> None:
    images, masks = rgb_batch
    images = images.float() / 255
    with pytest.raises(ValueError, match="n_segments"):
        HSMix(n_segments=(80, 30))
    with pytest.raises(TypeError, match="n_segments"):
        HSMix(n_segments=3.5)
    for kw, name in [
        ({"p_hard": 1.5}, "p_hard"),
        ({"p": -0.1}, "p"),
        ({"lam": "x"}, "lam"),
        ({"alpha": 0}, "alpha"),
        ({"aggregate": "max"}, "aggregate"),
        ({"output": "pair"}, "output"),
        ({"num_classes": 0}, "num_classes"),
        ({"superpixels": "felzenszwalb"}, "superpixels"),
        ({"saliency": "itti"}, "saliency"),
        ({"compactness": -1.0}, "compactness"),
    ]:
        with pytest.raises(ValueError, match=name):
            HSMix(**kw)
    aug = HSMix(superpixels="grid")
    with pytest.raises(ValueError, match="num_classes"):
        aug(images, masks)
    aug = HSMix(superpixels="grid", num_classes=2)
    with pytest.raises(ValueError, match=r"images must have shape \[B, C, H, W\]"):
        aug(images[0], masks)
    with pytest.raises(TypeError, match="images must be floating point or uint8"):
        aug(images.int(), masks)
    with pytest.raises(ValueError, match=r"inputs\[1\] as class maps must have shape"):
        aug(images, masks[:, :100])  # named as passed: the second positional input
    with pytest.raises(ValueError, match=r"float inputs\[1\] must have shape"):
        aug(images, masks[:4].float()[:, None].expand(-1, 2, -1, -1))
    with pytest.raises(ValueError, match=r"float masks must have shape"):
        aug.mix(images, masks[:4].float()[:, None].expand(-1, 2, -1, -1), aug.make_params(images))
    with pytest.raises(ValueError, match="label 2 >= num_classes=2"):
        aug(images, masks * 2)
    with pytest.raises(ValueError, match="negative label"):
        aug(images, masks - 1)
    with pytest.raises(ValueError, match="NaN or Inf"):
        bad = images.clone()
        bad[0, 0, 0, 0] = float("nan")
        aug(bad, masks)
    with pytest.raises(ValueError, match="segments must have shape"):
        aug(images, masks, segments=masks[:, :10])
    with pytest.raises(ValueError, match="params were made for"):
        aug.mix(images[:2], masks[:2], aug.make_params(images))
    with pytest.raises(ValueError, match="saliency must return"):
        HSMix(superpixels="grid", saliency=lambda x: x)(images)


def test_precomputed_superpixels_and_callable_backend(rgb_batch) -> None:
    images, masks = rgb_batch
    images = images.float() / 255
    grid = HSMix(superpixels="grid", num_classes=2)
    _, _, params = grid(images, masks, generator=_gen(), return_params=True)
    calls = []

    def backend(x, n):
        calls.append(n)
        return params.segments.clone()

    via_callable = HSMix(superpixels=backend, num_classes=2)(
        images, masks, generator=_gen(), return_params=True
    )
    via_arg = HSMix(superpixels="skimage", num_classes=2)(
        images, masks, segments=params.segments, generator=_gen(), return_params=True
    )
    assert len(calls) == 1 and calls[0].shape == (images.shape[0],)
    assert torch.equal(via_callable[0], via_arg[0]) and torch.equal(via_callable[1], via_arg[1])


def test_either_keeps_the_batch_size_and_picks_a_branch_per_sample(rgb_batch) -> None:
    images, masks = rgb_batch
    x = images.float() / 255
    kw = dict(superpixels="grid", num_classes=2)
    aug = HSMix(output="either", p_soft=0.5, **kw)
    out, out_masks, params = aug(x, masks, generator=_gen(3), return_params=True)
    assert out.shape == x.shape and out_masks.shape == (8, 2, 224, 224)  # one layout
    assert params.soft.dtype == torch.bool and 0 < int(params.soft.sum()) < 8
    hard = HSMix(output="hard", **kw).mix(x, masks, params)
    soft = HSMix(output="soft", **kw).mix(x, masks, params)
    pick = params.soft.view(-1, 1, 1, 1)
    assert torch.equal(out, torch.where(pick, soft[0], hard[0]))
    onehot = torch.nn.functional.one_hot(hard[1], 2).permute(0, 3, 1, 2).float()
    assert torch.equal(out_masks, torch.where(pick, soft[1], onehot))
    for p_soft, expect in ((0.0, False), (1.0, True)):
        p = HSMix(output="either", p_soft=p_soft, **kw).make_params(x, generator=_gen())
        assert (p.soft == expect).all()
    with pytest.raises(ValueError, match="p_soft"):
        HSMix(output="either", p_soft=1.5)
    with pytest.raises(ValueError, match='output="either" needs params'):
        aug.mix(x, masks, HSMix(**kw).make_params(x))


def test_mixed_is_true_exactly_for_samples_that_changed(rgb_batch) -> None:
    images, masks = rgb_batch
    x = images.float() / 255
    for output, kw in (("hard", {"p_hard": 0.05}), ("soft", {}), ("both", {"p": 0.5})):
        aug = HSMix(superpixels="grid", n_segments=(4, 8), output=output, num_classes=2, **kw)
        for seed in range(4):
            out, params = aug(x, generator=_gen(seed), return_params=True)
            blocks = out.view(-1, *x.shape).ne(x).flatten(2).any(2).any(0)  # any output changed
            assert torch.equal(params.mixed, blocks)


def test_float_class_maps_are_mixed_one_hot(rgb_batch) -> None:
    """MONAI's float labels [B, 1, H, W] with num_classes are class maps, as integer ones."""
    images, masks = rgb_batch
    x = images.float() / 255
    aug = HSMix(superpixels="grid", num_classes=2)
    ref = aug(x, masks, generator=_gen())
    out = aug(x, masks[:, None].float(), generator=_gen())
    assert torch.equal(out[1], ref[1]) and out[1].shape == (16, 2, 224, 224)
    hard = HSMix(superpixels="grid", num_classes=2, output="hard")
    kept = hard(x, masks[:, None].float(), generator=_gen())[1]
    assert kept.dtype == torch.float32 and kept.shape == (8, 1, 224, 224)  # caller's layout
    with pytest.raises(ValueError, match="whole numbers"):
        aug(x, masks[:, None].float() * 0.5)
    with pytest.raises(ValueError, match="label 3 >= num_classes=2"):
        aug(x, masks[:, None].float() * 3)
    # Without num_classes a one-channel float map is a dense map, mixed as numbers.
    dense = HSMix(superpixels="grid")(x, masks[:, None].float() * 0.5, generator=_gen())[1]
    assert dense.shape == (16, 1, 224, 224)


def test_images_outside_the_intensity_range_warn_once(rgb_batch) -> None:
    images, _ = rgb_batch
    x255 = images[:2].float()  # a 0-255 scale in float
    aug = HSMix(superpixels="grid")
    with pytest.warns(RuntimeWarning, match="outside intensity_range"):
        aug(x255)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        aug(x255)  # once per module
        HSMix(superpixels="grid", intensity_range=(0, 255))(x255)
        HSMix(superpixels="grid", validate=False)(x255)  # no read-back without validate


def test_auto_says_what_it_picks_and_warns_on_the_slow_fallback(monkeypatch) -> None:
    from hsmix_torch.superpixels import available_backends, get_backend, registry

    auto = get_backend("auto")
    assert "cpu -> " in repr(auto) and "cuda -> 'torch'" in repr(auto)
    import hsmix_torch.superpixels as sp

    monkeypatch.setitem(registry._REGISTRY, "fast_slic", (sp.FastSlicBackend, lambda: False))
    monkeypatch.setitem(registry._REGISTRY, "skimage", (sp.SkimageBackend, lambda: False))
    assert "fast_slic" not in available_backends() and "skimage" not in available_backends()
    auto = get_backend("auto")
    assert "cpu -> 'torch'" in repr(auto)
    before = repr(auto)
    x = torch.rand(1, 3, 16, 16)
    with pytest.warns(RuntimeWarning, match="fell back to the torch SLIC"):
        auto(x, torch.tensor([4]))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto(x, torch.tensor([4]))  # once
    assert repr(auto) == before  # the repr does not change with the calls
    assert "superpixels=AutoBackend(" in repr(HSMix())


def test_forward_make_params_and_mix_share_one_check() -> None:
    """The same bad input gets the same error whichever entry it reaches (kornia's adapter
    calls make_params with its own draws)."""
    x = torch.rand(2, 3, 16, 16)
    bad_segments = torch.full((2, 16, 16), -2)
    nan = x.clone()
    nan[0, 0, 0, 0] = float("nan")
    aug = HSMix(superpixels="grid", num_classes=2)
    for call in (
        lambda s: aug(x, segments=s),
        lambda s: aug.make_params(x, segments=s),
        lambda s: aug.make_params(x, segments=s, draws=draw(2, n_segments=4)),
    ):
        with pytest.raises(ValueError, match=r"segments must hold labels in \[0, H\*W\)"):
            call(bad_segments)
        with pytest.raises(ValueError, match="segments must have shape"):
            call(bad_segments[:, :8])
    params = aug.make_params(x)
    for call in (
        lambda: aug(nan),
        lambda: aug.make_params(nan),
        lambda: aug.mix(nan, None, params),
    ):
        with pytest.raises(ValueError, match="NaN or Inf"):
            call()


def test_old_names_still_work_with_a_future_warning() -> None:
    x = torch.rand(2, 3, 16, 16)
    segments = torch.zeros(2, 16, 16, dtype=torch.long)
    aug = HSMix(superpixels="grid")
    with pytest.warns(FutureWarning, match="segments="):
        out, params = aug(x, superpixels=segments, return_params=True)
    with pytest.warns(FutureWarning, match="segments="):
        aug.make_params(x, superpixels=segments)
    with pytest.warns(FutureWarning, match="named segments"):
        assert torch.equal(params.superpixels, segments)
    with pytest.raises(TypeError, match="once"):
        aug(x, segments=segments, superpixels=segments)
