"""The path to real data on a GPU, as far as it runs here (issue 28): the paper's study configs
on the real annotations, pretrained encoder weights from a config, and devices this machine
cannot run refused when the config loads, before any run folder exists."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import yaml

from claus_core.cli import main
from claus_core.config import (
    ConfigError,
    DetectorChoice,
    ExperimentConfig,
    check_device,
    load_study,
)
from claus_core.engine.experiment import Experiment, initial_detector
from claus_core.model.factory import detector_config
from claus_core.store import config_hash

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "model"))
from test_i3d_checkpoint import pytorch_i3d_state_dict  # noqa: E402  (the port's layout)

PAPER_CONFIGS = {"ucf101_24_paper.yaml": (2284, 1000, 15), "jhmdb21_paper.yaml": (660, 34, 35)}


@pytest.fixture(scope="module")
def i3d_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated file in pytorch-i3d's rgb_imagenet.pt layout (keys, shapes, no counters)."""
    path = tmp_path_factory.mktemp("weights") / "rgb_imagenet.pt"
    torch.save(pytorch_i3d_state_dict(), path)
    return path


def _paper_study(name: str, tmp_path: Path, weights: Path | None, **base: object) -> Path:
    """The repository's paper config with ``encoder_weights`` and ``base`` fields replaced."""
    data = yaml.safe_load((ROOT / "configs" / name).read_text())
    if weights is not None:
        data["base"]["detector"]["encoder_weights"] = str(weights)
    data["base"].update(base)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("name", sorted(PAPER_CONFIGS))
def test_the_paper_configs_hold_section_7_3s_settings(
    name: str, i3d_file: Path, tmp_path: Path
) -> None:
    study = load_study(_paper_study(name, tmp_path, i3d_file))
    train_videos, cost, rounds = PAPER_CONFIGS[name]
    for run in study.experiments():
        assert run.detector == DetectorChoice(preset="paper", encoder_weights=str(i3d_file))
        detector = detector_config(preset=run.detector.preset, num_classes=24)
        assert (detector.input_size, detector.clip_length) == (224, 8)
        assert run.train.skip_rates == (1, 2) and run.train.batch_size == 8
        assert (run.train.learning_rate, run.train.epochs) == (5e-4, 20)
        assert (run.cluster.k, run.scoring.n_samples) == (5, 10)
        assert run.round_budget.videos == round(0.05 * train_videos)
        assert run.round_budget.frame_cost == cost and run.rounds == rounds
    assert {(r.name, r.strategy) for r in study.experiments() if r.fully_supervised}


def test_a_paper_config_without_its_weights_file_is_refused_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the config's relative weights path: no such file here
    with pytest.raises(ConfigError, match="encoder_weights: weights/rgb_imagenet.pt: no such file"):
        load_study(ROOT / "configs" / "ucf101_24_paper.yaml")


@pytest.mark.slow
def test_the_ucf_paper_config_runs_end_to_end_on_the_real_mini_videos(tmp_path: Path) -> None:
    """The paper config, only made small: the 16 real mini videos (their own split: all are
    split-1 test videos), the tiny detector, one epoch, two MC passes, one round after round 0."""
    path = _paper_study(
        "ucf101_24_paper.yaml", tmp_path, None,
        dataset="ucf101_24_mini", videos_dir=None, detector="tiny", rounds=1,
        initial_budget={"videos": 4, "frame_cost": 20}, round_budget={"videos": 3, "frame_cost": 15},
        train={"epochs": 1, "learning_rate": 0.0005, "batch_size": 8, "skip_rates": [1, 2]},
        scoring={"n_samples": 2, "batch_size": 8}, cluster={"k": 3},
    )  # fmt: skip
    data = yaml.safe_load(path.read_text())
    data["groups"] = [{"name": "ucf_main", "strategies": ["claus"], "seeds": [0]}]
    path.write_text(yaml.safe_dump(data))
    assert main(["run", str(path), "--root", str(tmp_path / "runs"), "--quiet"]) == 0
    run = tmp_path / "runs" / "ucf101_24_paper" / "ucf_main" / "claus" / "seed0"
    assert (run / "round0" / "clusters.json").exists()  # scored, clustered and selected
    assert (run / "round1" / "metrics.json").exists()  # trained on the selection, evaluated


def test_encoder_weights_from_a_config_reach_the_encoder(i3d_file: Path) -> None:
    config = ExperimentConfig(
        detector=DetectorChoice(preset="paper", encoder_weights=str(i3d_file))
    )
    model = initial_detector(config, detector_config(preset="paper", num_classes=24))
    state = torch.load(i3d_file, weights_only=True)
    loaded = model.encoder.state_dict()
    for key in ("Conv3d_1a_7x7.conv3d.weight", "Mixed_4f.b3b.bn.running_var"):
        assert torch.equal(loaded[key], state[key]), key


def test_weights_of_another_width_are_refused_naming_the_shapes(
    i3d_file: Path, tmp_path: Path
) -> None:
    config = ExperimentConfig.from_dict(
        {"detector": {"preset": "tiny", "encoder_weights": str(i3d_file)}}
    )
    with pytest.raises(
        ConfigError,
        match=r"shape mismatch .*Conv3d_1a_7x7.conv3d.weight: \[64, 3, 7, 7, 7\] vs \[8, 3, 7, 7, 7\]",
    ):
        Experiment(config, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_a_preset_alone_saves_as_before_so_earlier_runs_keep_their_hash(i3d_file: Path) -> None:
    plain = ExperimentConfig(detector="paper")
    assert plain.to_dict()["detector"] == "paper"
    assert ExperimentConfig.from_dict(plain.to_dict()) == plain
    with_weights = ExperimentConfig.from_dict(
        {"detector": {"preset": "paper", "encoder_weights": str(i3d_file)}}
    )
    assert with_weights.to_dict()["detector"] == {
        "preset": "paper",
        "encoder_weights": str(i3d_file),
    }
    assert ExperimentConfig.from_dict(with_weights.to_dict()) == with_weights
    assert config_hash(with_weights.to_dict()) != config_hash(plain.to_dict())


@pytest.mark.parametrize(
    "raw", [3, ["paper"], {"preset": "huge"}, {"encoder_weights": ""}, "large"]
)
def test_a_malformed_detector_names_the_field(raw: object) -> None:
    with pytest.raises(ConfigError, match="detector"):
        ExperimentConfig.from_dict({"detector": raw})


@pytest.mark.skipif(torch.version.cuda is not None, reason="this torch is a CUDA build")
def test_cuda_on_a_cpu_build_is_refused_at_load_with_what_to_install(
    tmp_path: Path, capsys
) -> None:
    with pytest.raises(ConfigError, match="built without CUDA; install a CUDA build"):
        check_device("cuda")
    config = tmp_path / "gpu.yaml"
    config.write_text(yaml.safe_dump({"name": "gpu", "train": {"device": "cuda:0"}}))
    assert main(["run", str(config), "--root", str(tmp_path / "runs")]) == 2
    assert "pip install --force-reinstall torch==2.13.0" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has Apple's MPS")
def test_mps_without_metal_is_refused() -> None:
    with pytest.raises(ConfigError, match="'mps', but Apple's Metal backend is not available"):
        check_device("mps")


def test_a_missing_gpu_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.version, "cuda", "12.8")  # a CUDA build on a machine without a GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="torch sees 0 CUDA GPU"):
        check_device("cuda:1")
    check_device("auto")
    check_device("cpu")


def test_another_weights_file_at_the_same_path_is_another_run(
    i3d_file: Path, tmp_path: Path
) -> None:
    """The round hashes hold the weights file's SHA-256, not only its path."""
    from claus_core.engine.experiment import _round_hash, round0_key

    path = tmp_path / "w.pt"
    config = ExperimentConfig.from_dict(
        {"detector": {"preset": "paper", "encoder_weights": str(path)}}
    )
    path.write_bytes(i3d_file.read_bytes())
    before = (_round_hash(config, 1, "x"), round0_key(config))
    state = pytorch_i3d_state_dict()
    state["Conv3d_1a_7x7.bn.bias"] += 1.0
    torch.save(state, path)
    after = (_round_hash(config, 1, "x"), round0_key(config))
    assert before[0] != after[0] and before[1] != after[1]
