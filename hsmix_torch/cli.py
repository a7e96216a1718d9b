"""Command line: ``hsmix-torch demo`` (or ``python -m hsmix_torch demo``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch

__all__ = ["main"]


def demo(
    out: Path, size: int, seed: int, backend: str, n_segments: tuple[int, int], p_hard: float
) -> Path:
    """Mix the built-in sample batch and write the picture of both branches to ``out``."""
    from . import HSMix
    from .data import sample_batch
    from .saliency import fine_grained
    from .viz import plot_mix

    images, masks = sample_batch(size)
    aug = HSMix(n_segments=n_segments, p_hard=p_hard, superpixels=backend, num_classes=2)
    generator = torch.Generator().manual_seed(seed)
    mixed, mixed_masks, params = aug(images, masks, generator=generator, return_params=True)
    b = images.shape[0]
    plot_mix(
        images,
        masks,
        params,
        mixed[:b],
        mixed_masks[:b],
        mixed[b:],
        mixed_masks[b:],
        saliency=fine_grained(images),
        path=out,
    )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hsmix-torch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="mix built-in sample images and write a PNG grid")
    p.add_argument("--out", type=Path, default=Path("hsmix_demo.png"), help="output PNG path")
    p.add_argument("--size", type=int, default=224, help="image side length")
    p.add_argument(
        "--seed", type=int, default=1, help="random seed (1 pairs no sample with itself)"
    )
    p.add_argument("--backend", default="auto", help="superpixel backend")
    p.add_argument("--n-segments", type=int, nargs=2, default=(30, 80), metavar=("MIN", "MAX"))
    p.add_argument("--p-hard", type=float, default=0.2)
    args = parser.parse_args(argv)
    out = demo(args.out, args.size, args.seed, args.backend, tuple(args.n_segments), args.p_hard)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
