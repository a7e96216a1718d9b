"""``HSMix``: hard and soft superpixel mixing of a whole batch, as an ``nn.Module``."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from . import functional as HF
from ._checks import check_images, check_spacing
from ._tensor_types import plain, wrap_like
from .cuda_graph import GraphCache
from .kernels import Kernels, check_kernels
from .params import HSMixParams
from .saliency import get_saliency
from .sampler import (
    PAIRINGS,
    RandomDraws,
    check_probability,
    draw,
    region_beta,
    segment_range,
)
from .structure import BatchFields, locate
from .superpixels import SuperpixelFn, check_labels, get_backend

__all__ = ["HSMix"]

OUTPUTS = ("both", "hard", "soft", "either")


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    return a.index is None or b.index is None or a.index == b.index


def _check_int(value: object, name: str, minimum: int | None = None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int or None, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum} or None, got {value!r}")
    return value


class HSMix(nn.Module):
    """HSMix (Sun, Dornaika & Barrena, 2025): hard and soft superpixel mixing for segmentation.

    Each sample ``i`` is paired with another image ``j = partner[i]`` of the batch. The hard
    mix pastes a random subset of ``j``'s superpixels onto ``i``; the soft mix blends the two
    per region of the composite superpixel map, weighting ``j`` by its relative saliency (or
    by Beta draws). Masks are mixed with the same maps. Everything runs on the images'
    device, batched, with no loop over samples or superpixels; superpixels and saliency are
    computed once per input image. Images ``[B, C, H, W]`` and volumes ``[B, C, D, H, W]``
    are mixed by the same rules (superpixels become supervoxels). Like dropout, HSMix acts
    in training mode only: in ``eval()`` mode it returns its input unchanged.

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
        saliency: ``"auto"`` (``"fine_grained"`` for images, the published map; for volumes
            the map :data:`~hsmix_torch.saliency.VOLUME_DEFAULT` names, chosen by measurement),
            ``"fine_grained"``, ``"spectral_residual"`` (OpenCV's 2-D maps, slice by slice
            along D on volumes), ``"spectral_residual_3d"`` (a 3-D map), or a callable
            ``images [B, C, *S] -> [B, 1, *S]`` with values in ``[0, 1]``
            (:mod:`hsmix_torch.saliency`).
        superpixels: a backend name (``"auto"``, ``"skimage"``, ``"grid"``, ...) or a callable
            ``(images, n_segments [B]) -> [B, *S]`` int64 labels in ``[0, prod(S))``.
            ``"auto"`` picks a backend that handles volumes for volumes (fast-slic is 2-D
            only, see :func:`~hsmix_torch.superpixels.resolve_auto`).
        spacing: the voxel (pixel) size per spatial axis, in any unit, e.g. ``(5.0, 0.7,
            0.7)`` for CT with 5 mm slices: it reaches the superpixel backends
            (scikit-image's ``spacing``: it weighs the coordinate differences of SLIC's
            distance; callables get it as ``spacing=``). None: all 1. Its length must match
            the images' spatial axes.
        output: ``"both"`` (hard batch then soft batch, 2B samples, as published),
            ``"hard"`` or ``"soft"`` (B samples), or ``"either"`` (B samples, each the soft
            mix with probability ``p_soft``, else the hard mix: for pipelines that need B in,
            B out and both kinds of mix).
        p_soft: the probability of the soft mix per sample with ``output="either"``.
        pairing: ``"derangement"`` (default: nobody is paired with itself when B >= 2, see
            :func:`~hsmix_torch.draw`) or ``"permutation"`` (the published scripts' random
            permutation, whose fixed points stay unmixed).
        p: probability that a sample is mixed at all; unmixed samples are paired with
            themselves and come out unchanged.
        num_classes: number of classes of class-map masks. Needed whenever soft outputs are
            produced from class maps (they are mixed one-hot, as probabilities); with it,
            one-channel float masks ``[B, 1, H, W]`` (MONAI's labels) are class maps too.
        ignore_index: label of ignored pixels in class maps. The hard mix of a class map
            keeps them as they are; in one-hot outputs they are all-zero vectors, so they
            carry no loss in soft cross-entropy or Dice.
        intensity_range: the value range of float images, mapped to [0, 1] (then 8 bits) for
            the saliency maps: ``(0, 1)`` by default, e.g. ``(-1000, 1000)`` for CT in
            Hounsfield units (values outside are clipped, with a warning once when
            ``validate``), or None to stretch each image from its own minimum to maximum
            (z-scored MRI). uint8 images are read as they are. Superpixel backends rescale
            each image themselves, as scikit-image does.
        validate: check values that need a read-back from the device (mask labels, no
            NaN/Inf in images, the intensity range). Shapes, dtypes and devices are always
            checked. Turn off on the GPU for a forward pass with no host synchronisation.
        kernels: ``"auto"`` (Triton kernels on CUDA when Triton imports, torch ops
            elsewhere), ``"triton"`` or ``"torch"`` (:mod:`hsmix_torch.kernels`), for the
            stages that have Triton kernels (the ``"torch"`` superpixels' k-means and
            connectivity, the fine-grained saliency, the per-superpixel uniforms, the soft
            weight L); results are the same either way.
        cuda_graph: on CUDA, capture the forward in a CUDA graph once per input signature
            (shapes, dtypes, strides, options) and replay it (:mod:`hsmix_torch.cuda_graph`):
            the same results as eager, without the launch overhead. The random draws stay
            eager, before the replay, so any ``generator`` (or the default one) behaves as
            in eager mode; with ``validate`` the value checks run eagerly too. Outputs are
            fresh tensors. Needs superpixels that run on the GPU without host
            synchronisation (``"auto"``, ``"torch"`` with ``sync_free=True``, ``"grid"``).
            Images that require grad, other devices, calls inside ``torch.compile`` or
            inside a capture of the caller's take the eager path.

    Shapes (S: the spatial axes, ``(H, W)`` or ``(D, H, W)``):
        images: ``[B, C, *S]``, float (any precision) or uint8; any C.
        masks (optional, any number): class maps ``[B, *S]`` / ``[B, 1, *S]`` (integer,
        or float with ``num_classes``), or float maps ``[B, K, *S]`` / ``[B, *S]``
        (binary, one-hot, multi-label, soft, weights).
        Output: ``[B', C, *S]`` images in the input dtype, ``B' = 2B`` for ``"both"``,
        else ``B``. Class maps stay class maps of the input's shape and dtype with
        ``output="hard"``; otherwise they come back float32 one-hot mixed ``[B', K, *S]``.
        Float maps keep their layout and dtype. Images that require grad are mixed
        differentiably (superpixels and saliency are computed on detached values).

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
        saliency: str | Callable[[Tensor], Tensor] = "auto",
        superpixels: str | SuperpixelFn = "auto",
        spacing: Sequence[float] | None = None,
        output: Literal["both", "hard", "soft", "either"] = "both",
        p_soft: float = 0.5,
        pairing: Literal["derangement", "permutation"] = "derangement",
        p: float = 1.0,
        num_classes: int | None = None,
        ignore_index: int | None = None,
        intensity_range: tuple[float, float] | None = (0.0, 1.0),
        validate: bool = True,
        kernels: Kernels = "auto",
        cuda_graph: bool = False,
    ) -> None:
        super().__init__()
        self.n_segments = segment_range(n_segments)
        self.p_hard = check_probability(p_hard, "p_hard")
        self.p = check_probability(p, "p")
        self.p_soft = check_probability(p_soft, "p_soft")
        if lam not in ("saliency", "beta"):
            raise ValueError(f"lam must be 'saliency' or 'beta', got {lam!r}")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
            raise ValueError(f"alpha must be a number > 0, got {alpha!r}")
        if aggregate not in ("sum", "mean"):
            raise ValueError(f"aggregate must be 'sum' or 'mean', got {aggregate!r}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if pairing not in PAIRINGS:
            raise ValueError(f"pairing must be one of {PAIRINGS}, got {pairing!r}")
        self.num_classes = _check_int(num_classes, "num_classes", minimum=1)
        self.ignore_index = _check_int(ignore_index, "ignore_index")
        if not isinstance(validate, bool):
            raise TypeError(f"validate must be a bool, got {validate!r}")
        if intensity_range is not None:
            low, high = (float(v) for v in intensity_range)
            if not low < high:
                raise ValueError(
                    f"intensity_range must be None or (low, high), low < high: {intensity_range!r}"
                )
            intensity_range = (low, high)
        self.compactness = compactness
        self.spacing = check_spacing(spacing)
        self.lam = lam
        self.alpha = float(alpha)
        self.aggregate = aggregate
        self.saliency = saliency
        self.kernels = check_kernels(kernels)
        self.saliency_fn = get_saliency(saliency, kernels=self.kernels)
        options: dict[str, Any] = {"compactness": compactness}
        if superpixels in ("auto", "torch"):  # the backends with Triton kernels
            options["kernels"] = kernels
        self.backend = get_backend(superpixels, **options)
        if not isinstance(cuda_graph, bool):
            raise TypeError(f"cuda_graph must be a bool, got {cuda_graph!r}")
        if cuda_graph and not self.backend.capturable(torch.device("cuda")):
            raise ValueError(
                f"cuda_graph=True needs superpixels that run on the GPU without host "
                f"synchronisation ('auto', 'torch' with sync_free=True, 'grid'), got "
                f"{self.backend!r}; with precomputed superpixels= pass superpixels='grid' "
                "(not used then)"
            )
        self.cuda_graph = cuda_graph
        self._graphs = GraphCache() if cuda_graph else None
        self.output = output
        self.pairing = pairing
        self.intensity_range = intensity_range
        self.validate = validate
        self._warned_range = False

    def extra_repr(self) -> str:
        either = f", p_soft={self.p_soft}" if self.output == "either" else ""
        return (
            f"n_segments={self.n_segments}, compactness={self.compactness}, p_hard={self.p_hard}, "
            f"lam={self.lam!r}, aggregate={self.aggregate!r}, saliency={self.saliency!r}, "
            f"superpixels={self.backend!r}, spacing={self.spacing}, "
            f"output={self.output!r}{either}, "
            f"pairing={self.pairing!r}, p={self.p}, num_classes={self.num_classes}, "
            f"ignore_index={self.ignore_index}, intensity_range={self.intensity_range}, "
            f"validate={self.validate}, kernels={self.kernels!r}, cuda_graph={self.cuda_graph}"
        )

    def __getstate__(self) -> dict[str, Any]:
        # Captured graphs belong to one process and device: copies and pickles start empty.
        state = dict(self.__dict__)
        state["_graphs"] = GraphCache() if self.cuda_graph else None
        return state

    @property
    def batch_factor(self) -> int:
        """Output samples per input sample: 2 for ``output="both"``, else 1."""
        return 2 if self.output == "both" else 1

    # ------------------------------------------------------------------------ make_params
    def make_params(
        self,
        images: Tensor,
        *,
        superpixels: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> HSMixParams:
        """Draw a mix for ``images`` ``[B, C, *S]`` and derive its maps; nothing is mixed.

        Args:
            images: the batch to mix (images or volumes).
            superpixels: optional precomputed ``[B, *S]`` integer labels in ``[0, prod(S))``
                (e.g. from DataLoader workers); the backend is not called then.
            generator: source of every random draw; must be on the images' device.

        Returns:
            :class:`HSMixParams` for :meth:`mix`.
        """
        images, superpixels = plain(images), plain(superpixels)
        self._check_images(images)
        draws = self._draw(images, generator)
        return self._params_from_draws(images.detach(), draws, superpixels, self.validate)

    def _draw(self, images: Tensor, generator: torch.Generator | None) -> RandomDraws:
        """The random part of a mix for ``images`` (see :func:`~hsmix_torch.sampler.draw`)."""
        if generator is not None and not _same_device(generator.device, images.device):
            raise ValueError(
                f"generator is on {generator.device} but images are on {images.device}; "
                "create it with torch.Generator(device=images.device)"
            )
        return draw(
            images.shape[0],
            n_segments=self.n_segments,
            p=self.p,
            pairing=self.pairing,
            p_soft=self.p_soft if self.output == "either" else None,
            device=images.device,
            generator=generator,
        )

    def params_from_draws(
        self, images: Tensor, draws: RandomDraws, *, superpixels: Tensor | None = None
    ) -> HSMixParams:
        """The maps of a mix whose random part is ``draws`` (see :func:`~hsmix_torch.sampler.draw`).

        :meth:`make_params` is ``draw`` followed by this; it is the deterministic half, for
        pipelines that draw the random part themselves (the kornia adapter).

        Args:
            images: ``[B, C, *S]``, the batch the draws were made for.
            draws: a :class:`~hsmix_torch.sampler.RandomDraws` of batch size B on the
                images' device (``soft`` set exactly when ``output="either"``).
            superpixels: optional precomputed ``[B, *S]`` labels, as for :meth:`make_params`.
        """
        images, superpixels = plain(images), plain(superpixels)
        self._check_images(images)
        b = images.shape[0]
        if draws.partner.shape != (b,) or draws.partner.device != images.device:
            raise ValueError(
                f"draws must be for a batch of {b} on {images.device}, got partner of shape "
                f"{tuple(draws.partner.shape)} on {draws.partner.device}"
            )
        if (draws.soft is not None) != (self.output == "either"):
            raise ValueError('draws.soft must be set exactly when output="either"')
        return self._params_from_draws(images.detach(), draws, superpixels, self.validate)

    def _params_from_draws(
        self,
        images: Tensor,
        draws: RandomDraws,
        superpixels: Tensor | None,
        check_values: bool,
        graphed: bool = False,
    ) -> HSMixParams:
        b, _, *size = images.shape
        dev = images.device
        partner = draws.partner
        if superpixels is None:
            labels = self.backend(
                images, draws.n_segments, max_segments=self.n_segments[1], spacing=self.spacing
            )
            bound = self.backend.label_bound(tuple(size), self.n_segments[1], dev, self.spacing)
            synchronised = not self.backend.capturable(dev)
        else:
            labels = check_labels(superpixels, images, "superpixels", check_values=check_values)
            bound = math.prod(size)
            synchronised = check_values or dev.type == "cpu"
        num_labels = _table_size(labels, bound, synchronised and not graphed)
        if self.output == "hard":
            saliency, weights = None, None
        elif self.lam == "beta":
            saliency, weights = None, region_beta(draws.region_key, num_labels, self.alpha)
        else:
            saliency, weights = self._saliency(images, check_values), None
        maps = HF.mix_maps(
            labels,
            partner,
            draws.region_key,
            num_labels,
            self.p_hard,
            saliency=saliency,
            region_weights=weights,
            aggregate=self.aggregate,
            output=self.output,
            soft=draws.soft,
            kernels=self.kernels,
        )
        return HSMixParams(
            partner=partner,
            mixed=maps.mixed,
            soft=draws.soft,
            superpixels=labels,
            selected=maps.selected,
            hard_mask=maps.hard_mask,
            soft_lambda=maps.soft_lambda,
        )

    def _saliency(self, images: Tensor, check_values: bool) -> Tensor:
        if images.is_floating_point():
            if check_values:
                self._warn_outside_range(images)
            images = self._to_unit_range(images)
        # Saliency is defined on 8-bit data in fp32; never under autocast.
        with torch.autocast(images.device.type, enabled=False):
            sal = self.saliency_fn(images)
        expected = (images.shape[0], 1, *images.shape[2:])
        if not isinstance(sal, Tensor) or sal.shape != expected:
            got = tuple(sal.shape) if isinstance(sal, Tensor) else type(sal).__name__
            layout = "[B, 1, D, H, W]" if images.ndim == 5 else "[B, 1, H, W]"
            raise ValueError(f"saliency must return a {layout}={expected} tensor, got {got}")
        return sal[:, 0].float().clamp(0.0, 1.0)

    def _warn_outside_range(self, images: Tensor) -> None:
        """Warn once if float images leave ``intensity_range`` (reads a value back)."""
        if self.intensity_range is None or self._warned_range:
            return
        lo, hi = self.intensity_range
        if bool(((images < lo) | (images > hi)).any()):
            self._warned_range = True
            warnings.warn(
                f"float images have values outside intensity_range={self.intensity_range}; "
                "the saliency maps clip them. Pass the images' range, e.g. "
                "intensity_range=(0, 255) or (-1000, 1000) for CT, or None to stretch "
                "each image from its minimum to its maximum",
                RuntimeWarning,
                stacklevel=5,
            )

    def _to_unit_range(self, images: Tensor) -> Tensor:
        """Float images mapped to [0, 1] for the saliency maps (which quantise [0, 1] to 8 bits)."""
        if self.intensity_range is None:  # per image, jointly over channels; no host sync
            return HF.minmax_rescale(images)
        lo, hi = self.intensity_range
        if (lo, hi) == (0.0, 1.0):
            return images
        return (images.float() - lo) / (hi - lo)

    # -------------------------------------------------------------------------------- mix
    def mix(
        self,
        images: Tensor,
        masks: Tensor | Sequence[Tensor] | None,
        params: HSMixParams,
        *,
        dense: Sequence[bool] | None = None,
    ) -> Tensor | tuple[Tensor, Any]:
        """Mix ``images`` (and ``masks``) with ``params`` from :meth:`make_params`.

        Deterministic: the same params give the same batch. ``masks`` is one tensor, a
        sequence of tensors (a label map and a weight map, say: all mixed with the same
        maps) or None; ``dense`` marks, per mask, float maps to mix as numbers whatever
        their channels (weight maps). Returns ``images`` alone when ``masks`` is None, else
        ``(images, masks)`` with ``masks`` in the form it was given (one tensor or a list);
        shapes as in the class docstring.
        """
        check_images(plain(images))
        many = masks is not None and not isinstance(masks, Tensor)
        listed = [] if masks is None else list(masks) if many else [masks]
        out, mixed_masks = self._mix_all(images, listed, params, dense)
        if masks is None:
            return out
        return out, (mixed_masks if many else mixed_masks[0])

    def _mix_all(
        self,
        images: Tensor,
        masks: list[Tensor],
        params: HSMixParams,
        dense: Sequence[bool] | None = None,
        check_values: bool | None = None,
    ) -> tuple[Tensor, list[Tensor]]:
        """Mix images and every mask with the same params; results wrapped like the inputs.
        ``check_values`` (default: ``validate``) checks the masks' labels."""
        x = plain(images)
        _check_fit(x, params, "images")
        check = self.validate if check_values is None else check_values
        layouts = [
            self._prepare_mask(
                m, x, k, dense, one_hot_classes=self.output != "hard", validate=check
            )
            for k, m in enumerate(self._check_masks(x, masks, dense))
        ]
        out = wrap_like(self.blend(x, params), images)
        mixed = [
            wrap_like(HF.restore_mask(self._blend_mask(lay, params), lay), m)
            for lay, m in zip(layouts, masks, strict=True)
        ]
        return out, mixed

    def _blend_mask(self, layout: HF.MaskLayout, params: HSMixParams) -> Tensor:
        if layout.classes is None:
            return self.blend(layout.data, params)
        return HF.mix_classes(
            layout.data, params.partner, params.hard_mask, params.soft_lambda, self.output,
            params.soft, layout.classes, self.ignore_index, kernels=self.kernels,
        )  # fmt: skip

    def blend(self, a: Tensor, params: HSMixParams) -> Tensor:
        """Mix any ``[B, ...]`` tensor whose trailing axes are the spatial axes of ``params``
        (``H, W`` or ``D, H, W``) as numbers with ``params``, as ``output`` asks:
        ``[B, ...]``, or ``[2B, ...]`` for ``"both"``.

        :meth:`mix` uses it for images and (one-hot) masks; it is public for pipelines that
        mix each tensor in its own call (kornia). The dtype of ``a`` is kept.
        """
        _check_fit(a, params, "a")
        if self.output == "either" and params.soft is None:
            raise ValueError('output="either" needs params made with output="either"')
        return HF.mix_batch(
            a, params.partner, params.hard_mask, params.soft_lambda, self.output, params.soft,
            kernels=self.kernels,
        )  # fmt: skip

    def _check_masks(
        self, images: Tensor, masks: list[Tensor], dense: Sequence[bool] | None
    ) -> list[Tensor]:
        """``masks`` as plain tensors, with one ``dense`` flag each and on the images' device."""
        if dense is not None and len(dense) != len(masks):
            raise ValueError(f"dense must hold one flag per mask ({len(masks)}), got {dense!r}")
        plain_masks = [plain(m) for m in masks]
        for m in plain_masks:
            if isinstance(m, Tensor) and m.device != images.device:
                raise ValueError(f"masks are on {m.device} but images are on {images.device}")
        return plain_masks

    def _prepare_mask(
        self,
        mask: Tensor,
        images: Tensor,
        k: int,
        dense: Sequence[bool] | None,
        *,
        one_hot_classes: bool,
        validate: bool,
    ) -> HF.MaskLayout:
        return HF.prepare_mask(
            mask,
            (images.shape[0], *images.shape[2:]),
            one_hot_classes=one_hot_classes,
            num_classes=self.num_classes,
            ignore_index=self.ignore_index,
            validate=validate,
            dense=bool(dense[k]) if dense is not None else False,
        )

    # ------------------------------------------------------------------------ make and mix
    def _augment(
        self,
        images: Tensor,
        masks: list[Tensor],
        superpixels: Tensor | None,
        generator: torch.Generator | None,
        dense: Sequence[bool] | None = None,
    ) -> tuple[Tensor, list[Tensor], HSMixParams]:
        """Make the params and mix: eagerly, or through the CUDA graph of this signature."""
        x = plain(images)
        if not self._graphed(x):
            params = self.make_params(images, superpixels=superpixels, generator=generator)
            out, mixed = self._mix_all(images, masks, params, dense)
            return out, mixed, params
        self._check_images(x)  # shapes and dtypes, and NaN/Inf when validate
        plain_masks = self._check_masks(x, masks, dense)
        sp = plain(superpixels)
        if self.validate:  # the checks that read values back, eagerly
            if sp is not None:
                check_labels(sp, x, "superpixels")
            for k, m in enumerate(plain_masks):
                self._prepare_mask(m, x, k, dense, one_hot_classes=False, validate=True)
            if x.is_floating_point() and self.output != "hard" and self.lam == "saliency":
                self._warn_outside_range(x)
        draws = self._draw(x, generator)
        n = len(plain_masks)

        def run(x: Tensor, sp: Tensor | None, *rest: Tensor | None) -> list[Tensor | None]:
            partner, n_segments, soft, key = rest[:4]
            graph_draws = RandomDraws(partner, n_segments, soft, key)
            params = self._params_from_draws(x, graph_draws, sp, False, graphed=True)
            out, mixed = self._mix_all(x, list(rest[4:]), params, dense, check_values=False)
            return [out, *mixed, *(getattr(params, f) for f in _PARAM_FIELDS)]

        inputs = [x.detach(), sp, draws.partner, draws.n_segments, draws.soft, draws.region_key]
        key = (self.extra_repr(), self.alpha, None if dense is None else tuple(dense))
        flat = self._graphs(run, [*inputs, *plain_masks], key)  # type: ignore[misc]
        params = HSMixParams(**dict(zip(_PARAM_FIELDS, flat[1 + n :], strict=True)))
        out = wrap_like(flat[0], images)
        return out, [wrap_like(t, m) for t, m in zip(flat[1 : 1 + n], masks, strict=True)], params

    def _graphed(self, images: Tensor) -> bool:
        """True where this call goes through a CUDA graph (see ``cuda_graph``)."""
        return (
            self._graphs is not None
            and self._graphs.handles(images)
            and not (torch.is_grad_enabled() and images.requires_grad)
            and not torch.compiler.is_compiling()
        )

    # ---------------------------------------------------------------------------- forward
    def forward(
        self,
        *inputs: Any,
        superpixels: Tensor | None = None,
        generator: torch.Generator | None = None,
        return_params: bool = False,
    ) -> Any:
        """Make the params of a mix and mix (in training mode; see the class docstring).

        Call it as ``aug(images)``, ``aug(images, masks)``, or on a batch structure, e.g. a
        torchvision.transforms.v2 sample ``aug({"image": Image, "mask": Mask, ...})`` or
        ``aug(image, mask, labels)``: the image and masks are found as
        :mod:`hsmix_torch.structure` says, every other per-sample entry is repeated when the
        batch doubles, and the same structure comes back.

        Returns:
            ``images`` (no masks), ``(images, masks)``, or the structure; with
            ``return_params`` the same followed by the :class:`HSMixParams` used (None in
            ``eval()`` mode, where the input comes back unchanged). Tensor subclasses come
            back as the type they came in (``tv_tensors``, MONAI ``MetaTensor``).
        """
        if not inputs:
            raise TypeError("HSMix needs images: aug(images), aug(images, masks) or aug(batch)")
        plain_call = (
            len(inputs) <= 2
            and isinstance(inputs[0], Tensor)
            and (len(inputs) == 1 or inputs[1] is None or isinstance(inputs[1], Tensor))
        )
        params: HSMixParams | None = None
        if not self.training:  # like dropout: no augmentation at evaluation
            result: Any = inputs if len(inputs) > 1 else inputs[0]
        elif plain_call:
            masks = [] if len(inputs) == 1 or inputs[1] is None else [inputs[1]]
            out, mixed, params = self._augment(inputs[0], masks, superpixels, generator)
            result = (out, *mixed) if masks else out
        else:
            structure = inputs if len(inputs) > 1 else inputs[0]
            result, params = self.mix_structure(
                structure, superpixels=superpixels, generator=generator
            )
        if not return_params:
            return result
        return (*result, params) if isinstance(result, tuple) else (result, params)

    def mix_structure(
        self,
        batch: Any,
        fields: BatchFields | None = None,
        *,
        superpixels: Tensor | None = None,
        generator: torch.Generator | None = None,
        dense: Sequence[bool] | None = None,
    ) -> tuple[Any, HSMixParams]:
        """Mix the image and masks of a batch structure; see :mod:`hsmix_torch.structure`.

        Args:
            batch: any nest of dicts, lists and tuples holding the image batch.
            fields: where the image and the masks are (found by type, key or position when
                None).
            superpixels, generator: as for :meth:`forward`.
            dense: per mask, mix a float map as numbers whatever its channels (weight maps).

        Returns:
            ``(the same structure mixed, params)``.
        """
        flat = locate(batch, fields)
        images = flat.leaves[flat.image]
        masks = [flat.leaves[i] for i in flat.masks]
        out, mixed, params = self._augment(images, masks, superpixels, generator, dense)
        new = {flat.image: out, **dict(zip(flat.masks, mixed, strict=True))}
        return flat.rebuild(new, self.batch_factor), params

    # ------------------------------------------------------------------------- validation
    def _check_images(self, images: Tensor) -> None:
        check_images(images)
        axes = images.ndim - 2
        if self.spacing is not None and len(self.spacing) != axes:
            raise ValueError(
                f"spacing={self.spacing} has {len(self.spacing)} values but the images "
                f"{tuple(images.shape)} have {axes} spatial axes; pass one value per axis"
            )
        if self.validate and images.is_floating_point() and not bool(torch.isfinite(images).all()):
            raise ValueError("images contain NaN or Inf (pass validate=False to skip this check)")


_PARAM_FIELDS = tuple(f.name for f in dataclasses.fields(HSMixParams))


def _check_fit(a: Tensor, params: HSMixParams, name: str) -> None:
    """A ValueError naming ``name`` unless ``a`` ``[B, ..., *S]`` fits ``params``."""
    b, *size = params.hard_mask.shape
    fits = a.ndim >= len(size) + 1 and tuple(a.shape[a.ndim - len(size) :]) == tuple(size)
    if not fits or a.shape[0] != b or params.partner.shape != (b,):
        layout = "[B, D, H, W]" if len(size) == 3 else "[B, H, W]"
        raise ValueError(
            f"params were made for a batch of shape {layout}={(b, *size)}, "
            f"{name} has shape {tuple(a.shape)}"
        )
    if params.hard_mask.device != a.device:
        raise ValueError(f"params are on {params.hard_mask.device} but {name} on {a.device}")


def _table_size(labels: Tensor, bound: int, synchronised: bool) -> int:
    """The number of label slots of the per-superpixel tables.

    The backend's declared bound of the labels (every backend declares one, tested), so
    nothing is read back. Where the labels came through the host anyway (a backend that
    synchronises, labels already checked, the CPU), their maximum is read instead when
    that gives smaller tables; never under ``torch.compile`` or in a graph. The values in
    the tables do not depend on the size (see :mod:`hsmix_torch.sampler`).
    """
    if synchronised and not torch.compiler.is_compiling() and labels.numel():
        return min(int(labels.max()) + 1, max(bound, 1))
    return max(bound, 1)
