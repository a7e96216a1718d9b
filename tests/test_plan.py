"""The plan of a mix and the one check of a call: the images are validated once per call,
at HSMix's boundary, and every stage below (the superpixel backend, the saliency, the maps)
trusts them; the value checks of a call (NaN, labels, precomputed segments, the intensity
range) are read back together, once."""

from __future__ import annotations

import sys

import pytest
import torch

import hsmix_torch
from hsmix_torch import HSMix
from hsmix_torch._checks import check_images, check_spacing


@pytest.fixture
def counted(monkeypatch):
    """``check_images`` and ``check_spacing`` counted wherever hsmix_torch imported them."""
    calls = {"check_images": 0, "check_spacing": 0}
    real = {"check_images": check_images, "check_spacing": check_spacing}
    for name, fn in real.items():

        def counting(*args, _fn=fn, _name=name, **kwargs):
            calls[_name] += 1
            return _fn(*args, **kwargs)

        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("hsmix_torch") and hasattr(module, name):
                monkeypatch.setattr(module, name, counting)
    return calls


@pytest.mark.parametrize("superpixels", ["torch", "grid", "skimage"])
def test_images_are_validated_once_per_call(counted, superpixels) -> None:
    x = torch.rand(2, 3, 24, 24)
    y = torch.randint(0, 2, (2, 24, 24))
    aug = HSMix(n_segments=(4, 8), superpixels=superpixels, num_classes=2, kernels="torch")
    counted.update(check_images=0, check_spacing=0)
    aug(x, y, generator=torch.Generator().manual_seed(0))  # backend, saliency, maps, mix
    assert counted == {"check_images": 1, "check_spacing": 0}
    params = aug.make_params(x)
    aug.mix(x, y, params)
    assert counted["check_images"] == 3  # once each for make_params and mix
    volumes = HSMix(n_segments=4, superpixels="grid", spacing=(2.0, 1.0, 1.0), num_classes=2)
    counted.update(check_images=0, check_spacing=0)
    volumes(torch.rand(2, 1, 6, 8, 8), torch.randint(0, 2, (2, 6, 8, 8)))
    assert counted == {"check_images": 1, "check_spacing": 0}  # spacing: at construction


def test_value_checks_of_a_call_are_read_back_once(monkeypatch) -> None:
    """Images, masks and precomputed segments: one read however many checks (the read is
    ``ValueChecks.run``'s one ``.to("cpu")``)."""
    reads = []
    run = hsmix_torch._checks.ValueChecks.run

    def counting(self):
        reads.append(len(self._items))
        return run(self)

    monkeypatch.setattr(hsmix_torch._checks.ValueChecks, "run", counting)
    x = torch.rand(2, 3, 16, 16)
    y = torch.randint(0, 2, (2, 16, 16))
    segments = torch.arange(256).view(1, 16, 16).expand(2, -1, -1) // 16
    HSMix(superpixels="grid", num_classes=2)(x, y, segments=segments)
    assert len(reads) == 1 and reads[0] >= 4  # NaN, range, two label bounds, segments
    with pytest.raises(ValueError, match=r"segments must hold labels in \[0, H\*W\)"):
        HSMix(superpixels="grid", num_classes=2).make_params(x, segments=segments * 0 - 2)
    # validate=False skips the same checks on every path: nothing is read back.
    reads.clear()
    quiet = HSMix(superpixels="grid", num_classes=2, validate=False)
    quiet.make_params(x, segments=segments)
    quiet(x, y, segments=segments)
    assert reads == []
