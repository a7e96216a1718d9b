"""Every benchmark script runs end to end in a tiny setting, so none can rot."""

from __future__ import annotations

import csv

import pytest
import torch

from benchmarks import (
    bench_hsmix,
    bench_loader,
    bench_superpixels,
    step_overhead,
    superpixel_quality,
    train_segmentation,
)
from benchmarks.common import paired_ms

from ..conftest import DATA


def _rows(path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_paired_ms_alternates_the_functions() -> None:
    calls: list[tuple[str, int]] = []
    cpu = torch.device("cpu")
    fns = [(lambda s: calls.append(("a", s)), cpu), (lambda s: calls.append(("b", s)), cpu)]
    times = paired_ms(fns, rounds=3, warmup=1)
    assert [len(t) for t in times] == [3, 3] and all(t >= 0 for t in times[0] + times[1])
    assert calls == [("a", 10_000), ("b", 10_000)] + [(k, i) for i in range(3) for k in "ab"]


def test_bench_hsmix(tmp_path, capsys) -> None:
    argv = [
        "--batch-sizes",
        "2",
        "--channels",
        "rgb",
        "--backends",
        "grid",
        "fast_slic",
        "--repeats",
        "1",
        "--reference-images",
        "1",
        "--sizes",
        "64",
        "--out",
        str(tmp_path),
    ]
    assert bench_hsmix.main(argv) == 0
    rows = _rows(tmp_path / "bench_hsmix_cpu.csv")
    assert {r["backend"] for r in rows} == {"grid", "fast_slic"}
    assert all(float(r["speedup_vs_reference"]) > 0 for r in rows)
    assert (tmp_path / "bench_hsmix_cpu.png").stat().st_size > 0
    assert "speedup_vs_reference" in capsys.readouterr().out


def test_bench_superpixels(tmp_path) -> None:
    argv = [
        "--batch-sizes",
        "2",
        "--sizes",
        "48",
        "--repeats",
        "1",
        "--n-segments",
        "10",
        "--out",
        str(tmp_path),
    ]
    assert bench_superpixels.main(argv) == 0
    assert {r["backend"] for r in _rows(tmp_path / "bench_superpixels_cpu.csv")} >= {
        "torch",
        "skimage",
    }


def test_step_overhead(capsys) -> None:
    assert step_overhead.main(["--batch-size", "2", "--size", "32", "--repeats", "1"]) == 0
    assert "hsmix_overhead_pct" in capsys.readouterr().out


def test_bench_loader(capsys) -> None:
    argv = [
        "--backends",
        "grid",
        "--workers",
        "0",
        "--batch-size",
        "2",
        "--batches",
        "2",
        "--size",
        "32",
    ]
    assert bench_loader.main(argv) == 0
    assert "images_per_s" in capsys.readouterr().out


@pytest.mark.skipif(not DATA.is_dir(), reason="needs ../shared/data")
def test_superpixel_quality(tmp_path) -> None:
    argv = ["--limit", "2", "--n-segments", "20", "--out", str(tmp_path)]
    assert superpixel_quality.main(argv) == 0
    rows = _rows(tmp_path / "superpixel_quality.csv")
    assert {r["backend"] for r in rows} >= {"skimage", "torch"} and len(
        {r["set"] for r in rows}
    ) == 5


def test_train_segmentation_tiny(tmp_path) -> None:
    argv = ["--quick", "--max-steps", "2", "--seeds", "0", "--out", str(tmp_path)]
    assert train_segmentation.main(argv) == 0
    rows = _rows(tmp_path / "train_segmentation_quick.csv")
    assert [r["method"] for r in rows] == list(train_segmentation.METHODS)
    assert all(0 <= float(r["dice"]) <= 1 and int(r["steps"]) == 2 for r in rows)
    assert (tmp_path / "train_segmentation_quick.png").stat().st_size > 0
