"""The options of HSMix, validated once into one immutable, hashable value.

:class:`HSMixOptions` is what an :class:`~hsmix_torch.HSMix` is made from and what it shows
(``repr``); its hash is half of the key of a captured CUDA graph (the other half, the input
signature). Options cannot change after construction: ``HSMix.replace(p_hard=0.5)`` makes
a new module instead, so nothing (a graph, a cached backend) keeps an old value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar

from torch import Tensor

from ._checks import (
    check_bool,
    check_choice,
    check_compactness,
    check_int,
    check_number,
    check_probability,
    check_spacing,
    intensity_range,
    segment_range,
)
from ._constants import KERNELS, OUTPUTS, Kernels, Output

__all__ = ["AGGREGATES", "LAMS", "OUTPUTS", "PAIRINGS", "TARGETS", "HSMixOptions"]

LAMS = ("saliency", "beta")
AGGREGATES = ("sum", "mean")
PAIRINGS = ("derangement", "permutation")
TARGETS = ("probabilities", "labels")


@dataclasses.dataclass(frozen=True)
class HSMixOptions:
    """Every option of :class:`~hsmix_torch.HSMix`, checked and normalised: ``n_segments`` a
    ``(min, max)`` pair, numbers as floats, ``spacing`` a tuple of floats or None.
    ``saliency`` and ``superpixels`` may be callables or backend objects (compared and hashed
    by identity). Its hash keys a module's CUDA graphs.

    Attributes:
        n_segments: superpixels per image: an int, or an inclusive range drawn per image.
        compactness: SLIC's compactness (scikit-image's units); None: 8 for RGB, 0.1 else.
        p_hard: the probability of pasting each partner superpixel.
        lam: the soft weights: ``"saliency"`` (relative saliency, published) or ``"beta"``.
        alpha: ``Beta(alpha, alpha)`` for ``lam="beta"``.
        aggregate: the per-region ``"sum"`` (published) or ``"mean"`` of relative saliency.
        saliency: a name of :data:`hsmix_torch.saliency.NAMES` or a callable
            ``images -> [B, 1, *S]``.
        superpixels: a backend name, backend object or callable
            ``(images, n_segments [B]) -> [B, *S]``.
        spacing: the voxel size per spatial axis (volumes), or None.
        output: ``"both"`` (the hard batch, then the soft batch: 2B), ``"hard"``,
            ``"soft"`` or ``"either"`` (each sample soft with probability ``p_soft``).
        p_soft: the probability of the soft mix per sample with ``output="either"``.
        pairing: ``"derangement"`` (nobody paired with itself when B >= 2) or
            ``"permutation"`` (the published scripts').
        p: the probability that a sample is mixed at all.
        num_classes: the classes of class-map masks (needed for their soft mix; makes
            one-channel float masks class maps).
        ignore_index: an ignored label: kept by hard mixes, all zero one-hot.
        targets: class maps come back one-hot mixed (``"probabilities"``) or as labels.
        intensity_range: the value range of float images for saliency; None: per image.
        validate: run the value checks that read back from the device (one read a call).
        kernels: ``"auto"`` (Triton on CUDA), ``"triton"`` or ``"torch"``.
        cuda_graph: capture the forward on CUDA once per input signature and replay it.

    Raises:
        TypeError: an option of the wrong type.
        ValueError: an option out of range, or ``compactness`` beside a backend object.
    """

    n_segments: tuple[int, int] = (30, 80)
    compactness: float | None = None
    p_hard: float = 0.2
    lam: Literal["saliency", "beta"] = "saliency"
    alpha: float = 1.0
    aggregate: Literal["sum", "mean"] = "sum"
    saliency: str | Callable[[Tensor], Tensor] = "auto"
    superpixels: Any = "auto"
    spacing: tuple[float, ...] | None = None
    output: Output = "both"
    p_soft: float = 0.5
    pairing: Literal["derangement", "permutation"] = "derangement"
    p: float = 1.0
    num_classes: int | None = None
    ignore_index: int | None = None
    targets: Literal["probabilities", "labels"] = "probabilities"
    intensity_range: tuple[float, float] | None = (0.0, 1.0)
    validate: bool = True
    kernels: Kernels = "auto"
    cuda_graph: bool = False

    def __post_init__(self) -> None:
        fix = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        fix("n_segments", segment_range(self.n_segments))
        fix("compactness", check_compactness(self.compactness))
        for name in ("p_hard", "p_soft", "p"):
            fix(name, check_probability(getattr(self, name), name))
        fix("alpha", check_number(self.alpha, "alpha", positive=True))
        for name, choices in (
            ("lam", LAMS),
            ("aggregate", AGGREGATES),
            ("output", OUTPUTS),
            ("pairing", PAIRINGS),
            ("targets", TARGETS),
            ("kernels", KERNELS),
        ):
            check_choice(getattr(self, name), name, choices)
        for name in ("saliency", "superpixels"):
            value = getattr(self, name)
            if not (isinstance(value, str) or callable(value)):
                raise TypeError(f"{name} must be a name or a callable, got {value!r}")
        if self.num_classes is not None:
            check_int(self.num_classes, "num_classes", minimum=1)
        if self.ignore_index is not None:
            check_int(self.ignore_index, "ignore_index")
        fix("spacing", check_spacing(self.spacing))
        fix("intensity_range", intensity_range(self.intensity_range))
        check_bool(self.validate, "validate")
        check_bool(self.cuda_graph, "cuda_graph")
        if self.compactness is not None and not isinstance(self.superpixels, str):
            raise ValueError(
                "compactness belongs to the superpixel backend: with superpixels="
                f"{self.superpixels!r}, give it there (get_backend(name, compactness=...))"
            )

    def replace(self, **changes: Any) -> HSMixOptions:
        """These options with ``changes``, checked again.

        Args:
            **changes: options by name.

        Returns:
            A new :class:`HSMixOptions`.
        """
        return dataclasses.replace(self, **changes)

    def describe(self, **shown: object) -> str:
        """The options as ``name=value`` pairs, in order (a module's ``repr``).

        Args:
            **shown: values to show instead of an option's own (the built backend for the
                name ``superpixels``, say).

        Returns:
            The pairs, comma-separated.
        """
        names = [f.name for f in dataclasses.fields(self)]
        return ", ".join(f"{n}={shown[n] if n in shown else repr(getattr(self, n))}" for n in names)


T = TypeVar("T")


class _Option(Generic[T]):
    """A read-only attribute of the module: one of its options (``aug.p_hard``)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.__doc__ = f"The option ``{name}`` (see :class:`~hsmix_torch.HSMixOptions`)."

    def __get__(self, module: Any, owner: type) -> T:
        if module is None:
            return self  # type: ignore[return-value]  # the class attribute, for docs
        return getattr(module.options, self.name)


class OptionAttributes:
    """The options of an HSMix as read-only, typed attributes (``aug.p_hard``): a base class of
    :class:`~hsmix_torch.HSMix`."""

    n_segments: _Option[tuple[int, int]] = _Option()
    compactness: _Option[float | None] = _Option()
    p_hard: _Option[float] = _Option()
    lam: _Option[str] = _Option()
    alpha: _Option[float] = _Option()
    aggregate: _Option[str] = _Option()
    saliency: _Option[str | Callable[[Tensor], Tensor]] = _Option()
    superpixels: _Option[str | Callable[[Tensor, Tensor], Tensor]] = _Option()
    spacing: _Option[tuple[float, ...] | None] = _Option()
    output: _Option[str] = _Option()
    p_soft: _Option[float] = _Option()
    pairing: _Option[str] = _Option()
    p: _Option[float] = _Option()
    num_classes: _Option[int | None] = _Option()
    ignore_index: _Option[int | None] = _Option()
    targets: _Option[str] = _Option()
    intensity_range: _Option[tuple[float, float] | None] = _Option()
    validate: _Option[bool] = _Option()
    kernels: _Option[str] = _Option()
    cuda_graph: _Option[bool] = _Option()
