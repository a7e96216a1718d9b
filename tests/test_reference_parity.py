"""The batched HSMix equals the published per-pair algorithm (loops + OpenCV saliency).

benchmarks/reference.py re-implements the scripts pair by pair with Python loops over
superpixels and OpenCV's saliency; given the same superpixels and the same draws, the hard
mix must match exactly and the soft mix to float32 rounding (tolerance 1e-5; the sums
differ only in summation order and fixed-point vs float64 accumulation).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmarks.reference import opencv_saliency, reference_pair
from hsmix_torch import HSMix, draw
from hsmix_torch.sampler import region_uniforms

pytest.importorskip("cv2")


@pytest.mark.parametrize("aggregate", ["sum", "mean"])
@pytest.mark.parametrize("kind", ["rgb", "grey"])
def test_matches_published_per_pair_algorithm(kind, aggregate, rgb_batch, grey_batch) -> None:
    images_u8, masks = rgb_batch if kind == "rgb" else grey_batch
    images = images_u8.float() / 255
    b, _, h, w = images.shape
    aug = HSMix(
        n_segments=(30, 80), p_hard=0.3, superpixels="skimage", aggregate=aggregate, num_classes=2
    )
    out, out_masks, params = aug(
        images, masks, generator=torch.Generator().manual_seed(5), return_params=True
    )
    draws = draw(b, n_segments=(30, 80), generator=torch.Generator().manual_seed(5))
    assert torch.equal(draws.partner, params.partner)
    uniforms = region_uniforms(draws.region_key, int(params.segments.max()) + 1)

    x = images.permute(0, 2, 3, 1).double().numpy()
    y = torch.nn.functional.one_hot(masks, 2).permute(0, 3, 1, 2).double().numpy()
    labels = params.segments.numpy()
    sal = [opencv_saliency(x[i].astype(np.float32)) for i in range(b)]
    assert (params.partner != torch.arange(b)).all()  # a derangement: every sample mixes
    for i in range(b):
        j = int(params.partner[i])
        select = {int(k): bool(uniforms[i, k] < 0.3) for k in np.unique(labels[j])}
        xh, yh, xs, ys, m, lam = reference_pair(
            x[i], x[j], y[i], y[j], labels[i], labels[j], select, sal[i], sal[j], aggregate
        )
        assert np.array_equal(params.hard_mask[i].numpy(), m > 0)
        np.testing.assert_allclose(params.soft_lambda[i].numpy(), lam, atol=1e-5)
        np.testing.assert_array_equal(out[i].permute(1, 2, 0).numpy(), xh.astype(np.float32))
        np.testing.assert_allclose(out[b + i].permute(1, 2, 0).numpy(), xs, atol=1e-5)
        np.testing.assert_array_equal(out_masks[i].numpy(), yh.astype(np.float32))
        np.testing.assert_allclose(out_masks[b + i].numpy(), ys, atol=1e-5)
