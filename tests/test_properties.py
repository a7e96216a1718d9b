"""Property-based tests: the invariants of the method over images and volumes, shapes,
dtypes, channels, n_segments, p_hard and output modes (grid superpixels, so no case is
slow; volumes with the torch SLIC too)."""

from __future__ import annotations

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hsmix_torch import HSMix
from hsmix_torch.functional import composite_regions

cases = st.fixed_dictionaries(
    {
        "b": st.integers(1, 5),
        "c": st.sampled_from([1, 3, 4]),
        "d": st.one_of(st.none(), st.integers(1, 8)),  # None: an image, else a volume
        "h": st.integers(4, 40),
        "w": st.integers(4, 40),
        "n": st.integers(1, 60),
        "p_hard": st.floats(0.0, 1.0),
        "output": st.sampled_from(["both", "hard", "soft"]),
        "dtype": st.sampled_from([torch.float32, torch.float64, torch.uint8]),
        "k": st.integers(1, 4),
        "seed": st.integers(0, 2**31 - 1),
    }
)


@settings(max_examples=40, deadline=None)
@given(cases)
def test_mix_invariants(case) -> None:
    check_invariants(case, "grid")


@settings(max_examples=3, deadline=None)
@given(cases.filter(lambda case: case["d"] is not None))
def test_mix_invariants_on_volumes_with_the_torch_slic(case) -> None:
    check_invariants(case, "torch")


def check_invariants(case: dict, superpixels: str) -> None:
    """M a union of whole partner superpixels, L constant per composite region, soft masks
    summing to 1, unmixed samples unchanged, nothing dropped, same seed same batch."""
    g = torch.Generator().manual_seed(case["seed"])
    b, c, k = case["b"], case["c"], case["k"]
    size = (case["h"], case["w"]) if case["d"] is None else (case["d"], case["h"], case["w"])
    images = torch.rand(b, c, *size, generator=g)
    if case["dtype"] == torch.uint8:
        images = (images * 255).to(torch.uint8)
    else:
        images = images.to(case["dtype"])
    masks = torch.randint(0, k, (b, *size), generator=g)
    aug = HSMix(
        n_segments=case["n"],
        p_hard=case["p_hard"],
        superpixels=superpixels,
        output=case["output"],
        num_classes=k,
    )
    out, out_masks, p = aug(images, masks, generator=g, return_params=True)
    n_out = 2 * b if case["output"] == "both" else b
    assert out.shape == (n_out, c, *size) and out.dtype == images.dtype  # nothing dropped
    assert torch.isfinite(out.float()).all() and torch.isfinite(out_masks.float()).all()
    same = p.partner == torch.arange(b)
    assert torch.equal(p.partner.sort().values, torch.arange(b))  # a permutation
    m, lam = p.hard_mask, p.soft_lambda
    assert not m[same].any() and not lam[same].any()
    labels_b = p.segments[p.partner]
    voxels = math.prod(size)
    # M is a union of whole partner superpixels.
    sel = torch.zeros(b, voxels, dtype=torch.bool).scatter_(1, labels_b.flatten(1), m.flatten(1))
    assert torch.equal(sel.gather(1, labels_b.flatten(1)).view(b, *size), m)
    # L is in [0, 1] and constant on every region of the composite map.
    assert lam.min() >= 0 and lam.max() <= 1
    regions = composite_regions(p.segments, labels_b, m, voxels).flatten(1)
    lo = torch.full((b, 2 * voxels), 2.0).scatter_reduce(1, regions, lam.flatten(1), "amin")
    hi = torch.full((b, 2 * voxels), -1.0).scatter_reduce(1, regions, lam.flatten(1), "amax")
    assert torch.equal(lo.gather(1, regions), hi.gather(1, regions))
    if case["output"] != "soft":
        hard = out[:b]
        assert torch.equal(hard, torch.where(m[:, None], images[p.partner], images))
    if case["output"] != "hard":
        soft_masks = out_masks[-b:]
        assert torch.allclose(soft_masks.sum(1), torch.ones(b, *size), atol=1e-5)
        assert torch.equal(out[-b:][same], images[same])
    again = aug(images, masks, generator=torch.Generator().manual_seed(case["seed"]))
    first = aug(images, masks, generator=torch.Generator().manual_seed(case["seed"]))
    assert all(torch.equal(x, y) for x, y in zip(again, first, strict=True))
