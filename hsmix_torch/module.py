"""``HSMix``: hard and soft superpixel mixing of a whole batch, as an ``nn.Module``.

The module reads as its stages: the options (:mod:`hsmix_torch.options`, validated once),
the checks of a call (once, at this boundary: :meth:`HSMix._checked`), the draws
(:func:`~hsmix_torch.sampler.draw`), the plan (:func:`~hsmix_torch.plan.make_plan`: params
from draws and content), the application (:mod:`hsmix_torch.apply`) and, optionally,
graph capture (:mod:`hsmix_torch.cuda_graph`). :meth:`~HSMix.forward`,
:meth:`~HSMix.make_params` and :meth:`~HSMix.mix` share the one check of a call.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from . import apply
from ._checks import ValueChecks, caller_level
from ._constants import Output
from ._tensor_types import plain, wrap_like
from .cuda_graph import GraphCache
from .functional import MaskLayout
from .kernels import Kernels
from .options import HSMixOptions, OptionAttributes
from .params import HSMixParams
from .plan import check_draws, check_inputs, make_plan
from .saliency import get_saliency, saliency_maps
from .sampler import RandomDraws, draw_for
from .structure import BatchFields, locate
from .superpixels import SuperpixelFn, get_backend

__all__ = ["HSMix"]

_OPTIONS = tuple(f.name for f in dataclasses.fields(HSMixOptions))
_PARAMS = tuple(f.name for f in dataclasses.fields(HSMixParams))
D = HSMixOptions  # the defaults, declared once: the dataclass's class attributes


def _segments_renamed(segments: Tensor | None, superpixels: Tensor | None) -> Tensor | None:
    """The precomputed labels of a call, under their new name (0.6: ``segments=``)."""
    if superpixels is None:
        return segments
    if segments is not None:
        raise TypeError("pass the precomputed labels once, as segments= (superpixels= is gone)")
    warnings.warn(
        "the precomputed labels of a call are named segments= since 0.6 (the option "
        "superpixels= names the backend); superpixels= goes in 0.7",
        FutureWarning,
        stacklevel=caller_level(),
    )
    return superpixels


class HSMix(OptionAttributes, nn.Module):
    """HSMix (Sun, Dornaika & Barrena, 2025): hard and soft superpixel mixing for segmentation.

    Each sample ``i`` is paired with another image ``j = partner[i]`` of the batch. The hard
    mix pastes a random subset of ``j``'s superpixels onto ``i``; the soft mix blends the two
    per region of the composite superpixel map, weighting ``j`` by its relative saliency (or
    by Beta draws). Masks are mixed with the same maps. Everything runs on the images'
    device, batched, with no loop over samples or superpixels. Images ``[B, C, H, W]`` and
    volumes ``[B, C, D, H, W]`` are mixed by the same rules. Like dropout, HSMix acts in
    training mode only: in ``eval()`` mode it returns its input unchanged.

    Args:
        **options: ``n_segments``, ``compactness``, ``p_hard``, ``lam``, ``alpha``,
            ``aggregate``, ``saliency``, ``superpixels``, ``spacing``, ``output``,
            ``p_soft``, ``pairing``, ``p``, ``num_classes``, ``ignore_index``, ``targets``,
            ``intensity_range``, ``validate``, ``kernels`` and ``cuda_graph``, each
            documented by :class:`~hsmix_torch.HSMixOptions`. They are fixed at
            construction and readable as attributes (``aug.p_hard``); :meth:`replace` makes
            a module with other options.

    Raises:
        TypeError: an option of the wrong type (``p_hard="0.2"``).
        ValueError: an option out of range (``p_hard=2.0``), or ``cuda_graph=True`` with
            superpixels that cannot be captured.

    Shapes (S: the spatial axes, ``(H, W)`` or ``(D, H, W)``):
        images: ``[B, C, *S]``, float (any precision) or uint8; any C, any memory format.
        masks (any number): class maps ``[B, *S]`` / ``[B, 1, *S]`` (integer, or float with
        ``num_classes``), or float maps ``[B, K, *S]`` / ``[B, *S]`` (one-hot, soft, weights).
        Output: ``[B', C, *S]`` images in the input dtype, ``B' = 2B`` for ``"both"``, else
        ``B``; masks as :mod:`hsmix_torch.apply` says (``targets``). Images that require grad
        are mixed differentiably (superpixels and saliency read detached values).

    Example:
        >>> aug = HSMix(n_segments=(30, 80), p_hard=0.2, num_classes=2)
        >>> images, masks = torch.rand(4, 3, 64, 64), torch.randint(0, 2, (4, 64, 64))
        >>> out_images, out_masks = aug(images, masks)  # hard batch, then soft batch
        >>> out_images.shape, out_masks.shape
        (torch.Size([8, 3, 64, 64]), torch.Size([8, 2, 64, 64]))
    """

    def __init__(
        self,
        n_segments: int | tuple[int, int] = D.n_segments,
        compactness: float | None = D.compactness,
        p_hard: float = D.p_hard,
        lam: Literal["saliency", "beta"] = D.lam,
        alpha: float = D.alpha,
        aggregate: Literal["sum", "mean"] = D.aggregate,
        saliency: str | Callable[[Tensor], Tensor] = D.saliency,
        superpixels: str | SuperpixelFn = D.superpixels,
        spacing: Sequence[float] | None = D.spacing,
        output: Output = D.output,
        p_soft: float = D.p_soft,
        pairing: Literal["derangement", "permutation"] = D.pairing,
        p: float = D.p,
        num_classes: int | None = D.num_classes,
        ignore_index: int | None = D.ignore_index,
        targets: Literal["probabilities", "labels"] = D.targets,
        intensity_range: tuple[float, float] | None = D.intensity_range,
        validate: bool = D.validate,
        kernels: Kernels = D.kernels,
        cuda_graph: bool = D.cuda_graph,
    ) -> None:
        super().__init__()
        options = {k: v for k, v in locals().items() if k in _OPTIONS}
        object.__setattr__(self, "options", HSMixOptions(**options))
        opts = self.options
        extra = {"compactness": opts.compactness}
        if opts.superpixels in ("auto", "torch"):  # the backends with Triton kernels
            extra["kernels"] = opts.kernels
        self.backend = get_backend(opts.superpixels, **extra)
        self.saliency_fn = get_saliency(opts.saliency, kernels=opts.kernels)
        if opts.cuda_graph and not self.backend.capturable(torch.device("cuda")):
            raise ValueError(
                f"cuda_graph=True needs superpixels that run on the GPU without host "
                f"synchronisation ('auto', 'torch' with sync_free=True, 'grid'), got "
                f"{self.backend!r}; with precomputed segments= pass superpixels='grid'"
            )
        self._graphs = GraphCache() if opts.cuda_graph else None
        self._warned_range = False

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _OPTIONS or name == "options":
            raise AttributeError(
                f"HSMix options are fixed at construction (they key its CUDA graphs and "
                f"backend); make another module: aug.replace({name}=...)"
            )
        super().__setattr__(name, value)

    def replace(self, **changes: Any) -> HSMix:
        """A new HSMix with these options changed (checked again), in the same mode. A
        backend or saliency object passed as an option is shared, not copied.

        Args:
            **changes: options by name (``aug.replace(p_hard=0.5)``).

        Returns:
            The new module.

        Raises:
            TypeError, ValueError: as the constructor raises.
        """
        options = {name: getattr(self.options, name) for name in _OPTIONS} | changes
        return HSMix(**options).train(self.training)

    def extra_repr(self) -> str:
        return self.options.describe(superpixels=repr(self.backend))

    def __getstate__(self) -> dict[str, Any]:
        # Captured graphs belong to one process and device: copies and pickles start empty.
        state = dict(self.__dict__)
        state["_graphs"] = GraphCache() if self.options.cuda_graph else None
        return state

    @property
    def batch_factor(self) -> int:
        """Output samples per input sample: 2 for ``output="both"``, else 1."""
        return 2 if self.options.output == "both" else 1

    # ------------------------------------------------------------------------ checks
    def _checked(
        self,
        images: Tensor,
        masks: Sequence[Tensor] = (),
        names: Sequence[str] | None = None,
        segments: Tensor | None = None,
        dense: Sequence[bool] | None = None,
    ) -> tuple[Tensor, Tensor | None, list[MaskLayout]]:
        """The one check of a call (forward, make_params and mix alike): the plain images
        and precomputed segments, and each mask's working layout. Shapes, dtypes and
        devices raise here; values (NaN, labels out of range, the intensity range) are
        read back once, together, unless ``validate=False``. Inner layers trust these."""
        checks = ValueChecks() if self.options.validate else None
        x, sp = check_inputs(
            images, masks, segments, self.options, self.backend, checks, self._warned_range, names
        )
        shape = (x.shape[0], *x.shape[2:])
        layouts = apply.mask_layouts(
            [plain(m) for m in masks], shape, self.options, dense, checks, names
        )
        if checks is not None and checks.run():
            self._warned_range = True  # once per module
        return x, sp, layouts

    # ------------------------------------------------------------------------ stages
    def make_params(
        self,
        images: Tensor,
        *,
        segments: Tensor | None = None,
        generator: torch.Generator | None = None,
        draws: RandomDraws | None = None,
        superpixels: Tensor | None = None,
    ) -> HSMixParams:
        """Draw a mix for ``images`` ``[B, C, *S]`` and derive its maps; nothing is mixed.

        Args:
            images: the batch to mix (images or volumes).
            segments: optional precomputed ``[B, *S]`` integer superpixel labels in
                ``[0, prod(S))`` (e.g. from DataLoader workers); the backend is not called.
            generator: source of every random draw; must be on the images' device.
            draws: the random part drawn elsewhere (kornia's generator): only the
                deterministic plan runs (``soft`` set exactly when ``output="either"``).
            superpixels: the old name of ``segments`` (a FutureWarning; gone in 0.7).

        Returns:
            :class:`HSMixParams` for :meth:`mix`.

        Raises:
            TypeError, ValueError: as :meth:`forward` raises for the same images and
                segments (the same checks).
        """
        segments = _segments_renamed(segments, superpixels)
        x, sp, _ = self._checked(images, segments=segments)
        if draws is None:
            draws = draw_for(x, self.options, generator)
        check_draws(x, draws, self.options)
        return self._plan(x.detach(), draws, sp)

    def mix(
        self,
        images: Tensor,
        masks: Tensor | Sequence[Tensor] | None,
        params: HSMixParams,
        *,
        dense: Sequence[bool] | None = None,
    ) -> Tensor | tuple[Tensor, Any]:
        """Mix ``images`` (and ``masks``) with ``params`` from :meth:`make_params`.

        Deterministic: the same params give the same batch.

        Args:
            images: ``[B, C, *S]``, the batch the params were made for.
            masks: one tensor, a sequence of tensors (a label map and a weight map, say: all
                mixed with the same maps), or None.
            params: from :meth:`make_params` (or ``return_params=True``).
            dense: per mask, whether a float map is mixed as numbers whatever its channels
                (weight maps).

        Returns:
            ``images`` mixed alone when ``masks`` is None, else ``(images, masks)`` with
            ``masks`` in the form it was given.

        Raises:
            TypeError, ValueError: as :meth:`forward` raises for the same images and masks,
                and params made for another batch size, shape or device.
        """
        many = masks is not None and not isinstance(masks, Tensor)
        listed = [] if masks is None else list(masks) if many else [masks]
        x, _, layouts = self._checked(images, listed, dense=dense)
        out, mixed = apply.mix_all(x, layouts, params, self.options)
        out, mixed = _rewrap(out, mixed, images, listed)
        if masks is None:
            return out
        return out, (mixed if many else mixed[0])

    def _plan(self, x: Tensor, draws: RandomDraws, segments: Tensor | None) -> HSMixParams:
        # The saliency for checked images (a user's callable as it is).
        maps = saliency_maps(self.options.saliency, self.options.kernels)
        return make_plan(x, draws, self.options, self.backend, maps, segments=segments)

    # ------------------------------------------------------------------------ forward
    def forward(
        self,
        *inputs: Any,
        segments: Tensor | None = None,
        generator: torch.Generator | None = None,
        return_params: bool = False,
        superpixels: Tensor | None = None,
    ) -> Any:
        """Make the params of a mix and mix (in training mode; see the class docstring).

        Call it as ``aug(images)``, ``aug(images, *masks)`` (every map after the image is
        mixed with the same maps), or on a batch structure (a dict, a torchvision.transforms.v2
        sample, ``aug(image, mask, labels)``): the image and masks are found and every other
        per-sample entry kept aligned as :mod:`hsmix_torch.structure` says.

        Args:
            *inputs: the images (and masks), or one batch structure.
            segments: optional precomputed ``[B, *S]`` superpixel labels (see
                :meth:`make_params`).
            generator: the source of every random draw, on the images' device.
            return_params: also return the :class:`HSMixParams` used.
            superpixels: the old name of ``segments`` (a FutureWarning; gone in 0.7).

        Returns:
            ``images`` (no masks), ``(images, *masks)``, or the structure; with
            ``return_params`` followed by the :class:`HSMixParams` used (None in ``eval()``
            mode, where the input comes back unchanged). Tensor subclasses keep their type.

        Raises:
            TypeError: no image tensor, an image or mask of the wrong dtype, a generator
                that is not a ``torch.Generator``.
            ValueError: shapes, devices or values that do not fit; each error names the
                entry as it was passed (``inputs[2]``, ``batch['label']``).
            KeyError: a key named by :class:`BatchFields` is missing.
        """
        segments = _segments_renamed(segments, superpixels)
        if not inputs:
            raise TypeError("HSMix needs images: aug(images), aug(images, masks) or aug(batch)")
        batch, root = (inputs, "inputs") if len(inputs) > 1 else (inputs[0], "batch")
        params = None
        if self.training:
            flat = locate(batch, root=root)
            batch, params = self._mix_located(flat, segments, generator, None)
        if not return_params:
            return batch
        return (*batch, params) if isinstance(batch, tuple) else (batch, params)

    def mix_structure(
        self,
        batch: Any,
        fields: BatchFields | None = None,
        *,
        segments: Tensor | None = None,
        generator: torch.Generator | None = None,
        root: str = "batch",
    ) -> tuple[Any, HSMixParams]:
        """Mix the image and masks of a batch structure (what :meth:`forward`, the collates
        and :class:`~hsmix_torch.HSMixd` call).

        Args:
            batch: any structure of dicts, lists, tuples and tensors.
            fields: names the image and masks where the rules of
                :mod:`hsmix_torch.structure` do not, overrides the per-sample rule under
                dict keys, and marks masks to mix as numbers (``dense``).
            segments, generator: as for :meth:`forward`.
            root: how errors name the structure (``batch``, ``data``).

        Returns:
            ``(the structure mixed, params)``.

        Raises:
            TypeError, ValueError, KeyError: as :meth:`forward` raises.
        """
        return self._mix_located(locate(batch, fields, root), segments, generator, fields)

    def _mix_located(
        self,
        flat: Any,
        segments: Tensor | None,
        generator: torch.Generator | None,
        fields: BatchFields | None,
    ) -> tuple[Any, HSMixParams]:
        images = flat.leaves[flat.image]
        masks = [flat.leaves[i] for i in flat.masks]
        names = [flat.paths[i] for i in flat.masks]
        dense = [flat.keys[i] in fields.dense for i in flat.masks] if fields else None
        out, mixed, params = self._run(images, masks, names, segments, generator, dense)
        new = {flat.image: out, **dict(zip(flat.masks, mixed, strict=True))}
        return flat.rebuild(new, self.batch_factor), params

    def _run(
        self,
        images: Tensor,
        masks: list[Tensor],
        names: list[str],
        segments: Tensor | None,
        generator: torch.Generator | None,
        dense: Sequence[bool] | None,
    ) -> tuple[Tensor, list[Tensor], HSMixParams]:
        """Check, draw, plan and apply: eagerly, or through the CUDA graph of this call."""
        x, sp, layouts = self._checked(images, masks, names, segments, dense)
        draws = draw_for(x, self.options, generator)
        if self._graphed(x):
            out, mixed, params = _graphed_run(self, x, sp, draws, layouts, dense)
        else:
            params = self._plan(x.detach(), draws, sp)
            out, mixed = apply.mix_all(x, layouts, params, self.options)
        return (*_rewrap(out, mixed, images, masks), params)

    def _graphed(self, images: Tensor) -> bool:
        """True where this call goes through a CUDA graph (see ``cuda_graph``)."""
        return (
            self._graphs is not None
            and self._graphs.handles(images)
            and not (torch.is_grad_enabled() and images.requires_grad)
            and not torch.compiler.is_compiling()
        )


def _graphed_run(
    aug: HSMix,
    x: Tensor,
    segments: Tensor | None,
    draws: RandomDraws,
    layouts: list[MaskLayout],
    dense: Sequence[bool] | None,
) -> tuple[Tensor, list[Tensor], HSMixParams]:
    """The plan and the mix of checked inputs through the module's CUDA graph of their
    signature: the draws and the inputs are copied into the graph's buffers."""
    opts = aug.options

    def run(x: Tensor, sp: Tensor | None, *rest: Tensor | None) -> list[Tensor | None]:
        params = make_plan(x, RandomDraws(*rest[:4]), opts, aug.backend,
                           saliency_maps(opts.saliency, opts.kernels), segments=sp,
                           graphed=True)  # fmt: skip
        # The graph's own mask buffers, in the layouts checked before (same shapes).
        static = [dataclasses.replace(lay, data=m) for lay, m in zip(layouts, rest[4:],
                                                                     strict=True)]  # fmt: skip
        out, mixed = apply.mix_all(x, static, params, opts)
        return [out, *mixed, *(getattr(params, f) for f in _PARAMS)]

    inputs = [x.detach(), segments, draws.partner, draws.n_segments, draws.soft,
              draws.region_key, *(lay.data for lay in layouts)]  # fmt: skip
    key = (opts, None if dense is None else tuple(dense))
    flat = aug._graphs(run, inputs, key)
    n = len(layouts)
    params = HSMixParams(**dict(zip(_PARAMS, flat[1 + n :], strict=True)))
    return flat[0], flat[1 : 1 + n], params


def _rewrap(
    out: Tensor, mixed: list[Tensor], images: Tensor, masks: Sequence[Tensor]
) -> tuple[Tensor, list[Tensor]]:
    """The outputs as the tensor subclasses of their inputs (tv_tensors, MetaTensor)."""
    return wrap_like(out, images), [wrap_like(t, m) for t, m in zip(mixed, masks, strict=True)]
