"""``HSMixd``: HSMix on a batch dictionary, MONAI-style (``keys=("image", "label")``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .module import HSMix

__all__ = ["HSMixd"]


def _repeat_per_sample(value: Any, batch: int, times: int) -> Any:
    """Entries with one item per sample follow the ``times * B`` output; others stay as they are."""
    if times == 1:
        return value
    if isinstance(value, Tensor) and value.ndim >= 1 and value.shape[0] == batch:
        return torch.cat([value] * times)
    if isinstance(value, (list, tuple)) and len(value) == batch:
        return value * times
    return value


class HSMixd(nn.Module):
    """Dictionary version of :class:`~hsmix_torch.HSMix` for batch dicts (MONAI's convention).

    Args:
        keys: ``(image_key, mask_key)``; the mask key may be absent from a batch when
            ``allow_missing_keys`` is True (images are mixed alone then).
        allow_missing_keys: as in MONAI's dictionary transforms.
        **hsmix_kwargs: arguments of :class:`~hsmix_torch.HSMix` (``num_classes``, ...).

    Calling it on ``{"image": [B,C,H,W], "label": [B,...], "name": [...], ...}`` returns a
    new dict with the image and mask mixed, and every other entry passed through. With
    ``output="both"`` (2B samples), entries holding one item per sample (tensors with B rows,
    lists of length B) are repeated for the soft block, so they stay aligned; other entries
    are unchanged. MONAI ``MetaTensor`` and torchvision ``tv_tensors`` inputs keep their type
    (without per-sample metadata: a mixed sample has two sources).
    """

    def __init__(
        self,
        keys: Sequence[str] = ("image", "label"),
        allow_missing_keys: bool = False,
        **hsmix_kwargs: Any,
    ) -> None:
        super().__init__()
        keys = (keys,) if isinstance(keys, str) else tuple(keys)
        if not 1 <= len(keys) <= 2 or not all(isinstance(k, str) for k in keys):
            raise ValueError(f"keys must be (image_key,) or (image_key, mask_key), got {keys!r}")
        self.keys = keys
        self.allow_missing_keys = bool(allow_missing_keys)
        self.aug = HSMix(**hsmix_kwargs)

    def forward(
        self, data: Mapping[str, Any], generator: torch.Generator | None = None
    ) -> dict[str, Any]:
        """Mix the batch dict ``data``; see the class docstring."""
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a dict of batch entries, got {type(data).__name__}")
        present = [k for k in self.keys if k in data]
        missing = [k for k in self.keys if k not in data]
        if missing and (not self.allow_missing_keys or self.keys[0] in missing):
            raise KeyError(f"batch dict has no key(s) {missing}; keys: {list(data)}")
        images = data[self.keys[0]]
        batch = images.shape[0] if isinstance(images, Tensor) and images.ndim == 4 else -1
        times = 2 if self.aug.output == "both" else 1
        out = {k: _repeat_per_sample(v, batch, times) for k, v in data.items() if k not in present}
        if len(present) == 2:
            out[self.keys[0]], out[self.keys[1]] = self.aug(
                images, data[self.keys[1]], generator=generator
            )
        else:
            out[self.keys[0]] = self.aug(images, generator=generator)
        return {k: out[k] for k in data}  # the caller's key order
