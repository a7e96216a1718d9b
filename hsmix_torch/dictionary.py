"""``HSMixd``: HSMix on a batch dictionary, MONAI-style (``keys=("image", "label", ...)``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ._checks import check_bool, check_seed
from .module import HSMix
from .structure import BatchFields

__all__ = ["HSMixd"]


class HSMixd(nn.Module):
    """Dictionary version of :class:`~hsmix_torch.HSMix` for batch dicts (MONAI's convention).

    Args:
        keys: the image key first, then any number of mask-like keys (label maps, a second
            label map, weight maps): all mixed with the same hard and soft maps.
        allow_missing_keys: mask keys absent from a batch are skipped (the image key must be
            there), as in MONAI's dictionary transforms.
        dense_keys: mask keys mixed as numbers whatever their layout (weight maps), where
            ``num_classes`` would read a one-channel float map as a class map.
        **hsmix_kwargs: arguments of :class:`~hsmix_torch.HSMix` (``num_classes``, ...).

    Raises:
        TypeError: keys that are not strings, ``allow_missing_keys`` not a bool.
        ValueError: no keys, a key twice, dense keys that are not mask keys; an HSMix
            option out of range.

    Calling it on ``{"image": [B,C,H,W], "label": [B,...], "name": [...], ...}`` (or volumes
    ``[B,C,D,H,W]``, e.g. MONAI patches after ``RandCropByPosNegLabeld``) returns a
    new dict, in the same key order, with the named entries mixed and every other entry
    passed through (nested entries too). With ``output="both"`` (2B samples), entries holding
    one item per sample (tensors with B rows, lists of length B) are repeated for the soft
    block, so they stay aligned. MONAI ``MetaTensor`` and torchvision ``tv_tensors`` inputs
    keep their type (without per-sample metadata: a mixed sample has two sources). In
    ``eval()`` mode the dict comes back unchanged.

    Example:
        >>> t = HSMixd(keys=("image", "label"), superpixels="grid", num_classes=2)
        >>> batch = {"image": torch.rand(2, 1, 32, 32), "label": torch.zeros(2, 32, 32).long(),
        ...          "name": ["a", "b"]}
        >>> out = t(batch)
        >>> out["image"].shape, out["label"].shape, out["name"]
        (torch.Size([4, 1, 32, 32]), torch.Size([4, 2, 32, 32]), ['a', 'b', 'a', 'b'])
    """

    def __init__(
        self,
        keys: Sequence[str] | str = ("image", "label"),
        allow_missing_keys: bool = False,
        dense_keys: Sequence[str] = (),
        **hsmix_kwargs: Any,
    ) -> None:
        super().__init__()
        keys, dense_keys = _key_tuple(keys, "keys"), _key_tuple(dense_keys, "dense_keys")
        if not keys or len(set(keys)) != len(keys):
            raise ValueError(f"keys must be distinct strings, the image key first, got {keys!r}")
        if not set(dense_keys) <= set(keys[1:]):
            raise ValueError(f"dense_keys must be mask keys of {keys[1:]}, got {dense_keys!r}")
        self.keys = keys
        self.allow_missing_keys = check_bool(allow_missing_keys, "allow_missing_keys")
        self.dense_keys = dense_keys
        self.fields = BatchFields(
            image=keys[0], masks=keys[1:], missing_ok=self.allow_missing_keys, dense=dense_keys
        )
        self.aug = HSMix(**hsmix_kwargs)
        self._seed: int | None = None
        self._generators: dict[str, torch.Generator] = {}

    def set_random_state(
        self, seed: int | None = None, state: torch.Generator | None = None
    ) -> HSMixd:
        """MONAI's convention: seed the draws of later calls. A ``generator`` passed to a
        call takes precedence.

        Args:
            seed: the seed of a generator made per device.
            state: a ``torch.Generator`` on the batches' device, used as it is.

        Returns:
            ``self``.

        Raises:
            TypeError: ``seed`` not an int, ``state`` not a generator.
        """
        if state is not None and not isinstance(state, torch.Generator):
            raise TypeError(f"state must be a torch.Generator, got {type(state).__name__}")
        self._seed = check_seed(seed)
        self._generators = {} if state is None else {str(state.device): state}
        return self

    def _generator_for(self, device: torch.device) -> torch.Generator | None:
        key = str(torch.empty(0, device=device).device)  # "cuda" -> "cuda:0"
        if key not in self._generators and self._seed is not None:
            self._generators[key] = torch.Generator(device=device).manual_seed(self._seed)
        return self._generators.get(key)

    def forward(
        self, data: Mapping[str, Any], generator: torch.Generator | None = None
    ) -> dict[str, Any]:
        """Mix the batch dict ``data``; see the class docstring.

        Raises:
            TypeError: ``data`` is not a dict, or an entry has the wrong type.
            KeyError: the image key, or a mask key without ``allow_missing_keys``, is
                missing.
            ValueError: an entry of the wrong shape, device or values, named as
                ``data['key']``.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"data must be a dict of batch entries, got {type(data).__name__}")
        data = dict(data)
        if not self.training:
            return data
        image = data.get(self.keys[0])
        if generator is None and isinstance(image, torch.Tensor):
            generator = self._generator_for(image.device)
        out, _ = self.aug.mix_structure(data, self.fields, generator=generator, root="data")
        return out


def _key_tuple(keys: object, name: str) -> tuple[str, ...]:
    """One dict key or a sequence of them, as a tuple of strings."""
    keys = (keys,) if isinstance(keys, str) else keys
    if not isinstance(keys, Sequence) or not all(isinstance(k, str) for k in keys):
        raise TypeError(f"{name} must be a dict key or a sequence of them, got {keys!r}")
    return tuple(keys)
