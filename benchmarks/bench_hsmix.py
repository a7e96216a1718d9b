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
    python benchmarks/bench_hsmix.py --volumes        # volumes: B = 2, 4 at 96^3 and 128^3

With ``--volumes`` the batches are grey volumes ``[B, 1, S, S, S]``: the MSD hippocampus
MRI crops resampled to ``S^3`` (the built-in phantoms without ../shared/data), 3 classes,
``n_segments`` 100-200, the volume default saliency; backends ``torch`` and ``skimage``,
and the per-volume published-style baseline (scikit-image's 3-D SLIC for both volumes of
every pair, OpenCV's fine-grained saliency slice by slice, loops over supervoxels). On the
CPU the eager torch SLIC is timed up to B = 2 at 96^3 (``--all``: every configuration).
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
    volume_batch,
    write_csv,
)
from benchmarks.reference import reference_batch  # noqa: E402
from hsmix_torch import HSMix  # noqa: E402
from hsmix_torch.saliency import get_saliency  # noqa: E402
from hsmix_torch.superpixels import available_backends, get_backend  # noqa: E402

# On the CPU, the reference-speed backends are only timed on batches up to this many pixels.
CPU_SLOW_BACKEND_PIXELS = 16 * 224 * 224
# The eager torch SLIC of volumes on the CPU (about 20 us a voxel here) only up to this.
CPU_SLOW_BACKEND_VOXELS = 2 * 96**3


def _gen(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def reference_call(
    size: int, grey: bool, n_images: int, volumes: bool = False
) -> Callable[[int], object]:
    """The published per-sample way (benchmarks/reference.py) on ``n_images`` real images (or
    volumes: per volume, saliency slice by slice)."""
    if volumes:
        images, masks, _ = volume_batch(n_images, size)
        kw = dict(n_segments=(100, 200), compactness=0.1)
    else:
        images, masks, _ = real_batch(n_images, size, grey)
        kw = dict(compactness=0.1 if grey else 8.0)
    x = images.movedim(1, -1).numpy().astype(np.float32)
    classes = 3 if volumes else 2
    y = torch.nn.functional.one_hot(masks, classes).movedim(-1, 1).float().numpy()
    return lambda s: reference_batch(x, y, seed=s, **kw)


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
    volumes = images.ndim == 5
    n_segments = (100, 200) if volumes else (30, 80)
    aug = HSMix(
        n_segments=n_segments,
        superpixels=get_backend(backend),
        num_classes=3 if volumes else 2,
        validate=False,
    )
    saliency_fn = get_saliency(aug.saliency)
    b = images.shape[0]
    n = torch.full((b,), sum(n_segments) // 2, device=device)

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
    top = n_segments[1]
    superpixels = time_ms(lambda s: aug.backend(images, n, max_segments=top), device, repeats)
    labels = aug.backend(images, n, max_segments=top)
    saliency = time_ms(lambda s: saliency_fn(images), device, repeats)
    sample = time_ms(
        lambda s: aug.make_params(images, segments=labels, generator=_gen(device, s)),
        device,
        repeats,
    )
    params = aug.make_params(images, segments=labels, generator=_gen(device, 0))
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
    cube = "^3" if rows[0]["channels"] == "volume" else ""
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
            title=f"{channels} {size}{cube or f'x{size}'} ({rows[0]['device']})",
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
    p.add_argument("--volumes", action="store_true", help="grey volumes (see above)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)

    device = pick_device(args.device)
    backends = args.backends or [
        b for b in available_backends() if b != "fast_slic" or device.type == "cpu"
    ]
    if device.type == "cpu" and "fast_slic" not in backends and "fast_slic" in available_backends():
        backends.append("fast_slic")
    if args.volumes:
        args.channels = ["volume"]
        if args.batch_sizes == p.get_default("batch_sizes"):
            args.batch_sizes = [2, 4]
        if args.sizes == p.get_default("sizes"):
            args.sizes = [96, 128]
        chosen = args.backends or (["torch", "skimage"] if device.type == "cpu" else ["torch"])
        backends = [b for b in chosen if b != "fast_slic"]  # fast-slic is 2-D only
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
        volumes = channels == "volume"
        slow = backend in ("skimage", "torch") and device.type == "cpu" and not volumes
        if slow and not args.all and batch * size * size > CPU_SLOW_BACKEND_PIXELS:
            continue
        eager_cpu_slic = volumes and backend == "torch" and device.type == "cpu"
        if eager_cpu_slic and not args.all and batch * size**3 > CPU_SLOW_BACKEND_VOXELS:
            continue
        grey = channels == "grey"
        ref_images = min(args.reference_images, 2) if volumes else args.reference_images
        if timed_reference and (channels, size) not in reference:
            reference[(channels, size)] = reference_call(size, grey, ref_images, volumes)
        paired = (reference[(channels, size)], ref_images) if timed_reference else None
        if volumes:
            images, masks, source = volume_batch(batch, size)
        else:
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
    tag = device.type + ("_volumes" if args.volumes else "")
    write_csv(args.out / f"bench_hsmix_{tag}.csv", rows)
    if rows:
        plot(rows, args.out / f"bench_hsmix_{tag}.png")
    print(f"\nwrote {args.out / f'bench_hsmix_{tag}.csv'} and .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
