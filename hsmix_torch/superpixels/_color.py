"""sRGB -> CIELAB exactly as scikit-image's ``rgb2lab`` (D65, 2-degree observer).

``kornia.color.rgb_to_lab`` gives the same values to float rounding (tested in
``tests/test_kornia.py``), but is not used: kornia is an optional extra, its white point is a
``torch.tensor`` built on every call (on the GPU, a copy from pageable host memory, which CUDA
graph capture cannot record), and SLIC wants the channel-last layout this returns.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["rgb_to_lab"]

_XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_WHITE_D65 = (0.95047, 1.0, 1.08883)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """``[..., 3]`` RGB in ``[0, 1]`` -> ``[..., 3]`` (L, a, b), with scikit-image's constants.

    Channel-last, so the result is the pixel-major feature layout SLIC works in.
    """
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    r, g, b = linear.unbind(-1)
    # Explicit products with Python constants, not a matmul: TF32 would round the colours,
    # and constant tensors would need host-to-device copies.
    xyz = torch.stack(
        [
            (m0 * r + m1 * g + m2 * b) / white
            for (m0, m1, m2), white in zip(_XYZ_FROM_RGB, _WHITE_D65, strict=True)
        ],
        dim=-1,
    )
    f = torch.where(xyz > 0.008856, xyz.clamp(min=0) ** (1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f.unbind(-1)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=-1)
