"""Overhead of HSMix in nnU-Net's training step: ``train_step`` of ``nnUNetTrainer`` and of
``nnUNetTrainerHSMix`` on the same batches, same run, interleaved.

Both trainers are built from the same plan (same network, batch size and loss set-up) and
step on the same batches from nnU-Net's loader. Reported: median ms per step of each, the
ratio, and HSMix's own time (``hsmix_batch``) as a share of the plain step.

Without ``--dataset`` a tiny data set is written and planned in a temporary folder: Kvasir-SEG
(2d) or MSD hippocampus crops (3d_fullres) from ../shared/data, else the built-in samples
and phantom volumes. With ``--dataset`` the nnU-Net environment variables must point at a
planned and preprocessed data set of your own.

    python benchmarks/nnunet_overhead.py --configuration 2d --steps 10
    python benchmarks/nnunet_overhead.py --configuration 3d_fullres --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    DATA,
    device_name,
    pick_device,
    print_table,
    real_batch,
    write_csv,
)
from hsmix_torch.data import load_volume_folder, sample_volumes  # noqa: E402

IGNORE = 2  # the 2-D set marks a band of each image "ignore"
SETS = {  # nnU-Net id, folder, labels, channels, file ending
    "2d": (991, "Dataset991_HSMix2D", {"background": 0, "polyp": 1, "ignore": IGNORE},
           {"0": "R", "1": "G", "2": "B"}, ".png"),
    "3d_fullres": (992, "Dataset992_HSMix3D", {"background": 0, "anterior": 1, "posterior": 2},
                   {"0": "MRI"}, ".nii.gz"),
}  # fmt: skip


def cases_2d(count: int = 5, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """``count`` RGB ``[N, size, size, 3]`` uint8 images and label maps (a top band of 4 rows
    "ignore"): Kvasir-SEG, or the built-in samples (``common.real_batch``)."""
    images, masks, _ = real_batch(count, size)
    pixels = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    labels = masks.to(torch.uint8)
    labels[:, :4] = IGNORE
    return pixels.permute(0, 2, 3, 1).numpy(), labels.numpy()


def cases_3d(count: int = 5, crop: tuple[int, int, int] = (20, 28, 20)):
    """``count`` grey volumes and label maps: centre crops of MSD hippocampus MRI (nnU-Net
    plans small patches from them), or the built-in phantoms."""
    if not (DATA / "MSD_Hippocampus").is_dir():
        volumes, labels = sample_volumes(crop, count=count)
        return list(volumes[:, 0].numpy()), list(labels.numpy())
    volumes, labels, _, _ = load_volume_folder(DATA / "MSD_Hippocampus", limit=count)
    out_v, out_l = [], []
    for v, lab in zip(volumes, labels, strict=True):
        box = tuple(slice((s - c) // 2, (s - c) // 2 + c) for s, c in
                    zip(lab.shape, crop, strict=True))  # fmt: skip
        out_v.append(v[0][box].numpy())
        out_l.append(lab[box].numpy())
    return out_v, out_l


def write_dataset(raw: Path, configuration: str) -> int:
    """Write the tiny set for ``configuration`` in nnU-Net's raw layout; returns its id."""
    from PIL import Image

    dataset_id, name, labels, channels, ending = SETS[configuration]
    images, targets = cases_2d() if configuration == "2d" else cases_3d()
    folder = raw / name
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    for i, (image, label) in enumerate(zip(images, targets, strict=True)):
        image_file = folder / "imagesTr" / f"case_{i:03d}_0000{ending}"
        label_file = folder / "labelsTr" / f"case_{i:03d}{ending}"
        if ending == ".png":
            Image.fromarray(image).save(image_file)
            Image.fromarray(label).save(label_file)
        else:
            import SimpleITK as sitk

            sitk.WriteImage(sitk.GetImageFromArray(image.astype(np.float32)), str(image_file))
            sitk.WriteImage(sitk.GetImageFromArray(label.astype(np.uint8)), str(label_file))
    description = {"channel_names": channels, "labels": labels, "numTraining": len(images),
                   "file_ending": ending}  # fmt: skip
    (folder / "dataset.json").write_text(json.dumps(description))
    return dataset_id


def plan(root: Path, configurations: tuple[str, ...]) -> dict[str, int]:
    """Point nnU-Net at ``root`` (raw, preprocessed, results), write the tiny sets, plan and
    preprocess them with nnU-Net's API; returns ``{configuration: dataset id}``."""
    os.environ |= {
        "nnUNet_raw": str(root / "raw"),
        "nnUNet_preprocessed": str(root / "preprocessed"),
        "nnUNet_results": str(root / "results"),
        "nnUNet_n_proc_DA": "1",  # planning needs >= 1
        "nnUNet_compile": "false",
    }
    from nnunetv2.experiment_planning.plan_and_preprocess_api import (
        extract_fingerprints,
        plan_experiments,
        preprocess,
    )

    ids = {c: write_dataset(root / "raw", c) for c in configurations}
    extract_fingerprints(list(ids.values()), num_processes=1, verbose=False,
                         show_progress_bar=False)  # fmt: skip
    plan_experiments(list(ids.values()))
    for configuration, dataset_id in ids.items():
        preprocess([dataset_id], configurations=(configuration,), num_processes=(1,),
                   show_progress_bar=False)  # fmt: skip
    os.environ["nnUNet_n_proc_DA"] = "0"  # noqa: SIM112 (training without worker processes)
    return ids


def _trainer(dataset: str, configuration: str, name: str, device: torch.device):
    from nnunetv2.run.run_training import get_trainer_from_args

    trainer = get_trainer_from_args(dataset, configuration, "all", name, device=device)
    trainer.on_train_start()  # network, optimiser, loss, dataloaders
    return trainer


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--configuration", default="2d", choices=tuple(SETS))
    p.add_argument("--dataset", help="a planned nnU-Net data set (default: a tiny one, here)")
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=10, help="timed steps of each trainer")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = p.parse_args(argv)
    device = pick_device(args.device)
    from hsmix_torch.nnunet import TRAINER_FOLDER

    os.environ |= {"nnUNet_extTrainer": str(TRAINER_FOLDER)}
    with tempfile.TemporaryDirectory() as tmp:
        if args.dataset is None:
            dataset = str(plan(Path(tmp), (args.configuration,))[args.configuration])
        else:
            dataset = args.dataset
        plain = _trainer(dataset, args.configuration, "nnUNetTrainer", device)
        mixing = _trainer(dataset, args.configuration, "nnUNetTrainerHSMix", device)
        batches = [next(plain.dataloader_train) for _ in range(args.steps + 1)]

        def timed(fn, batch) -> float:
            """Wall time of ``fn(batch)`` in ms, the device synchronised around it."""
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t0 = time.perf_counter()
            fn(batch)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return (time.perf_counter() - t0) * 1000

        times: dict[str, list[float]] = {"plain": [], "hsmix": [], "mix_only": []}
        for i, batch in enumerate(batches):  # interleaved; the first round warms up
            step = {
                "plain": timed(plain.train_step, batch),
                "hsmix": timed(mixing.train_step, batch),
                "mix_only": timed(lambda b: mixing.hsmix_batch(b["data"], b["target"]), batch),
            }
            if i:
                for key, value in step.items():
                    times[key].append(value)
        for trainer in (plain, mixing):
            trainer.on_train_end()
    med = {k: statistics.median(v) for k, v in times.items()}
    row = {
        "date": date.today().isoformat(),
        "device": device_name(device),
        "configuration": args.configuration,
        "batch": int(batches[0]["data"].shape[0]),
        "patch": "x".join(str(s) for s in batches[0]["data"].shape[2:]),
        "plain_ms": med["plain"],
        "hsmix_ms": med["hsmix"],
        "ratio": med["hsmix"] / med["plain"],
        "mix_ms": med["mix_only"],
        "mix_share_pct": 100 * med["mix_only"] / med["plain"],
        "steps": args.steps,
    }
    print_table([row], list(row))
    path = args.out / f"nnunet_overhead_{args.configuration}.csv"
    write_csv(path, [row])
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
