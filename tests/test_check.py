"""``hsmix-torch check``: on the CPU (what CI has) every Triton stage runs in the interpreter
beside its torch reference and equals it; a stage that differs or fails makes the exit
status 1 and the report names the option that avoids its kernels. On a GPU the same
command compiles the kernels for it (``benchmarks/gpu_check.sh`` runs it first)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hsmix_torch import check
from hsmix_torch.kernels import triton_available

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
def test_check_passes_on_the_cpu_from_the_command_line() -> None:
    """As a user runs it: without TRITON_INTERPRET (the command sets it for the process
    that imports the kernels)."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    run = subprocess.run(
        [sys.executable, "-m", "hsmix_torch", "check", "--device", "cpu", "--repeats", "1"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    for line in ("torch:", "triton:", "gpu:", "forward, eager", "superpixels"):
        assert line in out
    stages = [line for line in out.splitlines() if "(first call" in line]
    assert len(stages) == 11
    assert all(" equal " in line or ", within " in line for line in stages), stages
    for name in ("SLIC k-means (volume)", "connectivity (images)", "fine-grained saliency",
                 "maps of a mix", "mix (one-hot masks)"):  # fmt: skip
        assert name in out
    assert "All Triton stages equal their torch references." in out


def test_a_stage_that_differs_is_reported_with_the_option_that_avoids_it(monkeypatch) -> None:
    ref = torch.arange(6.0)
    exact = check._stage("exact", lambda: ref, lambda: ref.clone(), 0.0, "kernels='torch'")
    off = check._stage("off by one ulp", lambda: ref, lambda: ref + 1e-6, 0.0, "kernels='torch'")
    within = check._stage("within", lambda: ref, lambda: ref + 1e-7, 1e-6, "x")

    def broken() -> torch.Tensor:
        raise RuntimeError("no kernel image for this GPU")

    failed = check._stage("failing", lambda: ref, broken, 0.0, 'saliency=get_saliency("x")')
    assert exact.ok and exact.difference == 0 and within.ok
    assert not off.ok and off.difference > 0
    assert not failed.ok and "no kernel image" in failed.error
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # as on the CPU (a GPU machine has it unset)
    monkeypatch.setattr(check, "compare_stages", lambda *a: [exact, off, failed])
    monkeypatch.setattr(check, "time_forward", lambda *a: {"forward, eager": 1.0})
    lines: list[str] = []
    status = check.run_check("cpu", repeats=1, write=lines.append)
    report = "\n".join(lines)
    assert status == 1
    assert "2 stage(s) differ: off by one ulp, failing" in report
    assert "FAILED: RuntimeError: no kernel image" in report
    assert "HSMix(kernels='torch', saliency=get_saliency(\"x\"))" in report


def test_bad_devices_are_refused() -> None:
    from hsmix_torch.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["check", "--device", "meta"])
    assert exit_.value.code == 2
    with pytest.raises(ValueError, match="CUDA device or the CPU"):
        check.run_check("meta", write=lambda _: None)
