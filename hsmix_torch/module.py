"""``HSMix``: hard and soft superpixel mixing of a whole batch, as an ``nn.Module``.

The module reads as its stages: the options (:mod:`hsmix_torch.options`, validated once),
the draws (:func:`~hsmix_torch.sampler.draw`), the plan (:func:`~hsmix_torch.plan.make_plan`:
params from draws and content), the application (:mod:`hsmix_torch.apply`) and, optionally,
graph capture (:mod:`hsmix_torch.cuda_graph`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from . import apply
from ._checks import ValueChecks
from ._tensor_types import plain, wrap_like
from .cuda_graph import GraphCache
from .functional import MaskLayout
from .kernels import Kernels
from .options import HSMixOptions
from .params import HSMixParams
from .plan import check_draws, check_inputs, make_plan
from .saliency import get_saliency
from .sampler import RandomDraws, draw_for
from .structure import BatchFields, locate
from .superpixels import SuperpixelFn, get_backend

__all__ = ["HSMix"]

_OPTIONS = tuple(f.name for f in dataclasses.fields(HSMixOptions))
_PARAMS = tuple(f.name for f in dataclasses.fields(HSMixParams))


class HSMix(nn.Module):
    """HSMix (Sun, Dornaika & Barrena, 2025): hard and soft superpixel mixing for segmentation.

    Each sample ``i`` is paired with another image ``j = partner[i]`` of the batch. The hard
    mix pastes a random subset of ``j``'s superpixels onto ``i``; the soft mix blends the two
    per region of the composite superpixel map, weighting ``j`` by its relative saliency (or
    by Beta draws). Masks are mixed with the same maps. Everything runs on the images'
    device, batched, with no loop over samples or superpixels. Images ``[B, C, H, W]`` and
    volumes ``[B, C, D, H, W]`` are mixed by the same rules. Like dropout, HSMix acts in
    training mode only: in ``eval()`` mode it returns its input unchanged.

    Args:
        The options of :class:`~hsmix_torch.options.HSMixOptions`, which documents each one
        (the README has them in a table). They are fixed at construction and readable as
        attributes (``aug.p_hard``); :meth:`replace` makes a module with other options.

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
        targets: Literal["probabilities", "labels"] = "probabilities",
        intensity_range: tuple[float, float] | None = (0.0, 1.0),
        validate: bool = True,
        kernels: Kernels = "auto",
        cuda_graph: bool = False,
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
                f"{self.backend!r}; with precomputed superpixels= pass superpixels='grid'"
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
        """A new HSMix with these options changed (checked again), in the same mode."""
        options = dataclasses.asdict(self.options) | changes
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

    # ------------------------------------------------------------------------ stages
    def make_params(
        self,
        images: Tensor,
        *,
        superpixels: Tensor | None = None,
        generator: torch.Generator | None = None,
        draws: RandomDraws | None = None,
    ) -> HSMixParams:
        """Draw a mix for ``images`` ``[B, C, *S]`` and derive its maps; nothing is mixed.

        Args:
            images: the batch to mix (images or volumes).
            superpixels: optional precomputed ``[B, *S]`` integer labels in ``[0, prod(S))``
                (e.g. from DataLoader workers); the backend is not called then.
            generator: source of every random draw; must be on the images' device.
            draws: the random part drawn elsewhere (kornia's generator): only the
                deterministic plan runs (``soft`` set exactly when ``output="either"``).

        Returns:
            :class:`HSMixParams` for :meth:`mix`.
        """
        x, sp = check_inputs(images, (), superpixels, self.options, None)
        if draws is None:
            draws = draw_for(x, self.options, generator)
        check_draws(x, draws, self.options)
        return make_plan(x.detach(), draws, self.options, self.backend, self.saliency_fn,
                         superpixels=sp)  # fmt: skip

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
        sequence of tensors (a label map and a weight map, say: all mixed with the same maps)
        or None; ``dense`` marks, per mask, float maps to mix as numbers whatever their
        channels (weight maps). Returns ``images`` alone when ``masks`` is None, else
        ``(images, masks)`` with ``masks`` in the form it was given.
        """
        many = masks is not None and not isinstance(masks, Tensor)
        listed = [] if masks is None else list(masks) if many else [masks]
        checks = ValueChecks() if self.options.validate else None
        layouts = _layouts(plain(images), listed, self.options, dense, checks)
        if checks is not None:
            checks.run()
        out, mixed = _rewrap(*apply.mix_all(plain(images), layouts, params, self.options),
                             images, listed)  # fmt: skip
        if masks is None:
            return out
        return out, (mixed if many else mixed[0])

    # ------------------------------------------------------------------------ forward
    def forward(
        self,
        *inputs: Any,
        superpixels: Tensor | None = None,
        generator: torch.Generator | None = None,
        return_params: bool = False,
    ) -> Any:
        """Make the params of a mix and mix (in training mode; see the class docstring).

        Call it as ``aug(images)``, ``aug(images, *masks)`` (every map after the image is
        mixed with the same maps), or on a batch structure (a dict, a torchvision.transforms.v2
        sample, ``aug(image, mask, labels)``): the image and masks are found and every other
        per-sample entry kept aligned as :mod:`hsmix_torch.structure` says.

        Returns:
            ``images`` (no masks), ``(images, *masks)``, or the structure; with
            ``return_params`` followed by the :class:`HSMixParams` used (None in ``eval()``
            mode, where the input comes back unchanged). Tensor subclasses keep their type.
        """
        if not inputs:
            raise TypeError("HSMix needs images: aug(images), aug(images, masks) or aug(batch)")
        batch = inputs if len(inputs) > 1 else inputs[0]
        params = None
        if self.training:
            batch, params = self.mix_structure(batch, superpixels=superpixels, generator=generator)
        if not return_params:
            return batch
        return (*batch, params) if isinstance(batch, tuple) else (batch, params)

    def mix_structure(
        self,
        batch: Any,
        fields: BatchFields | None = None,
        *,
        superpixels: Tensor | None = None,
        generator: torch.Generator | None = None,
        dense: Sequence[bool] | None = None,
    ) -> tuple[Any, HSMixParams]:
        """Mix the image and masks of a batch structure (what :meth:`forward`, the collates
        and :class:`~hsmix_torch.HSMixd` call); ``fields`` names them where the rules of
        :mod:`hsmix_torch.structure` do not. Returns ``(the structure mixed, params)``."""
        flat = locate(batch, fields)
        images = flat.leaves[flat.image]
        masks = [flat.leaves[i] for i in flat.masks]
        out, mixed, params = self._run(images, masks, superpixels, generator, dense)
        new = {flat.image: out, **dict(zip(flat.masks, mixed, strict=True))}
        return flat.rebuild(new, self.batch_factor), params

    def _run(
        self,
        images: Tensor,
        masks: list[Tensor],
        superpixels: Tensor | None,
        generator: torch.Generator | None,
        dense: Sequence[bool] | None,
    ) -> tuple[Tensor, list[Tensor], HSMixParams]:
        """Check, draw, plan and apply: eagerly, or through the CUDA graph of this call."""
        checks = ValueChecks() if self.options.validate else None
        x, sp = check_inputs(images, masks, superpixels, self.options, checks, self._warned_range)
        layouts = _layouts(x, masks, self.options, dense, checks)
        if checks is not None and checks.run():
            self._warned_range = True  # once per module
        draws = draw_for(x, self.options, generator)
        if not self._graphed(x):
            params = make_plan(x.detach(), draws, self.options, self.backend, self.saliency_fn,
                               superpixels=sp)  # fmt: skip
            mixed = apply.mix_all(x, layouts, params, self.options)
            return (*_rewrap(*mixed, images, masks), params)

        def run(x: Tensor, sp: Tensor | None, *rest: Tensor | None) -> list[Tensor | None]:
            graph_draws = RandomDraws(*rest[:4])
            params = make_plan(x, graph_draws, self.options, self.backend, self.saliency_fn,
                               superpixels=sp, graphed=True)  # fmt: skip
            static_masks = list(rest[4:])  # the graph's own buffers
            static_layouts = _layouts(x, static_masks, self.options, dense, None)
            out, mixed = apply.mix_all(x, static_layouts, params, self.options)
            return [out, *mixed, *(getattr(params, f) for f in _PARAMS)]

        inputs = [x.detach(), sp, draws.partner, draws.n_segments, draws.soft, draws.region_key]
        key = (self.options, None if dense is None else tuple(dense))
        flat = self._graphs(run, [*inputs, *(plain(m) for m in masks)], key)
        n = len(masks)
        params = HSMixParams(**dict(zip(_PARAMS, flat[1 + n :], strict=True)))
        return (*_rewrap(flat[0], flat[1 : 1 + n], images, masks), params)

    def _graphed(self, images: Tensor) -> bool:
        """True where this call goes through a CUDA graph (see ``cuda_graph``)."""
        return (
            self._graphs is not None
            and self._graphs.handles(images)
            and not (torch.is_grad_enabled() and images.requires_grad)
            and not torch.compiler.is_compiling()
        )


def _layouts(
    images: Tensor,
    masks: Sequence[Tensor],
    options: HSMixOptions,
    dense: Sequence[bool] | None,
    checks: ValueChecks | None,
) -> list[MaskLayout]:
    shape = (images.shape[0], *images.shape[2:])
    return apply.mask_layouts([plain(m) for m in masks], shape, options, dense, checks)


def _rewrap(
    out: Tensor, mixed: list[Tensor], images: Tensor, masks: Sequence[Tensor]
) -> tuple[Tensor, list[Tensor]]:
    """The outputs as the tensor subclasses of their inputs (tv_tensors, MetaTensor)."""
    return wrap_like(out, images), [wrap_like(t, m) for t, m in zip(mixed, masks, strict=True)]


def _option(name: str) -> property:
    return property(lambda self: getattr(self.options, name), doc=f"The option ``{name}``.")


for _name in _OPTIONS:  # read-only attributes: aug.p_hard, aug.output, ...
    setattr(HSMix, _name, _option(_name))
