"""Kernel launches per HSMix forward, by stage, with torch ops and with the Triton kernels;
on CUDA also a per-kernel profile (torch.profiler: CUDA time and launches per kernel).

Each dispatched op that runs a kernel counts once, and each of the package's Triton custom
ops counts the launches it makes inside, so on the CPU the counts are the launches a GPU
would see. A CUDA graph (``HSMix(cuda_graph=True)``) replays them all in one launch.

    python benchmarks/launch_count.py --device cuda --batch-size 16 --size 224
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import device_name, pick_device, print_table, real_batch  # noqa: E402
from hsmix_torch import HSMix  # noqa: E402
from hsmix_torch.saliency import fine_grained  # noqa: E402
from hsmix_torch.superpixels import get_backend  # noqa: E402
from tests.ops import count_ops  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", default="auto", help="cpu, cuda or auto")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--n-segments", type=int, nargs=2, default=(30, 80))
    args = p.parse_args(argv)
    device = pick_device(args.device)
    images, masks, source = real_batch(args.batch_size, args.size)
    x, y = images.to(device), masks.to(device)
    n = torch.full((len(x),), args.n_segments[1], device=device)
    variants = ["torch"]
    if device.type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1":
        variants.append("triton")
    rows = []
    for kernels in variants:
        slic = get_backend("torch", sync_free=True, kernels=kernels)
        aug = HSMix(
            n_segments=tuple(args.n_segments), num_classes=2, validate=False, kernels=kernels
        )
        aug.backend = slic
        aug(x, y)  # warm-up: compiles kernels, caches tables
        stages = {
            "superpixels": lambda slic=slic: slic(x, n, max_segments=args.n_segments[1]),
            "saliency": lambda kernels=kernels: fine_grained(x, kernels=kernels),
            "forward": lambda aug=aug: aug(x, y),
        }
        for stage, fn in stages.items():
            ops = count_ops(fn)
            rows.append(
                {
                    "kernels": kernels,
                    "stage": stage,
                    "launches": sum(ops.values()),
                    "triton": sum(v for k, v in ops.items() if k.startswith("hsmix_torch::")),
                    "top_ops": ", ".join(f"{k.split('::')[1]} {v}" for k, v in ops.most_common(4)),
                }
            )
        if device.type == "cuda":
            from torch.profiler import ProfilerActivity, profile

            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                aug(x, y)
                torch.cuda.synchronize()
            print(f"\nPer-kernel profile, kernels={kernels!r} ({device_name(device)}):")
            print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=15))
    print(
        f"\nLaunches per HSMix forward, B={len(x)}, {args.size}px, {source}, {device_name(device)}"
    )
    print_table(rows, ["kernels", "stage", "launches", "triton", "top_ops"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
