"""Checkpoints: pytorch-i3d state dicts into the encoder (with reports), detector save/load."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from claus_core.data.types import DataError
from claus_core.model.checkpoint import load_detector, load_i3d_checkpoint, save_detector
from claus_core.model.config import DetectorConfig
from claus_core.model.detector import CapsuleDetector
from claus_core.model.i3d import I3DEncoder


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small tensors: one intra-op thread avoids OpenMP stalls when the 2 cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# The pytorch-i3d InceptionI3d layout, written out independently of claus_core.model.i3d:
# (name, in channels, out channels, kernel) of every Unit3D, plus the inception modules.
PORT_UNITS = [
    ("Conv3d_1a_7x7", 3, 64, 7),
    ("Conv3d_2b_1x1", 64, 64, 1),
    ("Conv3d_2c_3x3", 64, 192, 3),
]
PORT_INCEPTION = [  # name, in channels, b0, b1a, b1b, b2a, b2b, b3b
    ("Mixed_3b", 192, 64, 96, 128, 16, 32, 32),
    ("Mixed_3c", 256, 128, 128, 192, 32, 96, 64),
    ("Mixed_4b", 480, 192, 96, 208, 16, 48, 64),
    ("Mixed_4c", 512, 160, 112, 224, 24, 64, 64),
    ("Mixed_4d", 512, 128, 128, 256, 24, 64, 64),
    ("Mixed_4e", 512, 112, 144, 288, 32, 64, 64),
    ("Mixed_4f", 528, 256, 160, 320, 32, 128, 128),
    ("Mixed_5b", 832, 256, 160, 320, 32, 128, 128),
    ("Mixed_5c", 832, 384, 192, 384, 48, 128, 128),
]


def unit(state: dict, name: str, cin: int, cout: int, k: int, g: torch.Generator) -> None:
    state[f"{name}.conv3d.weight"] = torch.randn(cout, cin, k, k, k, generator=g) * 0.01
    state[f"{name}.bn.weight"] = torch.rand(cout, generator=g) + 0.5
    state[f"{name}.bn.bias"] = torch.randn(cout, generator=g)
    state[f"{name}.bn.running_mean"] = torch.randn(cout, generator=g)
    state[f"{name}.bn.running_var"] = torch.rand(cout, generator=g) + 0.5


def pytorch_i3d_state_dict(num_classes: int = 400) -> dict[str, torch.Tensor]:
    """A random state dict with rgb_imagenet.pt's keys and shapes (no num_batches_tracked)."""
    g = torch.Generator().manual_seed(0)
    state: dict[str, torch.Tensor] = {}
    for name, cin, cout, k in PORT_UNITS:
        unit(state, name, cin, cout, k, g)
    for name, cin, b0, b1a, b1b, b2a, b2b, b3b in PORT_INCEPTION:
        unit(state, f"{name}.b0", cin, b0, 1, g)
        unit(state, f"{name}.b1a", cin, b1a, 1, g)
        unit(state, f"{name}.b1b", b1a, b1b, 3, g)
        unit(state, f"{name}.b2a", cin, b2a, 1, g)
        unit(state, f"{name}.b2b", b2a, b2b, 3, g)
        unit(state, f"{name}.b3b", cin, b3b, 1, g)
    state["logits.conv3d.weight"] = torch.randn(num_classes, 1024, 1, 1, 1, generator=g)
    state["logits.conv3d.bias"] = torch.randn(num_classes, generator=g)
    return state


@pytest.fixture(scope="module")
def port_state() -> dict[str, torch.Tensor]:
    return pytorch_i3d_state_dict()


@pytest.fixture(scope="module")
def port_file(tmp_path_factory, port_state) -> Path:
    path = tmp_path_factory.mktemp("i3d") / "rgb_imagenet.pt"
    torch.save(port_state, path)
    return path


def test_pytorch_i3d_checkpoint_loads_key_for_key(port_file, port_state) -> None:
    encoder = I3DEncoder()
    report = load_i3d_checkpoint(encoder, port_file, strict=True)
    assert report.ok and not report.missing and not report.unexpected
    beyond = {key.split(".")[0] for key in report.beyond_encoder}
    assert beyond == {"Mixed_5b", "Mixed_5c", "logits"}
    state = encoder.state_dict()
    for key in (
        "Conv3d_1a_7x7.conv3d.weight",
        "Conv3d_1a_7x7.bn.running_mean",
        "Mixed_3b.b1b.conv3d.weight",
        "Mixed_4f.b3b.bn.running_var",
    ):
        assert torch.equal(state[key], port_state[key]), key
    encoder_keys = [k for k in state if not k.endswith("num_batches_tracked")]
    assert sorted(report.loaded) == sorted(encoder_keys)


def test_loading_into_a_detector_fills_its_encoder(port_state) -> None:
    report = load_i3d_checkpoint(I3DEncoder(), {f"module.{k}": v for k, v in port_state.items()})
    assert report.ok  # "module." prefixes (DataParallel) are stripped
    source = CapsuleDetector(DetectorConfig.tiny())
    target = CapsuleDetector(DetectorConfig.tiny())
    state = {**source.encoder.state_dict(), "logits.conv3d.bias": torch.zeros(400)}
    report = load_i3d_checkpoint(target, state)
    assert report.beyond_encoder == ["logits.conv3d.bias"]
    assert torch.equal(
        target.encoder.Mixed_4f.b0.conv3d.weight, source.encoder.Mixed_4f.b0.conv3d.weight
    )
    with pytest.raises(ValueError, match="shape mismatch") as error:
        load_i3d_checkpoint(target, port_state)  # full-width weights, 1/8-width encoder
    assert "Conv3d_1a_7x7.conv3d.weight: [64, 3, 7, 7, 7] vs [8, 3, 7, 7, 7]" in str(error.value)


def test_missing_and_unexpected_keys_raise_in_strict_mode(port_state) -> None:
    state = dict(port_state)
    del state["Mixed_4c.b2b.conv3d.weight"]
    state["Mixed_4c.b9.conv3d.weight"] = torch.zeros(1)
    with pytest.raises(ValueError) as error:
        load_i3d_checkpoint(I3DEncoder(), state)
    message = str(error.value)
    assert "1 missing: Mixed_4c.b2b.conv3d.weight" in message
    assert "1 unexpected: Mixed_4c.b9.conv3d.weight" in message
    assert "Mixed_5b" not in message  # layers beyond the encoder are not problems


def test_non_strict_warns_and_loads_what_fits(port_state) -> None:
    state = dict(port_state)
    del state["Mixed_4c.b2b.conv3d.weight"]
    encoder = I3DEncoder()
    before = encoder.Mixed_4c.b2b.conv3d.weight.clone()
    with pytest.warns(UserWarning, match="Mixed_4c.b2b.conv3d.weight"):
        report = load_i3d_checkpoint(encoder, state, strict=False)
    assert report.missing == ["Mixed_4c.b2b.conv3d.weight"]
    assert torch.equal(encoder.Mixed_4c.b2b.conv3d.weight, before)
    assert torch.equal(encoder.Mixed_4c.b1b.conv3d.weight, port_state["Mixed_4c.b1b.conv3d.weight"])


def test_corrupted_i3d_file_names_the_file(tmp_path) -> None:
    path = tmp_path / "broken.pt"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(DataError, match="broken.pt"):
        load_i3d_checkpoint(I3DEncoder(width=0.125), path)
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        load_i3d_checkpoint(I3DEncoder(width=0.125), tmp_path / "absent.pt")


# ---- detector checkpoints ----------------------------------------------------------------------
def test_detector_round_trip_keeps_config_weights_and_extra(tmp_path) -> None:
    torch.manual_seed(0)
    config = DetectorConfig.tiny(num_classes=7)
    model = CapsuleDetector(config)
    model.train()
    with torch.no_grad():  # move the batch-norm statistics away from their initial values
        model(torch.rand(2, 3, 8, 64, 64), generator=torch.Generator().manual_seed(0))
    path = tmp_path / "round1" / "detector.pt"
    save_detector(path, model, {"round": 1, "strategy": "claus", "losses": [0.5, 0.25]})
    loaded, extra = load_detector(path)
    assert loaded.config == config and not loaded.training
    assert extra == {"round": 1, "strategy": "claus", "losses": [0.5, 0.25]}
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x = torch.rand(1, 3, 8, 64, 64)
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded(x).mask_logits, model(x).mask_logits)
    assert [p.name for p in path.parent.iterdir()] == ["detector.pt"]  # no temporary left


def test_corrupted_or_foreign_detector_files_name_the_file(tmp_path) -> None:
    model = CapsuleDetector(DetectorConfig.tiny(num_classes=2))
    path = tmp_path / "detector.pt"
    save_detector(path, model, {})
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataError, match="truncated.pt"):
        load_detector(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(DataError, match="foreign.pt.*not a detector checkpoint"):
        load_detector(foreign)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_detector(tmp_path / "missing.pt")
