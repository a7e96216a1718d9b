"""Kernel launches per HSMix forward, by stage: recorded on the CPU as a GPU would launch
them (``launches.record``: the Triton kernels as on CUDA, every torch op that runs a
kernel, and the host reads), against the torch-ops path; on CUDA also the per-kernel
profile of the same forward (torch.profiler: CUDA time and launches per kernel). A CUDA
graph (``HSMix(cuda_graph=True)``) replays them all in one launch.

    python benchmarks/launch_count.py --batch-size 16 --size 224
    python benchmarks/launch_count.py --device cuda        # adds the CUDA profile
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", default="cpu", help="cpu (recorded) or cuda (adds a profile)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--n-segments", type=int, nargs=2, default=(30, 80))
    p.add_argument("--json", type=Path, help="cuda: write the per-kernel times as JSON")
    args = p.parse_args(argv)
    if args.device == "cuda":
        return _profile(args)
    os.environ["TRITON_INTERPRET"] = "1"  # before the kernel modules are imported

    from benchmarks.common import print_table, real_batch
    from benchmarks.launches import record
    from hsmix_torch import HSMix
    from hsmix_torch.saliency import fine_grained
    from hsmix_torch.superpixels import get_backend

    images, masks, source = real_batch(args.batch_size, args.size)
    n = torch.full((len(images),), args.n_segments[1])
    rows = []
    for kernels in ("torch", "auto"):
        slic = get_backend("torch", sync_free=True, kernels=kernels)
        aug = HSMix(n_segments=tuple(args.n_segments), num_classes=2, superpixels=slic,
                    validate=False, kernels=kernels)  # fmt: skip
        stages = {
            "superpixels": lambda slic=slic: slic(images, n, max_segments=args.n_segments[1]),
            "saliency": lambda kernels=kernels: fine_grained(images, kernels=kernels),
            "forward": lambda aug=aug: aug(images, masks),
        }
        for stage, fn in stages.items():
            rec = record(fn)
            top = rec.torch_ops.most_common(4)
            rows.append(
                {
                    "path": "Triton (as on CUDA)" if kernels == "auto" else "torch ops",
                    "stage": stage,
                    "launches": rec.triton_launches + rec.torch_launches,
                    "triton": rec.triton_launches,
                    "host_reads": sum(rec.host_reads.values()),
                    "top_torch_ops": ", ".join(f"{k.split('::')[1]} {v}" for k, v in top),
                }
            )
    print(f"\nLaunches per HSMix forward, B={len(images)}, {args.size}px, {source} (recorded)")
    print_table(rows, ["path", "stage", "launches", "triton", "host_reads", "top_torch_ops"])
    return 0


def _profile(args: argparse.Namespace) -> int:
    """The per-kernel CUDA profile of one forward at the defaults (compiled kernels)."""
    from torch.profiler import ProfilerActivity, profile

    from benchmarks.common import device_name, real_batch
    from hsmix_torch import HSMix

    images, masks, source = real_batch(args.batch_size, args.size)
    x, y = images.cuda(), masks.cuda()
    aug = HSMix(n_segments=tuple(args.n_segments), num_classes=2, validate=False)
    for _ in range(2):  # compiles the kernels, fills the caches
        aug(x, y)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        aug(x, y)
        torch.cuda.synchronize()
    events = prof.key_averages()
    # Kernels run on the device; the host-side ops that launch them have device time too,
    # so count the events whose own time is on the device and that are no host op.
    launches = sum(
        e.count for e in events if e.self_device_time_total > 0 and e.self_cpu_time_total == 0
    )
    print(
        f"\nPer-kernel profile, B={len(x)}, {args.size}px, {source}, "
        f"{device_name(torch.device('cuda'))}: {launches} kernels"
    )
    print(events.table(sort_by="cuda_time_total", row_limit=40))
    if args.json:
        kernels = {
            e.key: {"launches": e.count, "device_us": e.self_device_time_total}
            for e in events
            if e.self_device_time_total > 0 and e.self_cpu_time_total == 0
        }
        args.json.write_text(json.dumps({"device": device_name(torch.device("cuda")),
                                         "kernels": kernels}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
