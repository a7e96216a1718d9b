"""The demo command writes a picture of a mixed batch of the built-in samples."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch

from hsmix_torch.cli import main
from hsmix_torch.data import sample_batch


def test_sample_batch() -> None:
    images, masks = sample_batch(96)
    assert images.shape == (4, 3, 96, 96) and images.dtype == torch.float32
    assert masks.shape == (4, 96, 96) and set(masks.unique().tolist()) == {0, 1}
    assert images.min() >= 0 and images.max() <= 1
    fractions = masks.float().mean((1, 2))
    assert ((fractions > 0.01) & (fractions < 0.5)).all()


def test_demo_writes_png(tmp_path, capsys) -> None:
    from PIL import Image

    out = tmp_path / "demo.png"
    assert main(["demo", "--out", str(out), "--size", "96", "--backend", "skimage"]) == 0
    assert "wrote" in capsys.readouterr().out
    picture = np.array(Image.open(out))
    assert picture.ndim == 3 and picture.shape[0] > 300 and picture.shape[1] > 1000
    assert picture[..., :3].std() > 20  # not a blank canvas


def test_module_entry_point(tmp_path) -> None:
    out = tmp_path / "demo.png"
    cmd = [
        sys.executable,
        "-m",
        "hsmix_torch",
        "demo",
        "--out",
        str(out),
        "--size",
        "64",
        "--backend",
        "grid",
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    assert out.stat().st_size > 10_000


def test_bad_arguments_get_argparse_messages(capsys, monkeypatch) -> None:
    import pytest

    from hsmix_torch import cli

    for argv, message in [
        (["demo", "--size", "0"], "expected a positive integer"),
        (["demo", "--p-hard", "2"], "expected a number in [0, 1]"),
        (["demo", "--n-segments", "80", "30"], "MIN must be <= MAX"),
        (["demo", "--backend", "felzenszwalb"], "invalid choice"),
        (["nope"], "invalid choice"),
    ]:
        with pytest.raises(SystemExit) as err:
            main(argv)
        assert err.value.code == 2
        assert message in capsys.readouterr().err
    real_find_spec = cli.importlib.util.find_spec
    monkeypatch.setattr(
        cli.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real_find_spec(name, *a),
    )
    with pytest.raises(SystemExit) as err:
        main(["demo"])
    assert err.value.code == 2
    assert 'needs matplotlib: pip install -e ".[viz]"' in capsys.readouterr().err


def test_help_describes_every_option() -> None:
    from hsmix_torch.cli import _parser

    demo = next(
        a
        for a in _parser()._subparsers._group_actions[0].choices.values()
        if a.prog.endswith("demo")
    )
    for action in demo._actions:
        assert action.help, action.dest


def test_sample_volumes() -> None:
    from hsmix_torch.data import sample_volumes

    images, masks = sample_volumes((20, 24, 28), count=3)
    assert images.shape == (3, 1, 20, 24, 28) and masks.shape == (3, 20, 24, 28)
    assert images.min() >= 0 and images.max() <= 1 and set(masks.unique().tolist()) == {0, 1, 2}
    assert not torch.equal(images[0], images[1])  # samples differ
    again = sample_volumes((20, 24, 28), count=3)
    assert torch.equal(again[0], images) and torch.equal(again[1], masks)


def test_volume_demo_writes_png(tmp_path, capsys) -> None:
    """The built-in phantoms; and a shared folder of MRI volumes when ../shared is there."""
    import pytest
    from PIL import Image

    from .conftest import DATA

    sources = [[]] + ([[str(DATA / "MSD_Hippocampus")]] if DATA.is_dir() else [])
    for source in sources:
        out = tmp_path / "volume.png"
        argv = ["demo", "--volume", *source, "--out", str(out), "--size", "24"]
        assert main([*argv, "--backend", "torch", "--n-segments", "20", "40"]) == 0
        assert "wrote" in capsys.readouterr().out
        picture = np.array(Image.open(out))
        assert picture.shape[0] > 1000 and picture[..., :3].std() > 20  # 2 samples x 3 planes
    with pytest.raises(SystemExit) as err:
        main(["demo", "--volume", str(tmp_path / "missing")])
    assert err.value.code == 2 and "not a folder" in capsys.readouterr().err


def test_nnunet_trainers_prints_the_folder_nnunet_searches(capsys, monkeypatch) -> None:
    import importlib.util

    import pytest

    from hsmix_torch import cli

    if importlib.util.find_spec("nnunetv2") is None:
        with pytest.raises(SystemExit) as exit_info:
            main(["nnunet-trainers"])
        assert exit_info.value.code == 2 and "nnunetv2" in capsys.readouterr().err
        return
    assert main(["nnunet-trainers"]) == 0
    folder = capsys.readouterr().out.strip()
    from hsmix_torch.nnunet import TRAINER_FOLDER

    assert folder == str(TRAINER_FOLDER)
    module = (TRAINER_FOLDER / "hsmix_trainers.py").read_text()
    assert all(name in module for name in ("nnUNetTrainerHSMix", "nnUNetTrainerHSMixHard"))
    # Without nnU-Net the command says what to install.
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SystemExit) as exit_info:
        main(["nnunet-trainers"])
    assert exit_info.value.code == 2 and "[nnunet]" in capsys.readouterr().err
