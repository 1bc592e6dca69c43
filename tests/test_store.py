"""Run store: atomic writes, config binding, finished-round markers, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from claus_core.store import (
    RunDir,
    StoreError,
    atomic_write,
    config_hash,
    read_json,
    read_npz,
    write_json,
    write_npz,
)


def test_config_hash_ignores_key_order() -> None:
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path) -> None:
    path = tmp_path / "metrics.json"
    write_json(path, {"value": 1})

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(path, broken)
    assert read_json(path) == {"value": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_npz_round_trip_and_corruption(tmp_path) -> None:
    path = tmp_path / "scores.npz"
    write_npz(path, {"uncertainty/a": np.arange(3, dtype=np.float32)})
    assert read_npz(path)["uncertainty/a"].tolist() == [0, 1, 2]
    path.write_bytes(b"not a zip")
    with pytest.raises(StoreError, match="scores.npz: corrupted"):
        read_npz(path)


def test_corrupted_json_names_the_file(tmp_path) -> None:
    path = tmp_path / "state.json"
    path.write_text("{")
    with pytest.raises(StoreError, match="state.json: corrupted JSON"):
        read_json(path)


def test_run_dir_refuses_another_config(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    run.bind({"seed": 0, "strategy": "claus"})
    run.bind({"strategy": "claus", "seed": 0})
    with pytest.raises(StoreError, match=r"another config \(fields that differ: \['seed'\]\)"):
        run.bind({"seed": 1, "strategy": "claus"})
    assert read_json(run.config_path) == {"seed": 0, "strategy": "claus"}


def test_round_counts_only_when_its_marker_names_the_hash(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    folder = run.start_round(0)
    (folder / "state.json").write_text("{}")
    assert not run.finished(0, "h1")
    run.finish_round(0, "h1")
    assert run.finished(0, "h1") and not run.finished(0, "h2")
    assert run.finished_rounds() == [0]
    assert read_json(folder / "round.json")["files"] == ["state.json"]
    run.start_round(0)
    assert not run.finished(0, "h1")
