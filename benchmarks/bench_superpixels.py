"""Time the superpixel backends alone: torch SLIC against scikit-image and fast-slic.

Median ms per batch for each backend, batch size and image size, in the same run, with the
ratio to scikit-image and to fast-slic (both CPU, image by image). On a GPU, the torch
backend runs there (``--device cuda``) in its sync-free mode, timed with CUDA events.

    python benchmarks/bench_superpixels.py --batch-sizes 16 64 --sizes 224 512
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    OUT,
    device_name,
    pick_device,
    print_table,
    real_batch,
    time_ms,
    write_csv,
)
from hsmix_torch.superpixels import TorchSlicBackend, available_backends, get_backend  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--device", default="auto", help="device of the torch backend: cpu, cuda or auto"
    )
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64])
    p.add_argument("--sizes", type=int, nargs="+", default=[224, 512])
    p.add_argument("--n-segments", type=int, default=80)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--search-radius", type=int, default=2)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    device = pick_device(args.device)
    cpu = torch.device("cpu")
    cpu_backends = [b for b in ("skimage", "fast_slic") if b in available_backends()]
    rows = []
    configs = [(s, b) for s in args.sizes for b in args.batch_sizes]
    for size, batch in tqdm(configs, desc="bench_superpixels", unit="config"):
        images, _, _ = real_batch(batch, size)
        n = torch.full((batch,), args.n_segments)
        times = {}
        for name in cpu_backends:
            try:
                backend = get_backend(name)
            except ImportError:
                continue
            times[name] = time_ms(lambda s, bk=backend, x=images, n=n: bk(x, n), cpu, args.repeats)
        x, nd = images.to(device), n.to(device)
        # The torch SLIC with torch ops, and on CUDA with the Triton kernels.
        variants = (
            {"torch": "torch", "torch+triton": "triton"}
            if device.type == "cuda"
            else {"torch": "torch"}
        )
        for label, kernels in variants.items():
            torch_backend = TorchSlicBackend(
                search_radius=args.search_radius, sync_free=device.type == "cuda", kernels=kernels
            )
            times[label] = time_ms(
                lambda s, bk=torch_backend, x=x, n=nd: bk(x, n, max_segments=args.n_segments),
                device,
                args.repeats,
            )
        if "torch+triton" in times:
            print(
                f"size {size} B={batch}: torch SLIC with the Triton kernels "
                f"{times['torch+triton']:.2f} ms, torch ops {times['torch']:.2f} ms "
                f"({times['torch'] / times['torch+triton']:.1f}x)"
            )
        for name, ms in times.items():
            rows.append(
                {
                    "date": date.today().isoformat(),
                    "size": size,
                    "batch": batch,
                    "backend": name,
                    "device": device_name(device if name.startswith("torch") else cpu),
                    "ms_per_batch": ms,
                    "ms_per_image": ms / batch,
                    "speedup_vs_skimage": times.get("skimage", float("nan")) / ms,
                    "speedup_vs_fast_slic": times.get("fast_slic", float("nan")) / ms,
                }
            )
    print(f"\nSuperpixels, median ms per batch, n_segments={args.n_segments}, {date.today()}")
    print_table(
        rows,
        [
            "size",
            "batch",
            "backend",
            "device",
            "ms_per_batch",
            "ms_per_image",
            "speedup_vs_skimage",
            "speedup_vs_fast_slic",
        ],
    )
    write_csv(args.out / f"bench_superpixels_{device.type}.csv", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
