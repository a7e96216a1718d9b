"""The silent traps a new user met in 0.4 (issue 25), one test each: every one now either
does what the user meant or raises an error that names what is wrong."""

from __future__ import annotations

import warnings

import pytest
import torch

from hsmix_torch import HSMix
from hsmix_torch.structure import BatchFields
from hsmix_torch.superpixels import get_backend

B, S = 4, 32


def _batch():
    g = torch.Generator().manual_seed(5)
    x = torch.rand(B, 3, S, S, generator=g)
    y = torch.randint(0, 2, (B, S, S), generator=g)
    w = torch.rand(B, 2, S, S, generator=g)  # a weight map of two channels
    return x, y, w


def _aug(**kw) -> HSMix:
    return HSMix(n_segments=(4, 8), superpixels="grid", num_classes=2, **kw)


def _g() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def test_every_positional_map_after_the_image_is_mixed() -> None:
    x, y, w = _batch()
    aug = _aug()
    out, out_y, out_w = aug(x, y, w, generator=_g())
    _, _, params = aug(x, y, generator=_g(), return_params=True)
    mixed, (mixed_y, mixed_w) = aug.mix(x, [y, w], params)
    assert torch.equal(out, mixed) and torch.equal(out_y, mixed_y)
    assert torch.equal(out_w, mixed_w) and not torch.equal(out_w, torch.cat([w, w]))
    # A one-channel float map is read as a class map (num_classes): it must be one, or the
    # error names its position and how to mix it as numbers.
    with pytest.raises(ValueError, match=r"inputs\[2\].*dense"):
        aug(x, y, torch.rand(B, 1, S, S))


def test_lists_and_tuples_of_b_items_follow_one_rule() -> None:
    x, y, _ = _batch()
    crops = [torch.rand(3, 5) for _ in range(B)]  # B per-sample tensors of another size
    batch = {"image": x, "mask": y, "list": crops, "tuple": tuple(crops), "ids": list(range(B))}
    out = _aug()(batch, generator=_g())
    assert out["list"] == crops + crops and isinstance(out["list"], list)
    assert out["tuple"] == tuple(crops) * 2 and isinstance(out["tuple"], tuple)
    assert out["ids"] == list(range(B)) * 2


def test_what_cannot_be_decided_is_an_error_and_fields_override_the_rule() -> None:
    x, y, _ = _batch()
    ambiguous = {"image": x, "mask": y, "extra": [torch.rand(B, 2) for _ in range(B)]}
    with pytest.raises(ValueError, match="extra"):
        _aug()(ambiguous, generator=_g())
    table = torch.arange(B)  # a constant whose first axis happens to be B
    batch = {"image": x, "mask": y, "table": table}
    doubled, _ = _aug().mix_structure(batch, generator=_g())
    assert doubled["table"].shape == (2 * B,)  # the rule: first axis B is per-sample
    kept, _ = _aug().mix_structure(batch, BatchFields(constant=("table",)), generator=_g())
    assert kept["table"] is table


def test_auto_with_an_anisotropic_spacing_takes_a_backend_that_honours_it() -> None:
    volumes = torch.rand(2, 1, 10, 12, 12)
    labels = torch.randint(0, 2, (2, 10, 12, 12))
    aug = HSMix(n_segments=(4, 8), num_classes=2, spacing=(2.0, 1.0, 1.0))
    out, _ = aug(volumes, labels, generator=_g())  # fast-slic (2-D only) is never asked
    assert out.shape == (4, 1, 10, 12, 12)


def test_options_of_a_backend_instance_are_refused_not_ignored() -> None:
    with pytest.raises(ValueError, match="compactness belongs to the superpixel backend"):
        HSMix(superpixels=get_backend("grid"), compactness=5.0)


def test_options_are_fixed_hashable_and_repr_is_stable() -> None:
    x, y, _ = _batch()
    aug = HSMix(num_classes=2)
    before = repr(aug)
    with pytest.raises(AttributeError, match="replace"):
        aug.p_hard = 0.5
    aug(x, y, generator=_g())  # "auto" resolves on the first call; repr does not change
    assert repr(aug) == before
    other = aug.replace(p_hard=0.5)
    assert other.p_hard == 0.5 and aug.p_hard == 0.2
    assert hash(aug.options) != hash(other.options) and aug.options != other.options
    assert aug.options == HSMix(num_classes=2).options  # a value, not an identity


def _label_rule(labels, partner, hard, lam, soft):
    """The one rule for label outputs: a pixel takes its partner's label where the
    partner's weight is larger (in M for a hard mix, where L > 0.5 for a soft one)."""
    take = torch.where(soft.view(-1, *[1] * (labels.ndim - 1)), lam > 0.5, hard)
    return torch.where(take, labels[partner], labels)


def test_kornia_and_hsmix_label_outputs_share_one_rule() -> None:
    x, y, _ = _batch()
    out, labels, p = _aug(output="either", targets="labels")(x, y, generator=_g(),
                                                             return_params=True)  # fmt: skip
    assert labels.dtype == y.dtype
    assert torch.equal(labels, _label_rule(y, p.partner, p.hard_mask, p.soft_lambda, p.soft))
    kornia_module = pytest.importorskip("hsmix_torch.kornia")
    torch.manual_seed(3)
    mixer = kornia_module.RandomHSMix(n_segments=(4, 8), superpixels="grid",
                                      data_keys=["input", "mask"])  # fmt: skip
    _, kornia_labels = mixer(x, y[:, None].float())
    k = mixer._params
    expected = _label_rule(y, k["partner"], k["hard_mask"], k["soft_lambda"], k["soft"])
    assert torch.equal(kornia_labels[:, 0].long(), expected)


def test_types_raise_type_error_and_values_value_error() -> None:
    for bad in (dict(n_segments="5"), dict(n_segments=(5.5, 6)), dict(alpha=True),
                dict(validate=1), dict(p_hard="0.2")):  # fmt: skip
        with pytest.raises(TypeError):
            HSMix(**bad)
    for bad in (dict(n_segments=(8, 4)), dict(alpha=-1.0), dict(p_hard=2.0), dict(output="x")):
        with pytest.raises(ValueError):
            HSMix(**bad)


def test_the_range_warning_points_at_the_caller_eager_and_graphed() -> None:
    x, y, _ = _batch()
    for aug in (_aug(), _aug(cuda_graph=True)):  # the graphed path is eager on the CPU
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            aug(x * 3, y, generator=_g())
        ranged = [w for w in caught if "intensity_range" in str(w.message)]
        assert ranged and ranged[0].filename == __file__
