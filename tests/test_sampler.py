"""The draws of a mix: a fixed number of ``[B]`` draws from one optional generator, the
pairing rules, the per-superpixel streams, and the one check of their arguments (at
``draw``; HSMix's options were checked at construction and its draws trust them)."""

from __future__ import annotations

import pytest
import torch

from hsmix_torch import HSMix, SuperpixelCollate
from hsmix_torch.sampler import draw, draw_for, segment_counts


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_derangement_pairs_nobody_with_itself_and_permutation_is_published() -> None:
    from hsmix_torch import draw

    for b in (2, 3, 8):
        for seed in range(30):
            d = draw(b, n_segments=4, generator=_gen(seed))
            assert (d.partner != torch.arange(b)).all()  # nobody is paired with itself
            assert torch.equal(d.partner.sort().values, torch.arange(b))  # each used once
    # "permutation": the published torch.randperm after the p draw.
    g = _gen(9)
    torch.rand(8, generator=g)
    expect = torch.randperm(8, generator=g)
    assert torch.equal(
        draw(8, n_segments=4, pairing="permutation", generator=_gen(9)).partner, expect
    )
    assert torch.equal(draw(1, n_segments=4, generator=_gen()).partner, torch.tensor([0]))


def test_sampler_and_functional_entry_points_check_their_arguments() -> None:
    from hsmix_torch import draw
    from hsmix_torch.superpixels import FastSlicBackend, fast_slic_available, get_backend, slic

    draws = draw(3, n_segments=(2, 4), generator=torch.Generator().manual_seed(0))
    assert draws.partner.shape == draws.n_segments.shape == draws.region_key.shape == (3,)
    assert draws.soft is None
    for bad, name in [
        ({"n_segments": (5, 2)}, "n_segments"),
        ({"p": 2.0}, "p must"),
        ({"p_soft": -1.0}, "p_soft"),
        ({"pairing": "cyclic"}, "pairing"),
    ]:
        with pytest.raises(ValueError, match=name):
            draw(3, **{"n_segments": (2, 4), **bad})
    with pytest.raises(ValueError, match="batch_size"):
        draw(-1, n_segments=4)
    x, n = torch.rand(2, 3, 16, 16), torch.tensor([4, 4])
    with pytest.raises(ValueError, match="search_radius"):
        slic(x, n, search_radius=0)
    with pytest.raises(ValueError, match=r"n_segments must have shape \[B\]"):
        slic(x, n[:1])
    with pytest.raises(ValueError, match="compactness"):
        slic(x, n, compactness=-1.0)
    for name in ("grid", "skimage", "torch"):
        with pytest.raises(ValueError, match="C >= 1"):
            get_backend(name)(x[:, :0], n)  # no channels
    if fast_slic_available():
        with pytest.raises(ValueError, match="num_threads"):
            FastSlicBackend(num_threads=0)


def test_generators_are_checked_once_by_type_and_device() -> None:
    aug = HSMix(superpixels="grid")
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        aug(x, generator=5)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        draw(2, n_segments=4, generator="seed")
    with pytest.raises(ValueError, match="generator is on cpu but images are on meta"):
        draw_for(x.to("meta"), aug.options, _gen())
    d = draw_for(x, aug.options, _gen())
    assert d.n_segments.shape == (2,) and d.soft is None


def test_the_workers_draw_superpixel_counts_as_hsmix_does() -> None:
    """One rule for the counts: ``segment_counts``, whether HSMix or a collate draws them."""
    counts = segment_counts(5, (10, 20), torch.device("cpu"), _gen(3))
    assert counts.dtype == torch.int64 and ((counts >= 10) & (counts <= 20)).all()
    samples = [(torch.rand(3, 16, 16), torch.zeros(16, 16, dtype=torch.long)) for _ in range(5)]
    seen = []

    def record(images, n):  # a callable backend sees the counts the collate drew
        seen.append(n)
        return torch.zeros(images.shape[0], *images.shape[2:], dtype=torch.long)

    SuperpixelCollate(record, n_segments=(10, 20), seed=0)(samples)
    g = _gen(0 * 1_000_003)  # the collate's generator for seed 0 outside a worker
    assert torch.equal(seen[0], segment_counts(5, (10, 20), torch.device("cpu"), g))
