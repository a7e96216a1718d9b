"""Every benchmark script runs end to end in a tiny setting, so none can rot.

The scripts run as a user runs them (``python benchmarks/<script>.py ...``), in a
subprocess: the tests import nothing from ``benchmarks``.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import DATA

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=900,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout


def _run_code(code: str) -> None:
    """Run ``code`` (which imports from ``benchmarks``) in a subprocess; it must print ok."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env
    )
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def _rows(path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_paired_ms_alternates_the_functions() -> None:
    code = (
        "import torch\n"
        "from benchmarks.common import paired_ms\n"
        "calls = []\n"
        "cpu = torch.device('cpu')\n"
        "fns = [(lambda s: calls.append(('a', s)), cpu), (lambda s: calls.append(('b', s)), cpu)]\n"
        "times = paired_ms(fns, rounds=3, warmup=1)\n"
        "assert [len(t) for t in times] == [3, 3] and all(t >= 0 for t in times[0] + times[1])\n"
        "expect = [('a', 10_000), ('b', 10_000)] + [(k, i) for i in range(3) for k in 'ab']\n"
        "assert calls == expect, calls\n"
        "print('ok')\n"
    )
    _run_code(code)


def test_bench_hsmix(tmp_path) -> None:
    backends = ["grid", "fast_slic"] if _has("fast_slic") else ["grid"]
    out = _run(
        "bench_hsmix.py",
        *("--batch-sizes", "2", "--channels", "rgb", "--backends", *backends),
        *("--repeats", "1", "--reference-images", "1", "--sizes", "64", "--out", str(tmp_path)),
    )
    rows = _rows(tmp_path / "bench_hsmix_cpu.csv")
    assert {r["backend"] for r in rows} == set(backends)
    assert all(float(r["speedup_vs_reference"]) > 0 for r in rows)
    assert (tmp_path / "bench_hsmix_cpu.png").stat().st_size > 0
    assert "speedup_vs_reference" in out


def test_bench_hsmix_volumes(tmp_path) -> None:
    _run(
        "bench_hsmix.py",
        *("--volumes", "--batch-sizes", "2", "--sizes", "16", "--backends", "grid", "skimage"),
        *("--repeats", "1", "--reference-images", "1", "--out", str(tmp_path)),
    )
    rows = _rows(tmp_path / "bench_hsmix_cpu_volumes.csv")
    assert {r["backend"] for r in rows} == {"grid", "skimage"}
    assert all(r["channels"] == "volume" and r["size"] == "16" for r in rows)
    assert all(float(r["speedup_vs_reference"]) > 0 for r in rows)


@pytest.mark.skipif(not DATA.is_dir(), reason="the volume tables are over MSD_Hippocampus")
def test_volume_quality_and_saliency_tables(tmp_path) -> None:
    _run(
        "superpixel_quality.py",
        *("--volumes", "--limit", "2", "--n-segments", "20", "--out", str(tmp_path)),
    )
    (row,) = _rows(tmp_path / "supervoxel_quality.csv")
    assert row["volumes"] == "2" and float(row["fragmented_max"]) == 0
    out = _run("volume_saliency.py", "--limit", "2", "--repeats", "1", "--out", str(tmp_path))
    assert {r["map"] for r in _rows(tmp_path / "volume_saliency.csv")} == {
        "fine_grained",
        "spectral_residual",
        "spectral_residual_3d",
    }
    assert "saliency='auto' takes" in out


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_bench_superpixels(tmp_path) -> None:
    _run(
        "bench_superpixels.py",
        *("--batch-sizes", "2", "--sizes", "48", "--repeats", "1", "--n-segments", "10"),
        *("--out", str(tmp_path)),
    )
    backends = {r["backend"] for r in _rows(tmp_path / "bench_superpixels_cpu.csv")}
    assert backends >= {"torch", "skimage"}


def test_step_overhead() -> None:
    out = _run(
        "step_overhead.py", "--batch-size", "2", "--size", "32", "--repeats", "1", "--cuda-graph"
    )
    assert "hsmix_overhead_pct" in out


def test_bench_loader() -> None:
    out = _run(
        "bench_loader.py",
        *("--backends", "grid", "--workers", "0", "--batch-size", "2", "--batches", "2"),
        *("--size", "32"),
    )
    assert "images_per_s" in out


def test_launch_count() -> None:
    out = _run("launch_count.py", "--device", "cpu", "--batch-size", "2", "--size", "32")
    assert "Launches per HSMix forward" in out and "forward" in out


@pytest.mark.skipif(not DATA.is_dir(), reason="the quality table is over ../shared/data's sets")
def test_superpixel_quality(tmp_path) -> None:
    _run("superpixel_quality.py", "--limit", "2", "--n-segments", "20", "--out", str(tmp_path))
    rows = _rows(tmp_path / "superpixel_quality.csv")
    assert {r["backend"] for r in rows} >= {"skimage", "torch"}
    assert len({r["set"] for r in rows}) == 5


def test_train_segmentation_quick_paired_and_resumable(tmp_path) -> None:
    """Quick mode end to end on two tiny configurations (RGB and grey built-in sets), then a
    rerun that resumes: it trains nothing and reports the same rows."""
    args = ["--quick", "--datasets", "builtin-rgb", "builtin-grey", "--max-steps", "2"]
    out = _run("train_segmentation.py", *args, "--out", str(tmp_path))
    rows = _rows(tmp_path / "train_segmentation_quick.csv")
    methods = [
        "none",
        "none_2b",
        "cutmix",
        "mixup",
        "hsmix_hard",
        "hsmix_soft",
        "hsmix_either",
        "hsmix",
    ]
    expected = [
        (s, m, str(seed))
        for s in ("builtin-rgb", "builtin-grey")
        for seed in (0, 1)
        for m in methods
    ]
    assert [(r["set"], r["method"], r["seed"]) for r in rows] == expected
    assert all(0 <= float(r["dice"]) <= 1 and int(r["steps"]) == 2 for r in rows)
    assert "hsmix - none_2b" in out and "hsmix_soft - cutmix" in out
    assert (tmp_path / "train_segmentation_quick.png").stat().st_size > 0
    again = _run("train_segmentation.py", *args, "--out", str(tmp_path))
    assert _rows(tmp_path / "train_segmentation_quick.csv") == rows
    assert again.split("Held-out")[1] == out.split("Held-out")[1]
    # A CSV of the earlier, unpaired script is not appended to.
    old = tmp_path / "old"
    old.mkdir()
    (old / "train_segmentation_quick.csv").write_text("method,seed,dice\nnone,0,0.5\n")
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "train_segmentation.py"),
            *args,
            "--out",
            str(old),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert res.returncode != 0 and "written by another version" in res.stderr


def test_gpu_train_script_runs_its_preset_with_overrides(tmp_path) -> None:
    """benchmarks/gpu_train.sh (the short GPU preset), shrunk by its pass-through arguments."""
    tiny = ["--device", "cpu", "--datasets", "builtin-grey", "--seeds", "3"]
    tiny += ["--methods", "none", "hsmix", "--size", "32", "--width", "4", "--max-steps", "1"]
    tiny += ["--train-size", "8", "--test-size", "8"]  # 20 built-in samples, not 140
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable, "MPLBACKEND": "Agg"}
    res = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_train.sh"), *tiny],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    rows = _rows(tmp_path / "train_segmentation_gpu_short.csv")
    assert [(r["method"], r["seed"], r["epochs"], r["eval_every"]) for r in rows] == [
        ("none", "3", "100", "10"),
        ("hsmix", "3", "100", "10"),
    ]


def test_training_losses_on_hard_and_soft_targets() -> None:
    """The Dice terms of benchmarks/unet.py: the semimetric one equals the soft Dice on hard
    targets; on soft targets only the semimetric one is minimised at p = t."""
    code = (
        "import torch\n"
        "from benchmarks.unet import soft_dice_ce_loss as loss\n"
        "g = torch.Generator().manual_seed(0)\n"
        "logits = torch.randn(2, 2, 8, 8, generator=g)\n"
        "hard = torch.nn.functional.one_hot(torch.randint(0, 2, (2, 8, 8), generator=g), 2)\n"
        "hard = hard.permute(0, 3, 1, 2).float()\n"
        "assert torch.allclose(loss(logits, hard), loss(logits, hard, dice='semimetric'))\n"
        "t = torch.rand(2, 1, 8, 8, generator=g) * 0.6 + 0.2\n"
        "soft = torch.cat([1 - t, t], 1)\n"
        "def dice_only(z, dice):\n"
        "    return loss(z, soft, dice) - loss(z, soft, 'none')\n"
        "best = soft.log()  # logits whose softmax is the target\n"
        "for dice, minimal in (('semimetric', True), ('soft', False)):\n"
        "    at = dice_only(best, dice)\n"
        "    moved = [dice_only(best + 0.05 * torch.randn(best.shape, generator=g), dice)\n"
        "             for _ in range(20)]\n"
        "    assert all(m >= at - 1e-6 for m in moved) == minimal, dice\n"
        "print('ok')\n"
    )
    _run_code(code)
