"""Which saliency map for volumes: the OpenCV maps slice by slice against the 3-D spectral
residual, on every MSD hippocampus MRI crop (normalised per case).

Per map: how coherent it is across slices (the mean absolute change between neighbouring
slices over that between neighbouring rows: about 1 for a map as coherent along D as within
a slice; a per-slice map is normalised slice by slice, so its region sums, and with them the
soft weights L, jump between slices), how it relates to the labelled anatomy (the ROC AUC
of the saliency as a score for "voxel inside the hippocampus", mean and worst over the
cases; 0.5: unrelated), and its cost (median ms per volume, ``--device``). Rows are ranked
by coherence; ``saliency="auto"`` takes, for volumes, the map ranked first
(``hsmix_torch.saliency.VOLUME_DEFAULT``).

    python benchmarks/volume_saliency.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    DATA,
    OUT,
    device_name,
    pick_device,
    print_table,
    time_ms,
    write_csv,
)
from hsmix_torch.data import load_volume_folder  # noqa: E402
from hsmix_torch.saliency import VOLUME_DEFAULT, get_saliency  # noqa: E402

MAPS = ("fine_grained", "spectral_residual", "spectral_residual_3d")


def roc_auc(score: torch.Tensor, positive: torch.Tensor) -> float:
    """The probability that a random positive voxel scores above a random negative one
    (ties count half): the Mann-Whitney statistic."""
    s = score.flatten().double()
    pos = positive.flatten()
    order = torch.argsort(s)
    ranks = torch.empty_like(s)
    ranks[order] = torch.arange(1, s.numel() + 1, dtype=torch.float64)
    # Average ranks of ties.
    _, inverse, counts = torch.unique(s, return_inverse=True, return_counts=True)
    rank_sum = torch.zeros(len(counts), dtype=torch.float64).index_add_(0, inverse, ranks)
    ranks = (rank_sum / counts)[inverse]
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def slice_change(sal: torch.Tensor) -> float:
    """Mean |change| between neighbouring slices over that between neighbouring rows."""
    along_d = (sal[1:] - sal[:-1]).abs().mean()
    along_h = (sal[:, 1:] - sal[:, :-1]).abs().mean()
    return float(along_d / along_h.clamp(min=1e-12))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--limit", type=int, default=None, help="cases (default: all 40)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    root = DATA / "MSD_Hippocampus"
    if not root.is_dir():
        print(f"no data at {root}")
        return 1
    device = pick_device(args.device)
    images, labels, _, _ = load_volume_folder(root, limit=args.limit)
    rows = []
    for name in MAPS:
        fn = get_saliency(name)
        aucs, changes, times = [], [], []
        for x, y in zip(images, labels, strict=True):
            x = x[None].to(device)
            sal = fn(x)[0, 0].cpu()
            aucs.append(roc_auc(sal, y > 0))
            changes.append(slice_change(sal))
            times.append(time_ms(lambda s, x=x, fn=fn: fn(x), device, args.repeats))
        rows.append(
            {
                "map": name,
                "volumes": len(images),
                "slice_change": statistics.mean(changes),
                "auc_mean": statistics.mean(aucs),
                "auc_worst": min(aucs),
                "ms_per_volume": statistics.median(times),
            }
        )
    rows.sort(key=lambda r: r["slice_change"])
    print(f"\nSaliency of volumes, MSD hippocampus, {device_name(device)}, {date.today()}")
    print_table(rows, list(rows[0]))
    write_csv(args.out / "volume_saliency.csv", rows)
    print(f"\nranked first: {rows[0]['map']}; saliency='auto' takes {VOLUME_DEFAULT} for volumes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
