"""Superpixel quality of every backend against scikit-image, on every image of ../shared/data.

Per data set and n_segments: ASA, boundary recall (2 px), undersegmentation error,
fragmented labels and achieved segment count, as means over the images, for scikit-image
(the reference), the torch backend and fast-slic; then the differences to scikit-image
(points for ASA/BR, ratio for UE). Images are resized (shorter side) and centre-cropped to
224x224. Compactness 10 for RGB and 0.1 for grey (scikit-image's meaning for both).

    python benchmarks/superpixel_quality.py                 # every image (several minutes)
    python benchmarks/superpixel_quality.py --limit 8       # 8 images per set
    python benchmarks/superpixel_quality.py --volumes       # supervoxels, MSD hippocampus

``--volumes``: the torch 3-D SLIC against scikit-image's 3-D slic on every MSD hippocampus
MRI crop (normalised per case, its own spacing), compactness 0.1, n in {50, 100, 200}:
means over the cases, the worst case, and how many cases meet the goals (ASA and boundary
recall within 1 point, UE within 1.1 times, no fragmented supervoxel: 6-connectivity).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DATA, OUT, print_table, write_csv  # noqa: E402
from hsmix_torch.data import load_image_folder, load_volume_folder  # noqa: E402
from hsmix_torch.metrics import average_quality, superpixel_quality  # noqa: E402
from hsmix_torch.superpixels import available_backends, get_backend  # noqa: E402

SETS = {"Kvasir_SEG": 10.0, "DRIVE": 10.0, "CHASE_DB1": 10.0, "BUSI": 0.1, "ISBI2012_EM": 0.1}


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--n-segments", type=int, nargs="+", default=[50, 150, 300])
    p.add_argument("--limit", type=int, default=None, help="images per set (default: all)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--volumes", action="store_true", help="supervoxels of MSD hippocampus")
    args = p.parse_args(argv)
    if not DATA.is_dir():
        print(f"no data at {DATA}")
        return 1
    if args.volumes:
        return volumes(args)
    backends = ["skimage", "torch"] + (["fast_slic"] if "fast_slic" in available_backends() else [])
    rows = []
    for name, m in SETS.items():
        images, masks, _ = load_image_folder(DATA / name, size=224, limit=args.limit)
        for n in args.n_segments:
            scores: dict[str, list] = {b: [] for b in backends}
            for backend in backends:
                bk = get_backend(backend, compactness=m)
                for start in tqdm(
                    range(0, len(images), args.batch), desc=f"{name} n={n} {backend}", leave=False
                ):
                    x = images[start : start + args.batch].float() / 255
                    labels = bk(x, torch.full((len(x),), n))
                    scores[backend] += [
                        superpixel_quality(lab, masks[start + i]) for i, lab in enumerate(labels)
                    ]
            ref = average_quality(scores["skimage"])
            for backend in backends:
                mean = average_quality(scores[backend])
                rows.append(
                    {
                        "set": name,
                        "images": len(images),
                        "n": n,
                        "compactness": m,
                        "backend": backend,
                        **mean,
                        "segments_per_requested": mean["n_segments"] / n,
                        "d_asa_points": 100 * (mean["asa"] - ref["asa"]),
                        "d_br_points": 100 * (mean["boundary_recall"] - ref["boundary_recall"]),
                        "ue_ratio": mean["undersegmentation_error"]
                        / ref["undersegmentation_error"],
                    }
                )
    print(f"\nSuperpixel quality against scikit-image, 224x224, {date.today()}")
    print_table(
        rows,
        [
            "set",
            "images",
            "n",
            "backend",
            "asa",
            "boundary_recall",
            "undersegmentation_error",
            "fragmented",
            "segments_per_requested",
            "d_asa_points",
            "d_br_points",
            "ue_ratio",
        ],
    )
    write_csv(args.out / "superpixel_quality.csv", rows)
    for backend in backends[1:]:
        sel = [r for r in rows if r["backend"] == backend]
        print(
            f"{backend}: worst d_asa {min(r['d_asa_points'] for r in sel):+.2f} pt, worst d_br "
            f"{min(r['d_br_points'] for r in sel):+.2f} pt, worst UE ratio "
            f"{max(r['ue_ratio'] for r in sel):.3f}, "
            f"fragmented max {max(r['fragmented'] for r in sel):.3f}"
        )
    return 0


def volumes(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    images, labels, spacings, _ = load_volume_folder(DATA / "MSD_Hippocampus", limit=args.limit)
    backends = {b: get_backend(b, compactness=0.1) for b in ("skimage", "torch")}
    n_values = args.n_segments if args.n_segments != [50, 150, 300] else [50, 100, 200]
    rows = []
    for n in n_values:
        scores: dict[str, list] = {b: [] for b in backends}
        for x, y, sp in tqdm(list(zip(images, labels, spacings, strict=True)), desc=f"n={n}"):
            for name, backend in backends.items():
                scores[name].append(superpixel_quality(backend(x[None], n, spacing=sp)[0], y))
        ours, ref = scores["torch"], scores["skimage"]
        d_asa = [100 * (a.asa - b.asa) for a, b in zip(ours, ref, strict=True)]
        d_br = [
            100 * (a.boundary_recall - b.boundary_recall) for a, b in zip(ours, ref, strict=True)
        ]
        ue = [
            a.undersegmentation_error / b.undersegmentation_error
            for a, b in zip(ours, ref, strict=True)
        ]
        met = sum(
            a >= -1 and r >= -1 and u <= 1.1 and q.fragmented == 0
            for a, r, u, q in zip(d_asa, d_br, ue, ours, strict=True)
        )
        mo, mr = average_quality(ours), average_quality(ref)
        rows.append(
            {
                "set": "MSD_Hippocampus",
                "volumes": len(images),
                "n": n,
                "asa_skimage": mr["asa"],
                "asa_torch": mo["asa"],
                "br_skimage": mr["boundary_recall"],
                "br_torch": mo["boundary_recall"],
                "ue_skimage": mr["undersegmentation_error"],
                "ue_torch": mo["undersegmentation_error"],
                "d_asa_points": mo["asa"] * 100 - mr["asa"] * 100,
                "d_br_points": mo["boundary_recall"] * 100 - mr["boundary_recall"] * 100,
                "ue_ratio": mo["undersegmentation_error"] / mr["undersegmentation_error"],
                "worst_d_asa": min(d_asa),
                "worst_d_br": min(d_br),
                "worst_ue_ratio": max(ue),
                "fragmented_max": max(q.fragmented for q in ours),
                "cases_meeting_goals": met,
                "segments_torch": mo["n_segments"],
                "segments_skimage": mr["n_segments"],
            }
        )
    print(f"\nSupervoxel quality against scikit-image 3-D slic, MSD hippocampus, {date.today()}")
    print_table(rows, list(rows[0]))
    write_csv(args.out / "supervoxel_quality.csv", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
