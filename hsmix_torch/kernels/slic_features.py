"""The torch SLIC's features as one Triton kernel: per-image rescaling, CIELAB, compactness.

Reference: ``hsmix_torch.superpixels.torch_slic._features`` (torch ops). The kernel reads
the images in their dtype and layout (channels first or last), rescales each image jointly
over its channels to [0, 1] from its extremes (one ``torch.aminmax`` before the kernel),
converts RGB to CIELAB with scikit-image's constants and divides by the compactness, and
writes the pixel-major ``[B, *S, F]`` float32 features. Every operation is the reference's
in its order, except the two powers of the CIELAB conversion (``x ** 2.4`` and the cube
root), which are ``exp2(p * log2(x))`` here (Triton has no libdevice in its interpreter;
on a GPU they compile to the approximate ``ex2``/``lg2`` instructions, the only approximate
ones allowed here, ``APPROXIMATE``): features agree with the reference to about 1e-6
relative (tested, with the labels compared by superpixel quality). Every division is
``tl.div_rn`` (IEEE, as torch divides; ``/`` is approximate on a GPU), so one-channel and
other non-RGB features equal the reference exactly. The grid is 1-D.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ._common import INT32_LIMIT, check_32bit, flat_grid, largest_offset, split_program

__all__ = ["APPROXIMATE", "slic_features"]

# Approximate PTX instructions a kernel may compile to, and why (the static GPU report
# refuses any other): the CIELAB powers of RGB features, within their stated tolerance.
APPROXIMATE = {"_features_kernel": ("ex2.approx", "lg2.approx")}

_BLOCK = 512


@triton.jit
def _power(x, p: tl.constexpr):
    """``x ** p`` for ``x > 0``."""
    return tl.exp2(p * tl.log2(tl.maximum(x, 1e-30)))


@triton.jit
def _lab_f(t):
    """CIELAB's ``f`` of a white-normalised XYZ value."""
    return tl.where(t > 0.008856, _power(t, 1.0 / 3.0), 7.787 * t + 16.0 / 116.0)


@triton.jit
def _div(a, b):
    """``a / b`` rounded as IEEE (and torch) round it."""
    return tl.div_rn(a, tl.zeros_like(a) + b)


@triton.jit
def _linear(c):
    """sRGB to linear RGB."""
    return tl.where(c > 0.04045, _power(_div(c + 0.055, 1.055), 2.4), _div(c, 12.92))


@triton.jit
def _features_kernel(
    images_ptr,  # [B, C, *S] any float dtype or uint8; spatial axes with one stride
    extremes_ptr,  # ([B] min, [B] max) in the images' dtype
    out_ptr,  # [B, V, F] float32
    V,
    STRIDE_B,
    STRIDE_C,
    STRIDE_V,
    M,  # the compactness
    B,
    C: tl.constexpr,
    LAB: tl.constexpr,
    BLOCK: tl.constexpr,
):
    b, block = split_program(tl.cdiv(V, BLOCK))
    v = block * BLOCK + tl.arange(0, BLOCK)
    inside = v < V
    lo = tl.load(extremes_ptr + b).to(tl.float32)
    hi = tl.load(extremes_ptr + B + b).to(tl.float32)
    base = images_ptr + b * STRIDE_B + v * STRIDE_V
    out = out_ptr + (b * V + v) * (3 if LAB else C)
    if LAB:  # scikit-image's rgb2lab (D65, 2 degrees): the reference's constants and order
        r = _linear(_rescale(base, inside, lo, hi))
        g = _linear(_rescale(base + STRIDE_C, inside, lo, hi))
        bl = _linear(_rescale(base + 2 * STRIDE_C, inside, lo, hi))
        fx = _lab_f(_div((0.412453 * r + 0.357580 * g) + 0.180423 * bl, 0.95047))
        fy = _lab_f((0.212671 * r + 0.715160 * g) + 0.072169 * bl)
        fz = _lab_f(_div((0.019334 * r + 0.119193 * g) + 0.950227 * bl, 1.08883))
        tl.store(out, _div(116.0 * fy - 16.0, M), mask=inside)
        tl.store(out + 1, _div(500.0 * (fx - fy), M), mask=inside)
        tl.store(out + 2, _div(200.0 * (fy - fz), M), mask=inside)
    else:
        for c in tl.static_range(C):
            tl.store(out + c, _div(_rescale(base + c * STRIDE_C, inside, lo, hi), M), mask=inside)


@triton.jit
def _rescale(ptr, mask, lo, hi):
    """A channel's values rescaled by the image's extremes (``minmax_rescale``)."""
    x = tl.load(ptr, mask=mask, other=0).to(tl.float32)
    return tl.where(hi > lo, _div(x - lo, hi - lo), 0.0)


def _voxel_stride(images: Tensor) -> int | None:
    """The one stride of the flattened spatial axes: 1 for channels first, C for channels
    last (channel stride 1); None for other layouts."""
    c, *size = images.shape[1:]
    dense = []
    stride = 1
    for s in reversed(size):
        dense.insert(0, stride)
        stride *= s
    spatial = tuple(images.stride()[2:])
    if spatial == tuple(dense):
        return 1
    if spatial == tuple(c * v for v in dense) and images.stride(1) == 1:
        return c
    return None


@torch.library.custom_op("hsmix_torch::slic_features", mutates_args=())
def _features_op(images: Tensor, compactness: float) -> Tensor:
    b, c, *size = images.shape
    voxels = images[0, 0].numel()
    step = _voxel_stride(images)
    if step is None:  # other layouts are read contiguous (the wrapper copies them first)
        images = images.contiguous()
        step = 1
    # Per image, over channels and voxels: the channels-last order is contiguous then.
    flat = images if step == 1 else images.movedim(1, -1)
    extremes = torch.stack(torch.aminmax(flat.reshape(b, -1), dim=1))
    f = 3 if c == 3 else c
    out = torch.empty((b, *size, f), dtype=torch.float32, device=images.device)
    if out.numel():
        _features_kernel[flat_grid(b, triton.cdiv(voxels, _BLOCK))](
            images, extremes, out, voxels, images.stride(0), images.stride(1), step,
            float(compactness), b, C=c, LAB=c == 3, BLOCK=_BLOCK, enable_fp_fusion=False,
        )  # fmt: skip
    return out


@_features_op.register_fake
def _(images, compactness):
    c = images.shape[1]
    return images.new_empty(
        (images.shape[0], *images.shape[2:], 3 if c == 3 else c), dtype=torch.float32
    )


def slic_features(images: Tensor, compactness: float) -> Tensor:
    """The Triton version of ``torch_slic._features``: ``[B, *S, F]`` float32 features of
    ``[B, C, *S]`` images (float or uint8, channels first or last)."""
    if _voxel_stride(images) is None or largest_offset(images) >= INT32_LIMIT:
        images = images.contiguous()  # a layout it cannot read, or a view of a huge tensor
    check_32bit("SLIC features", f"images of shape {tuple(images.shape)}", images.numel())
    return _features_op(images, float(compactness))
