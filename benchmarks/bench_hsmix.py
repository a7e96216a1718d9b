"""Time HSMix end to end and by stage, per backend and device, against the published way.

For every (channels, size, batch size, backend): the median ms per batch of the whole
``HSMix`` call (superpixels + saliency + both branches, 2B outputs), its stages, images/s,
and the ratio to the per-sample reference of ``benchmarks/reference.py`` (skimage SLIC and
OpenCV saliency for both images of every pair, loops over superpixels) on the CPU. The
reference runs on ``--reference-images`` images, scaled to the batch (it is a per-image
loop), alternating with the HSMix call round by round; the speedup is the median of the
per-round ratios. Prints a table, writes CSV and a PNG plot.

    python benchmarks/bench_hsmix.py                  # CPU here; all backends
    python benchmarks/bench_hsmix.py --device cuda    # on a GPU machine
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    OUT,
    device_name,
    paired_ms,
    pick_device,
    print_table,
    real_batch,
    time_ms,
    write_csv,
)
from hsmix_torch import HSMix  # noqa: E402
from hsmix_torch.saliency import fine_grained  # noqa: E402
from hsmix_torch.superpixels import available_backends, get_backend  # noqa: E402
from tests.reference import reference_batch  # noqa: E402

# On the CPU, the reference-speed backends are only timed on batches up to this many pixels.
CPU_SLOW_BACKEND_PIXELS = 16 * 224 * 224


def _gen(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def reference_call(size: int, grey: bool, n_images: int) -> Callable[[int], object]:
    """The published per-sample way (benchmarks/reference.py) on ``n_images`` real images."""
    images, masks, _ = real_batch(n_images, size, grey)
    x = images.permute(0, 2, 3, 1).numpy().astype(np.float32)
    y = torch.nn.functional.one_hot(masks, 2).permute(0, 3, 1, 2).float().numpy()
    compactness = 0.1 if grey else 8.0
    return lambda s: reference_batch(x, y, compactness=compactness, seed=s)


def opencv_saliency_available() -> bool:
    """The reference needs cv2.saliency (opencv-contrib), which GPU images often lack."""
    try:
        import cv2
    except ImportError:
        return False
    return hasattr(cv2, "saliency")


def bench_one(
    backend: str,
    images: Tensor,
    masks: Tensor,
    device: torch.device,
    repeats: int,
    reference: tuple[Callable[[int], object], int] | None,
) -> dict[str, float]:
    """Stage times (medians, ms) and, given ``(reference call, its images)``, the speedup.

    The whole call and the reference are timed in alternation (``paired_ms``): the speedup
    is the median over rounds of (reference ms per image * B) / (HSMix ms per batch).
    """
    aug = HSMix(superpixels=get_backend(backend), num_classes=2, validate=False)
    b = images.shape[0]
    n = torch.full((b,), 55, device=device)

    def whole(s: int) -> object:
        return aug(images, masks, generator=_gen(device, s))

    if reference is None:
        total = time_ms(whole, device, repeats)
        ref_ms = speedup = float("nan")
    else:
        ref_fn, ref_images = reference
        ours, ref = paired_ms([(whole, device), (ref_fn, torch.device("cpu"))], repeats)
        per_batch = [r / ref_images * b for r in ref]
        total, ref_ms = statistics.median(ours), statistics.median(per_batch)
        speedup = statistics.median(r / o for r, o in zip(per_batch, ours, strict=True))
    superpixels = time_ms(lambda s: aug.backend(images, n, max_segments=80), device, repeats)
    labels = aug.backend(images, n, max_segments=80)
    saliency = time_ms(lambda s: fine_grained(images), device, repeats)
    sample = time_ms(
        lambda s: aug.make_params(images, superpixels=labels, generator=_gen(device, s)),
        device,
        repeats,
    )
    params = aug.make_params(images, superpixels=labels, generator=_gen(device, 0))
    mixing = time_ms(lambda s: aug.mix(images, masks, params), device, repeats)
    return {
        "total_ms": total,
        "superpixels_ms": superpixels,
        "saliency_ms": saliency,
        "select_region_ms": max(sample - saliency, 0.0),
        "mixing_ms": mixing,
        "images_per_s": 1000 * b / total,
        "reference_ms": ref_ms,
        "reference_images_per_s": 1000 * b / ref_ms,
        "speedup_vs_reference": speedup,
    }


def plot(rows: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted({(r["channels"], r["size"]) for r in rows})
    fig, axes = plt.subplots(1, len(groups), figsize=(4.5 * len(groups), 3.6), squeeze=False)
    for ax, (channels, size) in zip(axes[0], groups, strict=True):
        for backend in sorted({r["backend"] for r in rows}):
            pts = sorted(
                (r["batch"], r["images_per_s"])
                for r in rows
                if r["backend"] == backend and r["channels"] == channels and r["size"] == size
            )
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=backend)
        ref = [
            r["reference_images_per_s"]
            for r in rows
            if (r["channels"], r["size"]) == (channels, size)
        ]
        if ref and not math.isnan(ref[0]):
            ax.axhline(ref[0], color="k", ls="--", label="published (reference)")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="batch size",
            ylabel="input images / s",
            title=f"{channels} {size}x{size} ({rows[0]['device']})",
        )
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", default="auto", help="cpu, cuda or auto")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 64])
    p.add_argument("--sizes", type=int, nargs="+", default=[224])
    p.add_argument("--channels", nargs="+", default=["rgb", "grey"], choices=["rgb", "grey"])
    p.add_argument("--backends", nargs="+", default=None, help="default: all available")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument(
        "--reference-images", type=int, default=8, help="images per reference call (per round)"
    )
    p.add_argument("--all", action="store_true", help="also time slow CPU backends on big batches")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)

    device = pick_device(args.device)
    backends = args.backends or [
        b for b in available_backends() if b != "fast_slic" or device.type == "cpu"
    ]
    if device.type == "cpu" and "fast_slic" not in backends and "fast_slic" in available_backends():
        backends.append("fast_slic")
    configs = [
        (c, s, b, k)
        for c in args.channels
        for s in args.sizes
        for b in args.batch_sizes
        for k in backends
    ]
    rows: list[dict[str, object]] = []
    reference: dict[tuple[str, int], Callable[[int], object]] = {}
    timed_reference = opencv_saliency_available()
    if not timed_reference:
        print("OpenCV saliency (opencv-contrib) is missing here: the reference is not timed")
    name = device_name(device)
    for channels, size, batch, backend in tqdm(configs, desc="bench_hsmix", unit="config"):
        slow = backend in ("skimage", "torch") and device.type == "cpu"
        if slow and not args.all and batch * size * size > CPU_SLOW_BACKEND_PIXELS:
            continue
        grey = channels == "grey"
        if timed_reference and (channels, size) not in reference:
            reference[(channels, size)] = reference_call(size, grey, args.reference_images)
        paired = (reference[(channels, size)], args.reference_images) if timed_reference else None
        images, masks, source = real_batch(batch, size, grey)
        images, masks = images.to(device), masks.to(device)
        try:
            stages = bench_one(backend, images, masks, device, args.repeats, paired)
        except ImportError as err:
            print(f"skip {backend}: {err}")
            continue
        rows.append(
            {
                "date": date.today().isoformat(),
                "device": name,
                "channels": channels,
                "size": size,
                "batch": batch,
                "backend": backend,
                "data": source,
                **stages,
            }
        )
    print(f"\nHSMix, median ms per batch (B inputs -> 2B outputs), {name}, {date.today()}")
    print_table(
        rows,
        [
            "channels",
            "size",
            "batch",
            "backend",
            "total_ms",
            "superpixels_ms",
            "saliency_ms",
            "select_region_ms",
            "mixing_ms",
            "images_per_s",
            "reference_ms",
            "speedup_vs_reference",
        ],
    )
    tag = device.type
    write_csv(args.out / f"bench_hsmix_{tag}.csv", rows)
    if rows:
        plot(rows, args.out / f"bench_hsmix_{tag}.png")
    print(f"\nwrote {args.out / f'bench_hsmix_{tag}.csv'} and .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
