"""Every check of an argument, shared by the module, the stages, saliency and backends: one
convention (``TypeError`` for a type, ``ValueError`` for a value, the argument named), and
the value checks that read tensors back, gathered into one read (:class:`ValueChecks`)."""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor

__all__ = [
    "ValueChecks",
    "caller_level",
    "check_bool",
    "check_choice",
    "check_compactness",
    "check_generator",
    "check_images",
    "check_int",
    "check_number",
    "check_probability",
    "check_seed",
    "check_spacing",
    "intensity_range",
    "segment_range",
]

_LAYOUTS = {2: "[B, C, H, W]", 3: "[B, C, D, H, W]"}


def check_images(
    images: object,
    name: str = "images",
    *,
    allow_empty_batch: bool = False,
    spatial: tuple[int, ...] = (2, 3),
) -> None:
    """Raise a clear error unless ``images`` is a ``[B, C, H, W]`` (or, where ``spatial``
    allows 3 axes, ``[B, C, D, H, W]``) float or uint8 tensor with non-empty channel and
    spatial axes (and B >= 1 unless ``allow_empty_batch``). A last axis of 1, 3 or 4 after
    more than 4 "channels" is taken for a channels-last batch and refused. Reads no values,
    so it never synchronises with a device."""
    if not isinstance(images, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    layouts = " or ".join(_LAYOUTS[s] for s in spatial)
    if images.ndim - 2 not in spatial:
        raise ValueError(
            f"{name} must have shape {layouts} (channels first), got {tuple(images.shape)}"
        )
    c, last = images.shape[1], images.shape[-1]
    if last in (1, 3, 4) and c > 4 and min(images.shape[2:-1]) > 4:
        order = "D, H, W" if images.ndim == 5 else "H, W"
        raise ValueError(
            f"{name} look channels-last [B, {order}, C] = {tuple(images.shape)}; HSMix takes "
            f"channels first [B, C, {order}]: pass {name}.movedim(-1, 1)"
        )
    if not (images.is_floating_point() or images.dtype == torch.uint8):
        raise TypeError(f"{name} must be floating point or uint8, got {images.dtype}")
    if 0 in images.shape[1:] or (images.shape[0] == 0 and not allow_empty_batch):
        batch = "" if allow_empty_batch else "B >= 1, "
        names = ("C", "D", "H", "W") if images.ndim == 5 else ("C", "H", "W")
        axes = ", ".join(f"{a} >= 1" for a in names)
        raise ValueError(
            f"{name} must hold non-empty images ({batch}{axes}), got shape {tuple(images.shape)}"
        )


def check_spacing(spacing: object, axes: int | None = None) -> tuple[float, ...] | None:
    """``spacing`` as a tuple of positive finite floats (one per spatial axis, ``axes`` of
    them when given), or None; a ValueError/TypeError naming what was expected otherwise."""
    if spacing is None:
        return None
    if isinstance(spacing, (str, bytes)) or not isinstance(spacing, (Sequence, Tensor)):
        raise TypeError(f"spacing must be a sequence of floats or None, got {spacing!r}")
    values = [float(v) for v in spacing]
    if axes is not None and len(values) != axes:
        raise ValueError(
            f"spacing must have one value per spatial axis ({axes}), got {len(values)}: "
            f"{tuple(values)}"
        )
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"spacing must hold finite values > 0, got {tuple(values)}")
    return tuple(values)


# ---------------------------------------------------------------------- option values
# One convention: a value of the wrong type is a TypeError, a value out of range a
# ValueError; both name the argument.
def check_bool(value: object, name: str) -> bool:
    """``value`` if it is a bool, else a TypeError naming ``name``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


def check_int(value: object, name: str, minimum: int | None = None) -> int:
    """``value`` as an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


def check_number(value: object, name: str, *, positive: bool = False) -> float:
    """``value`` as a finite float (an int or float, not a bool), > 0 when ``positive``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or (positive and not value > 0):
        raise ValueError(
            f"{name} must be a finite number{' > 0' if positive else ''}, got {value!r}"
        )
    return float(value)


def check_probability(value: object, name: str) -> float:
    """``value`` as a float in ``[0, 1]``."""
    p = check_number(value, name)
    if not 0 <= p <= 1:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return p


def check_compactness(value: object, name: str = "compactness") -> float | None:
    """SLIC's compactness: None (the backend's default for the channels) or a number > 0."""
    return None if value is None else check_number(value, name, positive=True)


def check_seed(seed: object, name: str = "seed") -> int | None:
    """A seed: None or an int (not a bool)."""
    return None if seed is None else check_int(seed, name)


def check_generator(generator: object, device: torch.device) -> torch.Generator | None:
    """None, or a ``torch.Generator`` on ``device`` (the images' device)."""
    if generator is None:
        return None
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {generator!r}")
    a, b = generator.device, device
    same = a.type == b.type and (a.index is None or b.index is None or a.index == b.index)
    if not same:
        raise ValueError(
            f"generator is on {generator.device} but images are on {device}; "
            "create it with torch.Generator(device=images.device)"
        )
    return generator


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def segment_range(n_segments: object, name: str = "n_segments") -> tuple[int, int]:
    """An int, or an inclusive ``(min, max)`` pair of ints, as ``(min, max)``."""
    if isinstance(n_segments, int) and not isinstance(n_segments, bool):
        lo = hi = n_segments
    elif (
        isinstance(n_segments, (tuple, list))
        and len(n_segments) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in n_segments)
    ):
        lo, hi = n_segments
    else:
        raise TypeError(f"{name} must be an int or a (min, max) pair of ints, got {n_segments!r}")
    if not 1 <= lo <= hi:
        raise ValueError(f"{name} must satisfy 1 <= min <= max, got {n_segments!r}")
    return lo, hi


def intensity_range(value: object) -> tuple[float, float] | None:
    """``None`` or a ``(low, high)`` pair of numbers with ``low < high``."""
    if value is None:
        return None
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"intensity_range must be None or a (low, high) pair, got {value!r}")
    low, high = (check_number(v, "intensity_range") for v in value)
    if not low < high:
        raise ValueError(f"intensity_range must have low < high, got {value!r}")
    return low, high


# ------------------------------------------------------------------ values on the device
class ValueChecks:
    """Checks of tensor values gathered on the device and read back together: one host
    synchronisation for all of them (``validate=True``), however many there are.

    ``add`` takes a device scalar that is True when something is wrong and the message to
    raise then (a callable given the read-back numbers of ``values``); ``warn`` likewise
    for a warning. ``run`` reads everything back once and raises the first failure.
    """

    def __init__(self) -> None:
        self._items: list[tuple[Tensor, list[Tensor], Callable[[list[float]], str], bool]] = []

    def add(
        self,
        failed: Tensor,
        message: Callable[[list[float]], str],
        values: Sequence[Tensor] = (),
        *,
        warning: bool = False,
    ) -> None:
        self._items.append((failed, list(values), message, warning))

    def run(self) -> int:
        """Read every value back at once; raise the first failed check, warn (pointing at
        the first frame outside hsmix_torch and torch.nn) for failed warnings. Returns the
        number of warnings given."""
        if not self._items:
            return 0
        warned = 0
        flat = [
            t.reshape(()).double() for failed, vals, _, _ in self._items for t in (failed, *vals)
        ]
        numbers = torch.stack(flat).to("cpu", copy=True).tolist()  # the one read back
        at = 0
        for _, vals, message, warning in self._items:
            bad, got = numbers[at], numbers[at + 1 : at + 1 + len(vals)]
            at += 1 + len(vals)
            if bad:
                if not warning:
                    raise ValueError(message(got))
                warnings.warn(message(got), RuntimeWarning, stacklevel=caller_level())
                warned += 1
        self._items.clear()
        return warned


def caller_level() -> int:
    """The ``stacklevel`` of the first frame outside this package and ``torch.nn`` (the
    caller's line, however deep the call went: eager, graphed, an adapter)."""
    package = str(Path(__file__).resolve().parent)
    nn_dir = str(Path(torch.nn.__file__).resolve().parent)
    frame, level = sys._getframe(1), 1  # this function's caller: run
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(
        (package, nn_dir)
    ):
        frame, level = frame.f_back, level + 1
    return level
