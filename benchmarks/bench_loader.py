"""Throughput of HSMix inside DataLoader workers (HSMixCollate), against the published way.

Real 224x224 images held in memory, so the loader's cost is collation plus HSMix: input
images per second over a number of batches, for each superpixel backend, with 0 and 2
workers; and the per-sample reference of benchmarks/reference.py in the same run.
The loaders are built as a user would, with default settings: DataLoader runs one torch
thread per worker, and the fast-slic backend follows torch's thread count.

    python benchmarks/bench_loader.py --workers 0 2 --batches 12
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import device_name, print_table, real_batch, time_ms  # noqa: E402
from benchmarks.reference import reference_batch  # noqa: E402
from hsmix_torch import HSMix, HSMixCollate  # noqa: E402
from hsmix_torch.superpixels import get_backend  # noqa: E402


def loader_images_per_s(backend: str, workers: int, batch: int, batches: int, size: int) -> float:
    images, masks, _ = real_batch(batch * 4, size)
    ds = TensorDataset(images, masks)
    aug = HSMix(superpixels=get_backend(backend), num_classes=2)
    loader = DataLoader(
        ds,
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        collate_fn=HSMixCollate(aug),
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers else None,
        drop_last=True,
    )
    it = iter(loader)
    next(it)  # start-up (worker spawn) is not throughput
    seen, t0 = 0, time.perf_counter()
    while seen < batches * batch:
        try:
            next(it)
        except StopIteration:
            it = iter(loader)
            continue
        seen += batch
    return seen / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--backends", nargs="+", default=["fast_slic", "skimage"])
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--batches", type=int, default=12)
    p.add_argument("--size", type=int, default=224)
    args = p.parse_args(argv)
    images, masks, _ = real_batch(8, args.size)
    x = images.permute(0, 2, 3, 1).numpy().astype(np.float32)
    y = torch.nn.functional.one_hot(masks, 2).permute(0, 3, 1, 2).float().numpy()
    # After a warm-up call (imports, first-call caches), as the loaders get theirs.
    reference = 8000 / time_ms(lambda s: reference_batch(x, y, seed=s), torch.device("cpu"), 3)
    rows = []
    for backend in args.backends:
        for workers in args.workers:
            ips = loader_images_per_s(backend, workers, args.batch_size, args.batches, args.size)
            rows.append(
                {
                    "date": date.today().isoformat(),
                    "cpu": device_name(torch.device("cpu")),
                    "backend": backend,
                    "workers": workers,
                    "batch": args.batch_size,
                    "size": args.size,
                    "images_per_s": ips,
                    "reference_images_per_s": reference,
                    "speedup_vs_reference": ips / reference,
                }
            )
    print(f"\nDataLoader + HSMixCollate, input images/s, {date.today()}")
    print_table(rows, list(rows[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
