"""Command line: ``hsmix-torch demo`` (or ``python -m hsmix_torch demo``), ``hsmix-torch
check`` (the Triton kernels against their torch references on this machine, and what a
forward costs here: :mod:`hsmix_torch.check`), and ``hsmix-torch nnunet-trainers``, the
folder for nnU-Net's ``nnUNet_extTrainer``."""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

__all__ = ["main"]

# What each optional piece needs, and how to install it from a clone of the repository.
_EXTRAS = {
    "skimage": ("scikit-image", 'pip install -e ".[skimage]"'),
    "matplotlib": ("matplotlib", 'pip install -e ".[viz]"'),
}


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


def demo_volume(
    out: Path,
    source: str,
    seed: int,
    backend: str,
    n_segments: tuple[int, int],
    p_hard: float,
    size: int = 48,
) -> Path:
    """Mix two volumes and write three orthogonal slices per sample to ``out``.

    ``source`` is ``"builtin"`` (four built-in phantom volumes, ``size^3``) or a folder of
    ``.npz`` volumes in the MSD hippocampus layout (``image``, ``label``, ``spacing``, e.g.
    ``../shared/data/MSD_Hippocampus``), whose first four are padded to a common shape.
    """
    from . import HSMix
    from .data import load_volume_folder, pad_volumes, sample_volumes
    from .viz import plot_volume_mix

    spacing = None
    if source == "builtin":
        images, masks = sample_volumes(size, count=4)
    else:
        volumes, labels, spacings, _ = load_volume_folder(source, limit=4)
        images, masks, spacing = pad_volumes(volumes), pad_volumes(labels), spacings[0]
    classes = int(masks.max()) + 1
    aug = HSMix(
        n_segments=n_segments,
        p_hard=p_hard,
        superpixels=backend,
        spacing=spacing,
        num_classes=max(classes, 2),
    )
    generator = torch.Generator().manual_seed(seed)
    mixed, mixed_masks, params = aug(images, masks, generator=generator, return_params=True)
    b = images.shape[0]
    plot_volume_mix(
        images, masks, params, mixed[:b], mixed_masks[:b], mixed[b:], mixed_masks[b:], path=out
    )
    return out


def _ranged(cast: type, low: float, high: float, what: str) -> Callable[[str], float]:
    """An argparse type: ``cast(text)`` within ``[low, high]``, else an argparse message."""

    def parse(text: str) -> float:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    return parse


_positive_int = _ranged(int, 1, float("inf"), "a positive integer")
_probability = _ranged(float, 0.0, 1.0, "a number in [0, 1]")


def _parser() -> argparse.ArgumentParser:
    from .superpixels import available_backends, registry

    parser = argparse.ArgumentParser(
        prog="hsmix-torch", description="HSMix superpixel mixing for segmentation batches."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "demo",
        help="mix the built-in sample images and write a PNG grid",
        description="Mix the built-in sample images (scikit-image's immunohistochemistry "
        "slide and retina photograph) and write a PNG: per row the image, its partner, both "
        "superpixel maps, the hard mix and its mask, saliency, the soft weight and the soft mix.",
    )
    p.add_argument(
        "--out", type=Path, default=None, help="output PNG (hsmix_demo.png, hsmix_volume_demo.png)"
    )
    p.add_argument(
        "--size", type=_positive_int, default=None, help="image side in pixels (224; volumes 48)"
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the random draws")
    p.add_argument(
        "--backend",
        default="auto",
        choices=["auto", *sorted(registry._REGISTRY)],
        help="superpixel backend (installed here: auto, " + ", ".join(available_backends()) + ")",
    )
    p.add_argument(
        "--n-segments",
        type=_positive_int,
        nargs=2,
        default=(30, 80),
        metavar=("MIN", "MAX"),
        help="superpixels per image, drawn from MIN..MAX",
    )
    p.add_argument(
        "--p-hard",
        type=_probability,
        default=0.2,
        help="probability of pasting each partner superpixel",
    )
    p.add_argument(
        "--volume",
        nargs="?",
        const="builtin",
        default=None,
        metavar="DIR",
        help="mix volumes instead and draw three orthogonal slices per sample: the built-in "
        "phantoms (no DIR; --size is their side, default 48), or the first four .npz "
        "volumes of DIR (MSD hippocampus layout, e.g. ../shared/data/MSD_Hippocampus)",
    )
    c = sub.add_parser(
        "check",
        help="check the Triton kernels against their torch references here, and time a forward",
        description="Print torch, CUDA, Triton, the driver and the GPU; run each Triton stage "
        "(SLIC features, k-means and connectivity, saliency, the maps of a mix, the mix) on the "
        "built-in samples beside its torch reference; time the eager and graphed forward and "
        "the superpixels. Exits 1 on a mismatch, naming the option that avoids those kernels. "
        "Without a GPU the kernels run in Triton's interpreter on small shapes.",
    )
    c.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda if any)")
    c.add_argument("--size", type=_positive_int, default=None, help="image side (224; CPU 20)")
    c.add_argument(
        "--batch-size", type=_positive_int, default=None, help="images per batch (16; CPU 2)"
    )
    c.add_argument("--repeats", type=_positive_int, default=10, help="timed repeats (median)")
    sub.add_parser(
        "nnunet-trainers",
        help="print the folder of the HSMix nnU-Net trainers, for nnUNet_extTrainer",
        description="Print the folder that holds nnUNetTrainerHSMix and its variants: "
        "export nnUNet_extTrainer=$(hsmix-torch nnunet-trainers), then "
        "nnUNetv2_train DATASET CONFIG FOLD -tr nnUNetTrainerHSMix.",
    )
    return parser


def _nnunet_trainers(parser: argparse.ArgumentParser) -> int:
    if importlib.util.find_spec("nnunetv2") is None:
        parser.exit(2, 'the nnU-Net trainers need nnunetv2: pip install -e ".[nnunet]"\n')
    # The path alone: importing the trainers would import nnU-Net (seconds) for one line.
    print(Path(__file__).resolve().parent / "nnunet" / "trainers")
    return 0


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str]) -> int:
    try:
        device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    except RuntimeError as err:
        parser.error(f"--device {args.device}: {err}")
    if device.type not in ("cpu", "cuda"):
        parser.error(f"--device {args.device}: the kernels run on CUDA devices (or the CPU)")
    if device.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        # On the CPU the kernels run in Triton's interpreter, which Triton takes from
        # TRITON_INTERPRET as it is imported (importing hsmix_torch imports it): the check
        # runs in a fresh process that has it from the start.
        env = {**os.environ, "TRITON_INTERPRET": "1"}
        return subprocess.run([sys.executable, "-m", "hsmix_torch", *argv], env=env).returncode
    from .check import run_check

    return run_check(device, size=args.size, batch_size=args.batch_size, repeats=args.repeats)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if args.command == "nnunet-trainers":
        return _nnunet_trainers(parser)
    if args.command == "check":
        return _check(parser, args, argv)
    lo, hi = args.n_segments
    if lo > hi:
        parser.error(f"--n-segments: MIN must be <= MAX, got {lo} {hi}")
    for module, (package, install) in _EXTRAS.items():
        if importlib.util.find_spec(module) is None:
            parser.exit(2, f"hsmix-torch demo needs {package}: {install}\n")
    from .superpixels import available_backends

    if args.backend != "auto" and args.backend not in available_backends():
        parser.error(
            f"--backend {args.backend} is not installed here; installed: "
            + ", ".join(available_backends())
            + " (fast-slic: pip install cython numpy setuptools wheel && "
            "pip install --no-build-isolation fast-slic)"
        )
    if args.volume is not None:
        if args.volume != "builtin" and not Path(args.volume).is_dir():
            parser.error(f"--volume {args.volume}: not a folder of .npz volumes")
        out = demo_volume(
            args.out or Path("hsmix_volume_demo.png"),
            args.volume,
            args.seed,
            args.backend,
            (lo, hi),
            args.p_hard,
            size=args.size or 48,
        )
    else:
        out = args.out or Path("hsmix_demo.png")
        out = demo(out, args.size or 224, args.seed, args.backend, (lo, hi), args.p_hard)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
