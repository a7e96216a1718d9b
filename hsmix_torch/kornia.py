"""kornia adapter: :class:`RandomHSMix`, HSMix as a kornia mix augmentation.

kornia's own mix augmentations (``RandomCutMixV2``, ``RandomMixUpV2``) refuse masks; this one
is made for them::

    import kornia.augmentation as K
    from hsmix_torch.kornia import RandomHSMix

    pipeline = K.AugmentationSequential(
        K.RandomHorizontalFlip(),
        K.RandomAffine(degrees=15, p=0.5),
        RandomHSMix(),
        data_keys=["input", "mask"],
    )
    images, masks = pipeline(images, masks)  # B in, B out

Parameters follow kornia's way: :meth:`generate_parameters` draws the shape-only part from
the global generator (``torch.manual_seed`` reproduces it) into a dict of tensors, and the
image call adds the maps that depend on the content (superpixels, the pasted set ``M``, the
weights ``L``), computed by :class:`~hsmix_torch.HSMix`'s own kernels. Its mask call mixes
with the maps of that image call: kornia's containers mix the image of a batch before its
masks. Passing ``params=`` replays a call (the same batch again).

Import this module only with kornia installed (``pip install "hsmix_torch[kornia]"``); the
rest of hsmix_torch never imports kornia.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor

try:
    from kornia.augmentation import MixAugmentationBaseV2
    from kornia.constants import DataKey
except ImportError as err:  # pragma: no cover - exercised by a subprocess test
    raise ImportError('hsmix_torch.kornia needs kornia: pip install "hsmix_torch[kornia]"') from err

from . import apply
from ._checks import check_choice, check_probability
from .kernels import Kernels
from .module import HSMix
from .options import HSMixOptions as D  # the defaults, declared once
from .params import HSMixParams
from .sampler import RandomDraws, draw
from .superpixels import SuperpixelFn

__all__ = ["RandomHSMix"]

_MAPS = ("mixed", "segments", "selected", "hard_mask", "soft_lambda")


class RandomHSMix(MixAugmentationBaseV2):
    """HSMix for kornia's ``AugmentationSequential``: mixes ``"input"`` and ``"mask"``.

    The options of :class:`~hsmix_torch.HSMix` keep their names and defaults, except
    ``output``: kornia keeps the batch size, so it is ``"either"`` (each sample hard or soft,
    ``p_soft``), ``"hard"`` or ``"soft"``; ``"both"`` (2B samples) is refused. The pairing
    and the mix probability are kornia's: ``p`` is the probability that a sample is mixed,
    ``p_batch`` that of mixing the batch at all; unselected samples come back unchanged.

    Masks (after kornia's conversion, float ``[B, C, H, W]``; a direct call may also pass
    ``[B, H, W]`` label maps):

    - ``C >= 2``: probabilities or one-hot maps, blended like the image (soft targets).
    - ``C == 1`` with ``masks="labels"`` (default): a label map (kornia hands integer class
      maps over as floats and casts them back). A pixel takes its partner's label where the
      partner's weight is larger: inside ``M`` for a hard mix, where ``L > 0.5`` for a soft
      one. Labels are never averaged (averaging class indices is one of the published
      scripts' defects), so any label value, an ignore label included, stays exact.
    - ``C == 1`` with ``masks="probabilities"``: a float foreground probability, blended.
      kornia casts each mask back to its input dtype, so use it with float masks only.

    HSMix's ``num_classes`` and ``ignore_index`` are not needed (label maps keep their labels,
    an ignore label included); its ``p`` is kornia's ``p``.

    Args:
        **options: ``n_segments``, ``compactness``, ``p_hard``, ``lam``, ``alpha``,
            ``aggregate``, ``saliency``, ``superpixels``, ``p_soft``, ``pairing``,
            ``intensity_range``, ``validate`` and ``kernels``: HSMix's
            (:class:`~hsmix_torch.HSMixOptions`), same names, same defaults.
        output: ``"either"``, ``"hard"`` or ``"soft"``.
        masks: ``"labels"`` or ``"probabilities"``, how one-channel masks mix.
        p: per-sample probability of mixing (kornia's element gate).
        p_batch: probability of mixing the batch.
        keepdim: kornia's ``keepdim``.
        data_keys: kornia's data keys for direct calls; ``"input"`` and ``"mask"`` only.

        same_on_batch: refused: each sample has its own partner and superpixels.

    Raises:
        TypeError: an option of the wrong type.
        ValueError: ``output="both"``, an unknown ``masks``, ``same_on_batch=True`` (a pairing
            cannot be the same for every sample), an HSMix option out of range.

    Example:
        >>> import kornia.augmentation as K
        >>> aug = K.AugmentationSequential(
        ...     K.RandomHorizontalFlip(),
        ...     RandomHSMix(superpixels="grid"),
        ...     data_keys=["input", "mask"],
        ... )
        >>> images, masks = torch.rand(4, 3, 32, 32), torch.randint(0, 2, (4, 1, 32, 32))
        >>> out, out_masks = aug(images, masks)
        >>> out.shape, out_masks.shape, out_masks.dtype
        (torch.Size([4, 3, 32, 32]), torch.Size([4, 1, 32, 32]), torch.int64)
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
        output: Literal["either", "hard", "soft"] = "either",
        p_soft: float = D.p_soft,
        pairing: Literal["derangement", "permutation"] = D.pairing,
        intensity_range: tuple[float, float] | None = D.intensity_range,
        validate: bool = D.validate,
        kernels: Kernels = D.kernels,
        masks: Literal["labels", "probabilities"] = "labels",
        p: float = D.p,
        p_batch: float = 1.0,
        same_on_batch: bool = False,
        keepdim: bool = False,
        data_keys: list[str | int | DataKey] | None = None,
    ) -> None:
        if output == "both":
            raise ValueError(
                "output must be 'either', 'hard' or 'soft' (kornia keeps the batch size; use "
                "hsmix_torch.HSMix for the 2B output 'both'), got 'both'"
            )
        check_choice(output, "output", ("either", "hard", "soft"))
        check_choice(masks, "masks", ("labels", "probabilities"))
        if not isinstance(same_on_batch, bool):
            raise TypeError(f"same_on_batch must be a bool, got {same_on_batch!r}")
        if same_on_batch:
            raise ValueError(
                "same_on_batch=True is not supported: each sample has its own partner and "
                "superpixels"
            )
        p, p_batch = check_probability(p, "p"), check_probability(p_batch, "p_batch")
        super().__init__(p=p, p_batch=p_batch, same_on_batch=False, keepdim=keepdim)
        self.hsmix = HSMix(
            n_segments=n_segments,
            compactness=compactness,
            p_hard=p_hard,
            lam=lam,
            alpha=alpha,
            aggregate=aggregate,
            saliency=saliency,
            superpixels=superpixels,
            output=output,
            p_soft=p_soft,
            pairing=pairing,
            intensity_range=intensity_range,
            validate=validate,
            kernels=kernels,
            targets="labels" if masks == "labels" else "probabilities",
        )
        self.flags = {"output": output, "masks": masks}
        if data_keys is not None:
            self.data_keys = [DataKey.get(k) for k in data_keys]
            for key in self.data_keys:
                self._validate_data_key(key)
        # The maps of the last image call, with the draw they belong to: the mask call of
        # the same draw (kornia's containers pass it the shape-only dict) mixes with them.
        self._last: tuple[Tensor, HSMixParams] | None = None

    def __repr__(self) -> str:
        h = self.hsmix
        either = f", p_soft={h.p_soft}" if h.output == "either" else ""
        return (
            f"{type(self).__name__}(n_segments={h.n_segments}, p_hard={h.p_hard}, lam={h.lam!r}, "
            f"saliency={h.saliency!r}, superpixels={h.backend!r}, output={h.output!r}{either}, "
            f"pairing={h.pairing!r}, masks={self.flags['masks']!r}, p={self.p}, "
            f"p_batch={self.p_batch})"
        )

    def _validate_data_key(self, key: DataKey) -> None:
        if key not in (DataKey.INPUT, DataKey.MASK):
            raise NotImplementedError(
                f"RandomHSMix mixes 'input' and 'mask' only; it cannot mix data key "
                f"{key.name.lower()!r} (superpixel regions have no box or keypoint form)"
            )

    # ------------------------------------------------------------------- parameters
    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, Tensor]:
        """The shape-only draws for a batch of ``batch_shape[0]`` (global generator):
        ``partner``, ``n_segments``, ``region_key`` ``[B]`` int64 and ``soft`` ``[B]`` bool
        (True: the soft mix; all False for ``"hard"``, all True for ``"soft"``)."""
        b = int(batch_shape[0])
        output = self.flags["output"]
        d = draw(
            b,
            n_segments=self.hsmix.n_segments,
            pairing=self.hsmix.pairing,
            p_soft=self.hsmix.p_soft if output == "either" else None,
            device=self.device,
        )
        soft = (
            d.soft if d.soft is not None else torch.full((b,), output == "soft", device=self.device)
        )
        return {
            "partner": d.partner,
            "n_segments": d.n_segments,
            "region_key": d.region_key,
            "soft": soft,
        }

    def _maps(self, images: Tensor, params: dict[str, Tensor]) -> HSMixParams:
        """The HSMix params of ``params``' draw on ``images``: the maps recorded in
        ``params`` (a replay), else computed and recorded there for inspection and replay."""
        recorded = _recorded(params, images.device)
        if recorded is not None:
            return recorded
        dev = images.device
        draws = RandomDraws(
            partner=_gated_partner(params, dev),
            n_segments=params["n_segments"].to(dev),
            soft=params["soft"].to(dev) if self.flags["output"] == "either" else None,
            region_key=params["region_key"].to(dev),
        )
        maps = self.hsmix.make_params(images, draws=draws)
        params.update({k: getattr(maps, k) for k in _MAPS})
        return maps

    # ------------------------------------------------------------------- transforms
    def apply_transform(
        self, input: Tensor, params: dict[str, Tensor], flags: dict[str, Any]
    ) -> Tensor:
        maps = self._maps(input, params)
        self._last = (params["region_key"], maps)
        return apply.mix_tensor(input, maps, self.hsmix.options, "input")

    def apply_non_transform_mask(
        self, input: Tensor, params: dict[str, Tensor], flags: dict[str, Any]
    ) -> Tensor:
        """Masks of samples the probability gate left out: returned as they are."""
        return input

    def apply_transform_mask(
        self, input: Tensor, params: dict[str, Tensor], flags: dict[str, Any]
    ) -> Tensor:
        """Mix the masks with the maps recorded by the image call of the same draw."""
        if input.ndim == 3:  # a [B, H, W] label map of a direct call (containers add the C)
            return self.apply_transform_mask(input[:, None], params, flags)[:, 0]
        maps = _recorded(params, input.device)
        if maps is None:
            # A container hands the mask call the shape-only dict of the draw whose image
            # call ran just before; its tensors are the same objects.
            if self._last is None or self._last[0] is not params.get("region_key"):
                raise ValueError(
                    "RandomHSMix mixes a mask with the superpixels of its image: pass the "
                    "image ('input') in the same call (AugmentationSequential does), or params "
                    "recorded by an image call"
                )
            maps = self._last[1].to(input.device)
        apply.check_fit(input, maps, "mask")
        # HSMix's rule for masks (apply): a one-channel map is a label map with
        # masks="labels" (the label of the larger weight, as targets="labels" gives; any
        # value, an ignore label too, stays exact: not checked), others mix as numbers.
        (layout,) = apply.mask_layouts(
            [input], maps.hard_mask.shape, self.hsmix.options,
            dense=[flags["masks"] == "probabilities"], checks=None, names=["mask"],
            float_labels=flags["masks"] == "labels",
        )  # fmt: skip
        return apply.mix_mask(layout, maps, self.hsmix.options)


def _gated_partner(params: dict[str, Tensor], device: torch.device) -> Tensor:
    """The drawn partners, with kornia's unselected samples paired with themselves (which
    HSMix leaves unchanged)."""
    identity = torch.arange(params["partner"].shape[0], device=device)
    selected = torch.atleast_1d(params["batch_prob"] > 0.5).to(device)
    return torch.where(selected, params["partner"].to(device), identity)


def _recorded(params: dict[str, Tensor], device: torch.device) -> HSMixParams | None:
    """The HSMix params recorded in a kornia params dict by an image call, or None."""
    if not all(k in params for k in _MAPS):
        return None
    maps = {k: params[k].to(device) for k in _MAPS}
    soft = params["soft"].to(device)
    return HSMixParams(partner=_gated_partner(params, device), soft=soft, **maps)
