"""Shared benchmark helpers: real-image batches, device timing with medians, tables, CSV."""

from __future__ import annotations

import csv
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor

from hsmix_torch.data import load_image_folder, load_volume_folder, sample_batch, sample_volumes

# HSMIX_DATA points elsewhere, e.g. at a copy carried to a GPU machine.
DATA = Path(
    os.environ.get("HSMIX_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)
OUT = Path(__file__).resolve().parent / "out"


def pick_device(name: str) -> torch.device:
    """``"auto"``: CUDA when available, else the CPU; any other name as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU model, for the results table."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({torch.get_num_threads()} threads)"
    except OSError:
        pass
    return platform.processor() or "cpu"


def real_batch(batch_size: int, size: int, grey: bool = False) -> tuple[Tensor, Tensor, str]:
    """``batch_size`` real images (Kvasir-SEG RGB or BUSI grey, repeated if needed) as float
    [0, 1] with int64 masks; the built-in samples when ../shared/data is absent."""
    name = "BUSI" if grey else "Kvasir_SEG"
    if (DATA / name).is_dir():
        images, masks, _ = load_image_folder(DATA / name, size=size, limit=min(batch_size, 64))
        images = images.float() / 255
        source = name
    else:
        images, masks = sample_batch(size, count=min(batch_size, 64), channels=1 if grey else 3)
        source = "built-in samples"
    reps = -(-batch_size // len(images))
    return images.repeat(reps, 1, 1, 1)[:batch_size], masks.repeat(reps, 1, 1)[:batch_size], source


def volume_batch(batch_size: int, size: int) -> tuple[Tensor, Tensor, str]:
    """``batch_size`` grey volumes ``[B, 1, size, size, size]`` in [0, 1] with int64 labels:
    MSD hippocampus MRI crops (normalised per case) resampled to ``size^3`` (trilinear, the
    labels nearest), or the built-in phantom volumes when ../shared/data is absent."""
    import torch.nn.functional as F

    root = DATA / "MSD_Hippocampus"
    if not root.is_dir():
        images, labels = sample_volumes(size, count=batch_size)
        return images, labels, "built-in phantoms"
    images, labels, _, _ = load_volume_folder(root, limit=batch_size)
    shape = (size, size, size)
    x = torch.cat([F.interpolate(v[None], shape, mode="trilinear") for v in images])
    y = torch.cat([F.interpolate(t[None, None].float(), shape, mode="nearest") for t in labels])
    reps = -(-batch_size // len(x))
    x, y = x.repeat(reps, 1, 1, 1, 1)[:batch_size], y.repeat(reps, 1, 1, 1, 1)[:batch_size]
    return x, y[:, 0].long(), f"MSD hippocampus resampled to {size}^3"


def _time_once(fn: Callable[[int], object], seed: int, device: torch.device) -> float:
    """Wall time of one ``fn(seed)`` in ms; CUDA events and synchronisation on the GPU."""
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        fn(seed)
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end)
    t0 = time.perf_counter()
    fn(seed)
    return (time.perf_counter() - t0) * 1000


def time_ms(
    fn: Callable[[int], object], device: torch.device, repeats: int, warmup: int = 1
) -> float:
    """Median wall time of ``fn(seed)`` in ms; CUDA events and synchronisation on the GPU.

    Each call gets a fresh seed, so timings do not reuse one draw."""
    for i in range(warmup):
        fn(10_000 + i)
    return statistics.median(_time_once(fn, i, device) for i in range(repeats))


def paired_ms(
    fns: Sequence[tuple[Callable[[int], object], torch.device]], rounds: int, warmup: int = 1
) -> list[list[float]]:
    """Times in ms of ``rounds`` rounds, each calling every ``fn(seed)`` once, in turn.

    Interleaving puts the functions under the same machine conditions in every round (a
    shared or throttled CPU drifts over seconds), so per-round ratios compare like with like.
    Returns one list of ``rounds`` times per function.
    """
    for i in range(warmup):
        for fn, _ in fns:
            fn(10_000 + i)
    times: list[list[float]] = [[] for _ in fns]
    for i in range(rounds):
        for k, (fn, device) in enumerate(fns):
            times[k].append(_time_once(fn, i, device))
    return times


def print_table(rows: Sequence[dict[str, object]], columns: Sequence[str]) -> None:
    """A plain-text table, numbers rounded for reading."""

    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}"
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def write_csv(path: Path, rows: Sequence[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
