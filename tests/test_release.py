"""The release a user installs: ``python -m build`` makes an sdist and, from it, a wheel that
pass ``twine check``; the wheel ships ``py.typed`` and, installed in a fresh virtual
environment, runs the demo from there (not from this checkout).

The fresh environment borrows the dependencies (torch, scikit-image, matplotlib) of the
running one through a path file, so the test needs no network and no second torch: only
hsmix_torch comes from the wheel."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, f"{args}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.timeout(300)
def test_wheel_installs_in_a_fresh_environment_and_runs_the_demo(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    # --no-isolation: the build backend of this environment (no download); the sdist is
    # built first and the wheel from it, so a file left out of the sdist fails here.
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT, cwd=tmp_path)
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in dist.iterdir())
    _run(sys.executable, "-m", "twine", "check", "--strict", *wheels, *sdists, cwd=tmp_path)
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "hsmix_torch/py.typed" in names and "hsmix_torch/kernels/union_find.py" in names

    env = tmp_path / "env"
    venv.create(env, with_pip=False)
    python = env / "bin" / "python"
    site = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=env
        ).strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
         "--no-index", wheels[0], cwd=tmp_path)  # fmt: skip

    work = tmp_path / "work"
    work.mkdir()
    where = _run(python, "-c", "import hsmix_torch; print(hsmix_torch.__file__)", cwd=work)
    assert Path(where.strip()).is_relative_to(site), where
    out = _run(python, "-m", "hsmix_torch", "demo", "--out", "demo.png", cwd=work)
    assert "demo.png" in out and (work / "demo.png").stat().st_size > 10_000
    assert (env / "bin" / "hsmix-torch").exists()  # the console script
