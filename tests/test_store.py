"""Run store: atomic writes, config binding, finished-round markers, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys

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


def test_a_folder_that_is_not_a_run_store_is_refused_and_kept(tmp_path) -> None:
    folder = tmp_path / "mine"
    (folder / "round0").mkdir(parents=True)
    (folder / "round0" / "notes.txt").write_text("keep me")
    with pytest.raises(StoreError, match="is not a run folder.*nothing was written"):
        RunDir(folder).bind({"a": 1})
    assert (folder / "round0" / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in folder.rglob("*")) == ["notes.txt", "round0"]
    RunDir(tmp_path / "empty").bind({"a": 1})  # a new folder, or an empty one, becomes a run
    (tmp_path / "also_empty").mkdir()
    RunDir(tmp_path / "also_empty").bind({"a": 1})


def test_a_second_writer_of_a_run_folder_is_refused_with_the_holders_pid(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    run.bind({"a": 1})
    with run.lock():
        assert (tmp_path / "run" / ".lock").read_text().strip() == str(os.getpid())
        with pytest.raises(
            StoreError, match=rf"in use by another claus process \(pid {os.getpid()}\)"
        ):
            with RunDir(tmp_path / "run").lock():
                pass
    with run.lock():  # released when the block ends
        pass


def test_a_killed_holder_leaves_the_folder_unlocked(tmp_path) -> None:
    run = RunDir(tmp_path / "run")
    run.bind({"a": 1})
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom claus_core.store import RunDir\n"
        "with RunDir(Path(sys.argv[1])).lock():\n    print('locked', flush=True)\n    time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(run.root)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError, match=f"pid {child.pid}"):
            with run.lock():
                pass
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    with run.lock():
        pass
