"""One convention at every public entry (``_checks``): a wrong type is a ``TypeError``, a wrong
value a ``ValueError``, a missing key a ``KeyError``; each names the argument. Swept over
the public callables and constructors of the package, its subpackages and adapters."""

from __future__ import annotations

import pytest
import torch

from hsmix_torch import (
    BatchFields,
    HSMix,
    HSMixCollate,
    HSMixd,
    SuperpixelCollate,
    draw,
)
from hsmix_torch.cuda_graph import GraphCache
from hsmix_torch.functional import one_hot, region_beta, region_uniforms, soft_lambda
from hsmix_torch.kernels import check_kernels
from hsmix_torch.saliency import fine_grained, get_saliency, spectral_residual
from hsmix_torch.superpixels import get_backend, slic

X = torch.rand(2, 3, 16, 16)
Y = torch.randint(0, 2, (2, 16, 16))
KEY = torch.tensor([1, 2])
N = torch.tensor([4, 4])


def _aug() -> HSMix:
    return HSMix(superpixels="grid", num_classes=2)


def _soft_lambda(**changes):
    args = dict(saliency=torch.rand(2, 16, 16), labels=Y, partner=torch.tensor([1, 0]),
                hard_mask=Y.bool(), num_labels=4)  # fmt: skip
    return soft_lambda(**(args | changes))


WRONG_TYPES = {
    "HSMix(p_hard='0.2')": lambda: HSMix(p_hard="0.2"),
    "HSMix(superpixels=5)": lambda: HSMix(superpixels=5),
    "HSMix(saliency=5)": lambda: HSMix(saliency=5),
    "HSMix(kernels=1)": lambda: HSMix(kernels=1),
    "HSMix(compactness='8')": lambda: HSMix(compactness="8"),
    "aug('img')": lambda: _aug()("img"),
    "aug(x, generator=5)": lambda: _aug()(X, generator=5),
    "aug(x.int())": lambda: _aug()(X.int()),
    "aug(x, y.to(complex))": lambda: _aug()(X, Y.to(torch.complex64)),
    "aug.mix(x, y, {})": lambda: _aug().mix(X, Y, {}),
    "aug.make_params(x, segments=x)": lambda: _aug().make_params(X, segments=X[:, 0]),
    "HSMixd(keys=5)": lambda: HSMixd(keys=5),
    "HSMixd(dense_keys=[1])": lambda: HSMixd(dense_keys=[1]),
    "HSMixd()(x)": lambda: HSMixd()(X),
    "HSMixCollate(5)": lambda: HSMixCollate(5),
    "HSMixCollate(base_collate=5)": lambda: HSMixCollate(_aug(), base_collate=5),
    "SuperpixelCollate(n_segments='8')": lambda: SuperpixelCollate(n_segments="8"),
    "SuperpixelCollate(superpixel_key=1)": lambda: SuperpixelCollate(superpixel_key=1),
    "SuperpixelCollate(seed=1.5)": lambda: SuperpixelCollate(seed=1.5),
    "BatchFields(image=5)": lambda: BatchFields(image=5),
    "BatchFields(missing_ok='y')": lambda: BatchFields(missing_ok="y"),
    "BatchFields(dense='w')": lambda: BatchFields(dense="w"),
    "draw('3')": lambda: draw("3", n_segments=4),
    "draw(generator=1)": lambda: draw(3, n_segments=4, generator=1),
    "get_backend(5)": lambda: get_backend(5),
    "get_backend('torch', max_num_iter='10')": lambda: get_backend("torch", max_num_iter="10"),
    "get_saliency(5)": lambda: get_saliency(5),
    "fine_grained('x')": lambda: fine_grained("x"),
    "spectral_residual(x.int())": lambda: spectral_residual(X.int()),
    "slic(x, [4, 4])": lambda: slic(X, [4, 4]),
    "GraphCache('8')": lambda: GraphCache("8"),
    "GraphCache(True)": lambda: GraphCache(True),
    "region_uniforms(float key)": lambda: region_uniforms(KEY.float(), 3),
    "region_uniforms(num_labels=2.0)": lambda: region_uniforms(KEY, 2.0),
    "region_beta(alpha='1')": lambda: region_beta(KEY, 3, alpha="1"),
    "soft_lambda(partner float)": lambda: _soft_lambda(partner=torch.tensor([1.0, 0.0])),
    "soft_lambda(num_labels=4.0)": lambda: _soft_lambda(num_labels=4.0),
    "check_kernels(3)": lambda: check_kernels(3),
}

WRONG_VALUES = {
    "HSMix(p_hard=2)": lambda: HSMix(p_hard=2.0),
    "HSMix(superpixels='x')": lambda: HSMix(superpixels="felzenszwalb"),
    "HSMix(saliency='itti')": lambda: HSMix(saliency="itti"),
    "HSMix(kernels='cuda')": lambda: HSMix(kernels="cuda"),
    "HSMix(compactness=-1)": lambda: HSMix(compactness=-1.0),
    "aug(x[0])": lambda: _aug()(X[0]),
    "aug(x, y[:1])": lambda: _aug()(X, Y[:1]),
    "aug(x, y + 5)": lambda: _aug()(X, Y + 5),
    "aug.mix(x[:1], y[:1], params)": lambda: _aug().mix(X[:1], Y[:1], _aug().make_params(X)),
    "HSMixd(keys=())": lambda: HSMixd(keys=()),
    "HSMixd(dense_keys=('w',))": lambda: HSMixd(dense_keys=("w",)),
    "SuperpixelCollate(n_segments=(5, 2))": lambda: SuperpixelCollate(n_segments=(5, 2)),
    "BatchFields(per_sample + constant)": lambda: BatchFields(per_sample=["a"], constant=["a"]),
    "draw(-1)": lambda: draw(-1, n_segments=4),
    "draw(p=2)": lambda: draw(2, n_segments=4, p=2.0),
    "get_backend('x')": lambda: get_backend("felzenszwalb"),
    "get_backend('torch', search_radius=0)": lambda: get_backend("torch", search_radius=0),
    "get_saliency('x')": lambda: get_saliency("itti"),
    "fine_grained(x[0])": lambda: fine_grained(X[0]),
    "slic(x, n[:1])": lambda: slic(X, N[:1]),
    "slic(min_size_factor=2)": lambda: slic(X, N, min_size_factor=2.0),
    "GraphCache(0)": lambda: GraphCache(0),
    "region_uniforms(key [B, 1])": lambda: region_uniforms(KEY[:, None], 3),
    "region_uniforms(num_labels=-1)": lambda: region_uniforms(KEY, -1),
    "region_beta(alpha=-1)": lambda: region_beta(KEY, 3, alpha=-1.0),
    "soft_lambda(aggregate='max')": lambda: _soft_lambda(aggregate="max"),
    "soft_lambda(num_labels=0)": lambda: _soft_lambda(num_labels=0),
    "HSMix(num_classes=0)": lambda: HSMix(num_classes=0),
    "check_kernels('cuda')": lambda: check_kernels("cuda"),
}

MISSING_KEYS = {
    "HSMixd()({'img': x})": lambda: HSMixd()({"img": X}),
    "aug.mix_structure(BatchFields('image', ['mask']))": lambda: _aug().mix_structure(
        {"image": X}, BatchFields("image", ["mask"])
    ),
}


@pytest.mark.parametrize("call", list(WRONG_TYPES), ids=list(WRONG_TYPES))
def test_a_wrong_type_is_a_type_error(call) -> None:
    with pytest.raises(TypeError):
        WRONG_TYPES[call]()


@pytest.mark.parametrize("call", list(WRONG_VALUES), ids=list(WRONG_VALUES))
def test_a_wrong_value_is_a_value_error(call) -> None:
    with pytest.raises(ValueError):
        WRONG_VALUES[call]()


@pytest.mark.parametrize("call", list(MISSING_KEYS), ids=list(MISSING_KEYS))
def test_a_missing_key_is_a_key_error(call) -> None:
    with pytest.raises(KeyError):
        MISSING_KEYS[call]()


def test_the_adapters_follow_the_convention() -> None:
    kornia = pytest.importorskip("hsmix_torch.kornia")
    with pytest.raises(TypeError):
        kornia.RandomHSMix(masks=3)
    with pytest.raises(TypeError):
        kornia.RandomHSMix(same_on_batch="no")
    with pytest.raises(ValueError, match="'both'"):
        kornia.RandomHSMix(output="both")
    with pytest.raises(ValueError, match="masks"):
        kornia.RandomHSMix(masks="soft")
    assert one_hot(Y, 2).shape == (2, 2, 16, 16)  # the functional layer as it should be
