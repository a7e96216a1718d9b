"""Numbers shared across the layers (the torch-ops references and the Triton kernels that
must equal them): one definition each, at the bottom of the package."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "FIXED_POINT_SCALE",
    "HALF_SIZES",
    "INT64_MAX",
    "KERNELS",
    "MASK32",
    "OUTPUTS",
    "OUTPUT_CODES",
    "SCAN_DEPTH",
    "Kernels",
    "Output",
]

# What a mix produces (HSMix's ``output``), and the code each has in the Triton kernels.
Output = Literal["both", "hard", "soft", "either"]
OUTPUTS: tuple[str, ...] = get_args(Output)
OUTPUT_CODES = {name: code for code, name in enumerate(OUTPUTS)}

# Where the kernels that have a Triton version run (``kernels=``; hsmix_torch.kernels).
Kernels = Literal["auto", "triton", "torch"]
KERNELS: tuple[str, ...] = get_args(Kernels)

# Region and centre sums are accumulated in fixed point (int64, 24 fraction bits: the
# resolution of a float32 in [0.5, 1)): integer sums do not depend on the order of the
# additions, so results are identical run to run on every device.
FIXED_POINT_SCALE = 2.0**24

# OpenCV's fine-grained saliency: half window sizes in its order; a window spans n - 1
# pixels before the centre and n after.
HALF_SIZES = (12, 24, 48, 28, 56, 112)

# scikit-image's merge scan is followed exactly this many steps from a small component's
# first voxel: visiting orders are int64 in base 6 (6**24 < 2**63). See
# hsmix_torch.superpixels.connectivity.
SCAN_DEPTH = 23

INT64_MAX = 2**63 - 1
MASK32 = 0xFFFFFFFF
