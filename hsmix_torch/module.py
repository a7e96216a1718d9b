"""``HSMix``: hard and soft superpixel mixing of a whole batch, as an ``nn.Module``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from . import functional as HF
from ._tensor_types import plain, wrap_like
from .params import HSMixParams
from .saliency import get_saliency
from .sampler import draw_pairs, draw_regions, segment_range
from .superpixels import SuperpixelFn, check_labels, get_backend

__all__ = ["HSMix"]

_OUTPUTS = ("both", "hard", "soft")


@dataclass
class _Masks:
    """Masks in a working layout, and how to give them back in the caller's layout."""

    data: Tensor  # [B, H, W] int64 class map, or [B, K, H, W] dense
    is_index: bool
    shape: torch.Size
    dtype: torch.dtype


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    return a.index is None or b.index is None or a.index == b.index


class HSMix(nn.Module):
    """HSMix (Sun, Dornaika & Barrena, 2025): hard and soft superpixel mixing for segmentation.

    Each sample ``i`` is paired with ``j = partner[i]`` (a random permutation of the batch).
    The hard branch pastes a random subset of ``j``'s superpixels onto ``i``; the soft branch
    blends the two per region of the composite superpixel map, weighting ``j`` by its
    relative saliency (or by Beta draws). Masks are mixed with the same maps. Everything
    runs on the images' device, batched, with no loop over samples or superpixels;
    superpixels and saliency are computed once per input image.

    Args:
        n_segments: superpixels per image: an int, or an inclusive ``(min, max)`` range drawn
            uniformly per image. Paper scripts: ``(30, 80)`` ISIC, ``(200, 400)`` GlaS.
        compactness: SLIC compactness, in the backend's units (see the superpixels
            package). None: 8 for RGB (the ISIC script) and 0.1 for other channel counts
            (the Synapse script).
        p_hard: probability of pasting each partner superpixel (0.2 in the saliency scripts,
            0.5 in the older Beta scripts).
        lam: soft weights from ``"saliency"`` (published) or ``"beta"`` (one
            ``Beta(alpha, alpha)`` draw per partner superpixel, the older scripts).
        alpha: the Beta parameter for ``lam="beta"``.
        aggregate: ``"sum"`` (published) or ``"mean"`` of relative saliency per region.
        saliency: ``"fine_grained"`` (published), ``"spectral_residual"``, or a callable
            ``images [B, C, H, W] -> [B, 1, H, W]`` with values in ``[0, 1]``.
        superpixels: a backend name (``"auto"``, ``"skimage"``, ``"grid"``, ...) or a callable
            ``(images, n_segments [B]) -> [B, H, W]`` int64 labels in ``[0, H * W)``.
        output: ``"both"`` (hard batch then soft batch, 2B samples, as published),
            ``"hard"`` or ``"soft"`` (B samples).
        p: probability that a sample is mixed at all; unmixed samples are paired with
            themselves and come out unchanged.
        num_classes: number of classes of integer masks; needed whenever soft outputs are
            produced from integer masks (they are returned one-hot mixed, as probabilities).
        ignore_index: label of ignored pixels in integer masks. The hard branch of an
            integer map keeps them as they are; in one-hot (soft) outputs they are all-zero
            vectors, so they carry no loss in soft cross-entropy or Dice.
        intensity_range: the value range of float images, mapped to [0, 1] (then 8 bits) for
            the saliency maps: ``(0, 1)`` by default, e.g. ``(-1000, 1000)`` for CT in
            Hounsfield units (values outside are clipped), or None to stretch each image
            from its own minimum to maximum (z-scored MRI). uint8 images are read as they
            are. Superpixel backends rescale each image themselves, as scikit-image does.
        validate: check values that need a read-back from the device (mask labels in range,
            no NaN/Inf in images). Shapes, dtypes and devices are always checked. Turn off on
            the GPU for a forward pass with no host synchronisation.

    Shapes:
        images: ``[B, C, H, W]``, float (any precision) or uint8; any C.
        masks (optional): integer class maps ``[B, H, W]`` / ``[B, 1, H, W]``, or float maps
        ``[B, K, H, W]`` (binary, one-hot, multi-label, soft).
        Output: ``[B', C, H, W]`` images in the input dtype, ``B' = 2B`` for ``"both"``,
        else ``B``. Integer masks stay integer maps of the input's shape with
        ``output="hard"``; otherwise they come back float32 ``[B', K, H, W]``. Float masks
        keep their dtype.

    Example:
        >>> aug = HSMix(n_segments=(30, 80), p_hard=0.2, num_classes=2)
        >>> images, masks = torch.rand(4, 3, 64, 64), torch.randint(0, 2, (4, 64, 64))
        >>> out_images, out_masks = aug(images, masks)  # hard batch, then soft batch
        >>> out_images.shape, out_masks.shape
        (torch.Size([8, 3, 64, 64]), torch.Size([8, 2, 64, 64]))
    """

    def __init__(
        self,
        n_segments: int | tuple[int, int] = (30, 80),
        compactness: float | None = None,
        p_hard: float = 0.2,
        lam: Literal["saliency", "beta"] = "saliency",
        alpha: float = 1.0,
        aggregate: Literal["sum", "mean"] = "sum",
        saliency: str | Callable[[Tensor], Tensor] = "fine_grained",
        superpixels: str | SuperpixelFn = "auto",
        output: Literal["both", "hard", "soft"] = "both",
        p: float = 1.0,
        num_classes: int | None = None,
        ignore_index: int | None = None,
        intensity_range: tuple[float, float] | None = (0.0, 1.0),
        validate: bool = True,
    ) -> None:
        super().__init__()
        self.n_segments = segment_range(n_segments)
        if not 0.0 <= p_hard <= 1.0:
            raise ValueError(f"p_hard must be in [0, 1], got {p_hard!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p!r}")
        if lam not in ("saliency", "beta"):
            raise ValueError(f"lam must be 'saliency' or 'beta', got {lam!r}")
        if not alpha > 0:
            raise ValueError(f"alpha must be > 0, got {alpha!r}")
        if aggregate not in ("sum", "mean"):
            raise ValueError(f"aggregate must be 'sum' or 'mean', got {aggregate!r}")
        if output not in _OUTPUTS:
            raise ValueError(f"output must be one of {_OUTPUTS}, got {output!r}")
        if num_classes is not None and (
            isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 1
        ):
            raise ValueError(f"num_classes must be a positive int or None, got {num_classes!r}")
        if ignore_index is not None and (
            isinstance(ignore_index, bool) or int(ignore_index) != ignore_index
        ):
            raise ValueError(f"ignore_index must be an int or None, got {ignore_index!r}")
        self.compactness = compactness
        self.p_hard = float(p_hard)
        self.lam = lam
        self.alpha = float(alpha)
        self.aggregate = aggregate
        self.saliency = saliency
        self.saliency_fn = get_saliency(saliency)
        self.backend = get_backend(superpixels, compactness=compactness)
        self.output = output
        self.p = float(p)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.ignore_index = None if ignore_index is None else int(ignore_index)
        if intensity_range is not None:
            low, high = (float(v) for v in intensity_range)
            if not low < high:
                raise ValueError(
                    f"intensity_range must be None or (low, high), low < high: {intensity_range!r}"
                )
            intensity_range = (low, high)
        self.intensity_range = intensity_range
        self.validate = bool(validate)

    def extra_repr(self) -> str:
        return (
            f"n_segments={self.n_segments}, compactness={self.compactness}, p_hard={self.p_hard}, "
            f"lam={self.lam!r}, aggregate={self.aggregate!r}, saliency={self.saliency!r}, "
            f"superpixels={self.backend!r}, output={self.output!r}, p={self.p}, "
            f"num_classes={self.num_classes}, ignore_index={self.ignore_index}, "
            f"intensity_range={self.intensity_range}, validate={self.validate}"
        )

    # ----------------------------------------------------------------------------- sample
    def sample(
        self,
        images: Tensor,
        *,
        superpixels: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> HSMixParams:
        """Draw a mix for ``images`` ``[B, C, H, W]`` and derive its maps; nothing is mixed.

        Args:
            images: the batch to mix.
            superpixels: optional precomputed ``[B, H, W]`` integer labels in ``[0, H * W)``
                (e.g. from DataLoader workers); the backend is not called then.
            generator: source of every random draw; must be on the images' device.

        Returns:
            :class:`HSMixParams` for :meth:`apply`.
        """
        self._check_images(images)
        return self._sample(images, superpixels, generator)

    def _sample(
        self, images: Tensor, superpixels: Tensor | None, generator: torch.Generator | None
    ) -> HSMixParams:
        if generator is not None and not _same_device(generator.device, images.device):
            raise ValueError(
                f"generator is on {generator.device} but images are on {images.device}; "
                "create it with torch.Generator(device=images.device)"
            )
        b, _, h, w = images.shape
        partner, mixed, n_segments = draw_pairs(
            b, n_segments=self.n_segments, p=self.p, device=images.device, generator=generator
        )
        if superpixels is None:
            labels = self.backend(images, n_segments, max_segments=self.n_segments[1])
        else:
            labels = check_labels(superpixels, images, "superpixels", check_values=self.validate)
        num_labels = _label_bound(labels)
        select_uniform, beta_lambda = draw_regions(
            b,
            num_labels,
            beta_alpha=self.alpha if self.lam == "beta" else None,
            device=images.device,
            generator=generator,
        )
        labels_b = labels.index_select(0, partner)

        # Pairs that mix: not paired with themselves, partner with more than one superpixel.
        active = (partner != torch.arange(b, device=images.device)) & ~HF.single_region(labels_b)
        selected = (select_uniform < self.p_hard) & active[:, None]  # before painting: cheaper
        hard_mask = HF.superpixel_mask(labels_b, selected)
        active = active.view(b, 1, 1)

        if self.output == "hard":
            soft_lambda = torch.zeros((b, h, w), dtype=torch.float32, device=images.device)
        elif self.lam == "beta":
            soft_lambda = HF.paint_regions(beta_lambda, labels_b)
        else:
            sal = self._saliency(images)
            relative = HF.relative_saliency(sal, sal.index_select(0, partner))
            regions = HF.composite_regions(labels, labels_b, hard_mask, num_labels)
            soft_lambda = HF.saliency_lambda(relative, regions, 2 * num_labels, self.aggregate)
        soft_lambda = torch.where(active, soft_lambda.float(), 0.0)
        return HSMixParams(
            partner=partner,
            mixed=mixed,
            n_segments=n_segments,
            superpixels=labels,
            hard_mask=hard_mask,
            soft_lambda=soft_lambda,
        )

    def _saliency(self, images: Tensor) -> Tensor:
        if images.is_floating_point():
            images = self._to_unit_range(images)
        # Saliency is defined on 8-bit data in fp32; never under autocast.
        with torch.autocast(images.device.type, enabled=False):
            sal = self.saliency_fn(images)
        b, _, h, w = images.shape
        if not isinstance(sal, Tensor) or sal.shape != (b, 1, h, w):
            got = tuple(sal.shape) if isinstance(sal, Tensor) else type(sal).__name__
            raise ValueError(
                f"saliency must return a [B, 1, H, W]={(b, 1, h, w)} tensor, got {got}"
            )
        return sal[:, 0].float().clamp(0.0, 1.0)

    def _to_unit_range(self, images: Tensor) -> Tensor:
        """Float images mapped to [0, 1] for the saliency maps (which quantise [0, 1] to 8 bits)."""
        if self.intensity_range is None:  # per image, jointly over channels; no host sync
            x = images.float()
            lo = x.amin(dim=(1, 2, 3), keepdim=True)
            hi = x.amax(dim=(1, 2, 3), keepdim=True)
            return torch.where(hi > lo, (x - lo) / (hi - lo), torch.zeros_like(x))
        lo, hi = self.intensity_range
        if (lo, hi) == (0.0, 1.0):
            return images
        return (images.float() - lo) / (hi - lo)

    # ------------------------------------------------------------------------------ apply
    def apply(
        self, images: Tensor, masks: Tensor | None, params: HSMixParams
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Mix ``images`` (and ``masks``) with sampled ``params``; deterministic.

        Returns ``images`` alone when ``masks`` is None, else ``(images, masks)``; shapes as
        in the class docstring.
        """
        self._check_images(images)
        prepared = None if masks is None else self._prepare_masks(masks, images)
        return self._apply(images, prepared, params)

    def _apply(
        self, images: Tensor, masks: _Masks | None, params: HSMixParams
    ) -> Tensor | tuple[Tensor, Tensor]:
        b, _, h, w = images.shape
        if params.hard_mask.shape != (b, h, w) or params.partner.shape != (b,):
            raise ValueError(
                f"params were sampled for a batch of shape {tuple(params.hard_mask.shape)}, "
                f"images have [B, H, W]={(b, h, w)}"
            )
        if params.hard_mask.device != images.device:
            raise ValueError(
                f"params are on {params.hard_mask.device} but images on {images.device}"
            )
        mixed_images = self._mix(images, images.index_select(0, params.partner), params)
        if masks is None:
            return mixed_images
        mixed_masks = self._mix(masks.data, masks.data.index_select(0, params.partner), params)
        if masks.is_index:  # output == "hard": back to the caller's layout
            mixed_masks = mixed_masks.reshape(masks.shape).to(masks.dtype)
        return mixed_images, mixed_masks

    def _mix(self, a: Tensor, b: Tensor, params: HSMixParams) -> Tensor:
        if self.output == "hard":
            return HF.hard_mix(a, b, params.hard_mask)
        if self.output == "soft":
            return HF.soft_mix(a, b, params.soft_lambda)
        # Both branches write into one [2B, ...] tensor: no concatenation copy.
        n = a.shape[0]
        out = torch.empty((2 * n, *a.shape[1:]), dtype=a.dtype, device=a.device)
        HF.hard_mix(a, b, params.hard_mask, out=out[:n])
        HF.soft_mix(a, b, params.soft_lambda, out=out[n:])
        return out

    # ---------------------------------------------------------------------------- forward
    def forward(
        self,
        images: Tensor,
        masks: Tensor | None = None,
        *,
        superpixels: Tensor | None = None,
        generator: torch.Generator | None = None,
        return_params: bool = False,
    ) -> Tensor | tuple[Tensor, ...]:
        """Sample a mix and apply it.

        Returns ``images`` (no masks), ``(images, masks)``, or with ``return_params`` the
        same followed by the :class:`HSMixParams` used. Tensor subclasses come back as the
        type they came in (torchvision ``tv_tensors.Image`` / ``Mask``, MONAI ``MetaTensor``).
        """
        like_images, like_masks = images, masks
        images, masks, superpixels = plain(images), plain(masks), plain(superpixels)
        self._check_images(images)
        prepared = None if masks is None else self._prepare_masks(masks, images)
        params = self._sample(images, superpixels, generator)
        out = self._apply(images, prepared, params)
        out = out if isinstance(out, tuple) else (out,)
        out = tuple(
            wrap_like(o, like) for o, like in zip(out, (like_images, like_masks), strict=False)
        )
        if return_params:
            return (*out, params)
        return out if len(out) > 1 else out[0]

    # ------------------------------------------------------------------------- validation
    def _check_images(self, images: Tensor) -> None:
        if not isinstance(images, Tensor):
            raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
        if images.ndim != 4:
            raise ValueError(f"images must have shape [B, C, H, W], got {tuple(images.shape)}")
        if not (images.is_floating_point() or images.dtype == torch.uint8):
            raise TypeError(f"images must be floating point or uint8, got {images.dtype}")
        if 0 in images.shape:
            raise ValueError(
                "images must hold at least one non-empty image (B, C, H, W >= 1), "
                f"got {tuple(images.shape)}"
            )
        if self.validate and images.is_floating_point() and not bool(torch.isfinite(images).all()):
            raise ValueError("images contain NaN or Inf (pass validate=False to skip this check)")

    def _prepare_masks(self, masks: Tensor, images: Tensor) -> _Masks:
        if not isinstance(masks, Tensor):
            raise TypeError(f"masks must be a torch.Tensor, got {type(masks).__name__}")
        if masks.device != images.device:
            raise ValueError(f"masks are on {masks.device} but images are on {images.device}")
        b, _, h, w = images.shape
        if masks.is_floating_point():
            if masks.ndim != 4 or masks.shape[0] != b or masks.shape[2:] != (h, w):
                raise ValueError(
                    f"float masks must have shape [B, K, H, W] with B, H, W = {(b, h, w)}, "
                    f"got {tuple(masks.shape)}"
                )
            return _Masks(masks, False, masks.shape, masks.dtype)
        if masks.is_complex():
            raise TypeError(f"masks must be integer, bool or floating point, got {masks.dtype}")
        index = masks[:, 0] if masks.ndim == 4 and masks.shape[1] == 1 else masks
        if index.shape != (b, h, w):
            raise ValueError(
                f"integer masks must have shape [B, H, W] or [B, 1, H, W] with B, H, W = "
                f"{(b, h, w)}, got {tuple(masks.shape)}"
            )
        index = index.long()
        if self.validate and index.numel():
            self._check_labels_in_range(index)
        if self.output == "hard":
            return _Masks(index, True, masks.shape, masks.dtype)
        if self.num_classes is None:
            raise ValueError(
                f"output={self.output!r} produces soft masks, which need num_classes for "
                "integer masks (they are mixed one-hot); pass num_classes=..."
            )
        onehot = HF.one_hot(index, self.num_classes, self.ignore_index)
        return _Masks(onehot, False, onehot.shape, onehot.dtype)

    def _check_labels_in_range(self, index: Tensor) -> None:
        valid = index if self.ignore_index is None else index[index != self.ignore_index]
        if valid.numel() == 0:
            return
        lo, hi = int(valid.min()), int(valid.max())
        if lo < 0:
            raise ValueError(
                f"masks hold negative label {lo}; labels must be >= 0"
                + (
                    ""
                    if self.ignore_index is None
                    else f" or equal ignore_index={self.ignore_index}"
                )
            )
        if self.num_classes is not None and hi >= self.num_classes:
            raise ValueError(
                f"masks hold label {hi} >= num_classes={self.num_classes}"
                + ("" if self.ignore_index is None else f" (ignore_index={self.ignore_index})")
            )


def _label_bound(labels: Tensor) -> int:
    """An upper bound of the labels, sizing the per-region buffers.

    On the CPU the maximum costs nothing to read, and small buffers make the region
    reductions cheap; on other devices reading it would synchronise, so the pixel count
    (always a bound: labels lie in ``[0, H * W)``) is used.
    """
    if labels.device.type == "cpu" and labels.numel():
        return int(labels.max()) + 1
    return max(labels.shape[-2] * labels.shape[-1], 1)
