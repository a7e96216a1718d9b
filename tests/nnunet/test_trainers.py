"""The nnU-Net trainers on real nnU-Net runs: a tiny data set written here
(``benchmarks/nnunet_overhead.py``: Kvasir-SEG and MSD hippocampus crops from ../shared/data
where present, else the built-in samples and phantom volumes), planned and preprocessed by
nnU-Net's API, trained for two short epochs with each trainer (2d and 3d_fullres) and
predicted; then the mixing itself, checked against HSMix on the same batch. The module runs
on one pytest-xdist worker (its data set is planned once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("nnunetv2", reason="the nnunet extra is not installed")

from benchmarks.nnunet_overhead import IGNORE, plan  # noqa: E402
from hsmix_torch.nnunet import OPTIONS_VARIABLE, TRAINER_FOLDER  # noqa: E402

pytestmark = pytest.mark.xdist_group("nnunet")
TRAINERS = ("nnUNetTrainerHSMix", "nnUNetTrainerHSMixHard", "nnUNetTrainerHSMix2B")


@pytest.fixture(scope="session")
def nnunet_env(tmp_path_factory: pytest.TempPathFactory):
    """nnU-Net's three folders with a 2-D set (991) and a 3-D set (992), planned and
    preprocessed by nnU-Net's API; the environment points nnU-Net at them and at the HSMix
    trainers, and is restored afterwards. Session scope: a pytest-xdist worker may run other
    modules' tests between these, and planning takes half a minute."""
    root = tmp_path_factory.mktemp("nnunet")
    saved = dict(os.environ)
    os.environ |= {
        "nnUNet_extTrainer": str(TRAINER_FOLDER),
        OPTIONS_VARIABLE: json.dumps({"n_segments": [4, 12], "p_hard": 0.5}),  # small patches
    }
    plan(root, ("2d", "3d_fullres"))
    yield root
    os.environ.clear()
    os.environ.update(saved)


def _trainer(dataset: int, configuration: str, name: str):
    from nnunetv2.run.run_training import get_trainer_from_args

    trainer = get_trainer_from_args(str(dataset), configuration, "all", name,
                                    device=torch.device("cpu"))  # fmt: skip
    trainer.num_epochs, trainer.num_iterations_per_epoch = 2, 1
    trainer.num_val_iterations_per_epoch = 1
    return trainer


@pytest.mark.parametrize("name", TRAINERS)
@pytest.mark.parametrize(("dataset", "configuration"), [(991, "2d"), (992, "3d_fullres")])
def test_each_trainer_trains_and_predicts(
    nnunet_env: Path, dataset: int, configuration: str, name: str
) -> None:
    from nnunetv2.imageio.reader_writer_registry import determine_reader_writer_from_dataset_json
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    trainer = _trainer(dataset, configuration, name)
    trainer.run_training()  # two epochs, each with nnU-Net's validation step
    losses = trainer.logger.local_logger.my_fantastic_logging["train_losses"]
    assert len(losses) == 2 and np.isfinite(losses).all()
    folder = Path(trainer.output_folder)
    assert (folder / "checkpoint_final.pth").is_file()
    log = next(folder.glob("training_log_*.txt")).read_text()
    assert "HSMix: HSMix(" in log and "n_segments=(4, 12)" in log
    # Inference is nnU-Net's: the trainer is found by name through nnUNet_extTrainer.
    predictor = nnUNetPredictor(device=torch.device("cpu"), use_mirroring=False,
                                perform_everything_on_device=False, allow_tqdm=False)  # fmt: skip
    predictor.initialize_from_trained_model_folder(str(Path(trainer.output_folder).parent),
                                                   use_folds=("all",))  # fmt: skip
    ending = trainer.dataset_json["file_ending"]
    image_file = nnunet_env / "raw" / trainer.plans_manager.dataset_name / "imagesTr"
    image_file = image_file / f"case_000_0000{ending}"
    io = determine_reader_writer_from_dataset_json(trainer.dataset_json, str(image_file))()
    image, properties = io.read_images([str(image_file)])
    predicted = predictor.predict_single_npy_array(image, properties)
    assert predicted.shape == image.shape[1:]
    assert set(np.unique(predicted)) <= set(range(trainer.label_manager.num_segmentation_heads))


def test_nnunetv2_predict_runs_with_the_trainer(nnunet_env: Path, tmp_path: Path) -> None:
    """The documented command line, in a fresh process (the trainer found by its name)."""
    trainer = _trainer(991, "2d", TRAINERS[0])
    if not (Path(trainer.output_folder) / "checkpoint_final.pth").is_file():
        trainer.run_training()
    raw = nnunet_env / "raw" / trainer.plans_manager.dataset_name / "imagesTr"
    command = [str(Path(sys.executable).parent / "nnUNetv2_predict"), "-i", str(raw),
               "-o", str(tmp_path), "-d", "991", "-c", "2d", "-f", "all", "-tr", TRAINERS[0],
               "-device", "cpu", "-npp", "1", "-nps", "1", "--disable_tta"]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, env=os.environ)
    assert len(list(tmp_path.glob("case_*.png"))) == 5


def _batch(trainer) -> dict:
    trainer.on_train_start()  # nnU-Net's dataloaders
    return next(trainer.dataloader_train)


def test_the_network_sees_hsmix_of_nnunets_batch_and_every_scale_the_same_mix(
    nnunet_env: Path,
) -> None:
    trainer = _trainer(991, "2d", "nnUNetTrainerHSMix")
    batch = _batch(trainer)
    seen = []
    trainer.network.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0]))
    trainer.hsmix_generator = torch.Generator().manual_seed(3)
    trainer.train_step(batch)
    g = torch.Generator().manual_seed(3)
    expected, expected_target = trainer.hsmix(batch["data"], batch["target"][0], generator=g)
    assert torch.equal(seen[0], expected)
    trainer.hsmix_generator = torch.Generator().manual_seed(3)
    data, targets = trainer.hsmix_batch(batch["data"], batch["target"])
    assert torch.equal(data, expected) and torch.equal(targets[0], expected_target)
    assert len(targets) == len(batch["target"]) > 1
    for scaled, given in zip(targets[1:], batch["target"][1:], strict=True):
        assert scaled.shape[2:] == given.shape[2:]  # nnU-Net's shapes
        area = torch.nn.functional.interpolate(expected_target, size=given.shape[2:], mode="area")
        assert torch.equal(scaled, area)
    trainer.on_train_end()


def test_the_hard_trainer_keeps_labels_and_resamples_them_as_nnunet_does(
    nnunet_env: Path,
) -> None:
    from batchgeneratorsv2.transforms.utils.deep_supervision_downsampling import (
        DownsampleSegForDSTransform,
    )

    trainer = _trainer(991, "2d", "nnUNetTrainerHSMixHard")
    batch = _batch(trainer)
    data, targets = trainer.hsmix_batch(batch["data"], batch["target"])
    assert data.shape == batch["data"].shape and targets[0].dtype == batch["target"][0].dtype
    scales = trainer._get_deep_supervision_scales()
    for b in range(len(data)):  # nnU-Net's own per-sample transform on the mixed target
        made = DownsampleSegForDSTransform(scales)(segmentation=targets[0][b])["segmentation"]
        for ours, theirs in zip(targets, made, strict=True):
            assert torch.equal(ours[b], theirs)
    trainer.on_train_end()


def test_ignored_pixels_never_reach_the_loss(nnunet_env: Path) -> None:
    trainer = _trainer(991, "2d", "nnUNetTrainerHSMix")
    batch = _batch(trainer)
    labels = batch["target"][0].clone()
    labels[:, :, :6] = IGNORE  # a band ignored in every sample, besides the set's own
    labels[0, :, 6:] = IGNORE  # and one sample ignored entirely
    trainer.hsmix_generator = torch.Generator().manual_seed(0)
    _, targets = trainer.hsmix_batch(batch["data"], [labels, *batch["target"][1:]])
    _, _, params = trainer.hsmix(batch["data"], labels, return_params=True,
                                 generator=torch.Generator().manual_seed(0))  # fmt: skip
    ignored = labels[:, 0] == IGNORE
    partner_ignored = ignored[params.partner]
    mass = targets[0].sum(1)  # the valid share of each pixel's target
    assert torch.all(mass[ignored & partner_ignored] == 0)
    assert torch.allclose(mass[~ignored & ~partner_ignored], torch.tensor(1.0))
    assert torch.all(mass <= 1 + 1e-6)
    logits = torch.randn(targets[0].shape, requires_grad=True)
    trainer.train_loss.loss(logits, targets[0]).backward()  # the loss of one scale
    assert logits.grad.permute(1, 0, 2, 3)[:, mass == 0].abs().max() == 0
    assert logits.grad.permute(1, 0, 2, 3)[:, mass > 0].abs().max() > 0
    trainer.on_train_end()


def test_region_targets_are_mixed_as_numbers_and_stay_in_0_1(nnunet_env: Path) -> None:
    trainer = _trainer(991, "2d", "nnUNetTrainerHSMix")
    regions = {"background": 0, "whole": [1, 2], "core": [2], "ignore": 3}
    trainer.dataset_json = {**trainer.dataset_json, "labels": regions,
                            "regions_class_order": [1, 2]}  # fmt: skip
    trainer.label_manager = trainer.plans_manager.get_label_manager(trainer.dataset_json)
    assert trainer.label_manager.has_regions and trainer.label_manager.has_ignore_label
    trainer.initialize()
    g = torch.Generator().manual_seed(4)
    target = torch.zeros(4, 3, 32, 32, dtype=torch.bool)  # whole, core, ignore (nnU-Net's)
    for i in range(4):  # a different object in each sample
        target[i, 0, 4 * i : 4 * i + 16, 6:22] = True
        target[i, 1, 4 * i + 4 : 4 * i + 12, 10:18] = True
    target[:, 2, :4] = True
    noise = 0.1 * torch.randn(4, 3, 32, 32, generator=g)
    data = target[:, [0, 1, 1]].float() + noise  # images that show their objects
    trainer.hsmix_generator = torch.Generator().manual_seed(0)
    _, mixed = trainer.hsmix_batch(data, [target, target[:, :, ::2, ::2]])
    expected = trainer.hsmix(data, target.float(), generator=torch.Generator().manual_seed(0))
    assert torch.equal(mixed[0], expected[1])
    assert mixed[0].dtype == torch.float32 and mixed[0].shape == target.shape
    assert all(m.min() >= 0 and m.max() <= 1 for m in mixed)
    _, _, params = trainer.hsmix(data, target.float(), generator=torch.Generator().manual_seed(0),
                                 return_params=True)  # fmt: skip
    assert bool((params.soft & params.mixed).any())  # this seed's batch has soft mixes
    assert ((mixed[0] > 0) & (mixed[0] < 1)).any()  # and they blend the region maps
    logits = [torch.randn(4, 2, 32, 32), torch.randn(4, 2, 16, 16)]
    assert torch.isfinite(trainer.train_loss(logits, mixed))


def test_options_come_from_the_environment_or_a_file(
    nnunet_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "hsmix.json"
    config.write_text(json.dumps({"p_hard": 0.4, "n_segments": [5, 9], "output": "hard"}))
    monkeypatch.setenv(OPTIONS_VARIABLE, str(config))
    trainer = _trainer(991, "2d", "nnUNetTrainerHSMix")
    trainer.initialize()
    opts = trainer.hsmix.options
    assert (opts.p_hard, opts.n_segments, opts.output) == (0.4, (5, 9), "hard")
    assert (opts.num_classes, opts.ignore_index, opts.intensity_range) == (2, IGNORE, None)
    assert trainer.train_loss is trainer.loss  # hard mixes: nnU-Net's own loss
    monkeypatch.setenv(OPTIONS_VARIABLE, '{"targets": "labels", "n_segments": [4, 12]}')
    trainer = _trainer(991, "2d", "nnUNetTrainerHSMix")
    batch = _batch(trainer)  # either, but label targets: nnU-Net's loss on label maps
    assert trainer.train_loss is trainer.loss and not trainer.soft_targets
    _, targets = trainer.hsmix_batch(batch["data"], batch["target"])
    assert all(t.dtype == batch["target"][0].dtype for t in targets)
    assert np.isfinite(trainer.train_step(batch)["loss"])
    trainer.on_train_end()
    for bad, match in [
        ('{"num_classes": 3}', "set by the trainer"),
        ("[1, 2]", "JSON object"),
        ("{p_hard: 1}", "not valid JSON"),
        (str(tmp_path / "missing.json"), "no such file"),
        ('{"p_hard": 2}', "p_hard"),
    ]:
        monkeypatch.setenv(OPTIONS_VARIABLE, bad)
        with pytest.raises(ValueError, match=match):
            _trainer(991, "2d", "nnUNetTrainerHSMix").initialize()


def test_the_overhead_benchmark_times_both_trainers(nnunet_env: Path, tmp_path: Path) -> None:
    from benchmarks import nnunet_overhead

    argv = ["--dataset", "991", "--configuration", "2d", "--steps", "2", "--device", "cpu",
            "--out", str(tmp_path)]  # fmt: skip
    assert nnunet_overhead.main(argv) == 0
    row = (tmp_path / "nnunet_overhead_2d.csv").read_text().splitlines()
    values = dict(zip(row[0].split(","), row[1].split(","), strict=True))
    assert float(values["plain_ms"]) > 0 and float(values["hsmix_ms"]) > 0
    assert float(values["mix_ms"]) > 0 and values["configuration"] == "2d"
