"""Run store: atomic writes, config binding, finished-round markers, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from claus_core.files import (
    StoreError,
    atomic_write,
    read_json,
    read_keys,
    read_npz,
    write_json,
    write_npz,
)
from claus_core.store import RunDir, config_hash


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


def test_store_files_of_the_wrong_shape_or_bytes_are_named(tmp_path) -> None:
    bad = tmp_path / "metrics.json"
    bad.write_bytes(b'{"round": "\xff\xfe"}')
    with pytest.raises(StoreError, match=r"metrics.json: not UTF-8 text"):
        read_json(bad)
    bad.write_text("[]")
    with pytest.raises(StoreError, match=r"metrics.json: expected a JSON object, got list"):
        read_json(bad, dict)
    bad.write_text("{}")
    with pytest.raises(StoreError, match=r"metrics.json: has no 'videos'"):
        read_keys(bad, "videos", "cost")
    run = RunDir(tmp_path / "run")
    run.bind({"a": 1})
    (run.round_dir(0)).mkdir()
    (run.round_dir(0) / "round.json").write_text("[]")
    with pytest.raises(StoreError, match=r"round0/round.json: expected a JSON object"):
        run.finished(0, "h")
    (run.config_path).write_text("[1, 2]")
    with pytest.raises(StoreError, match=r"config.json: expected a JSON object"):
        run.bind({"a": 1})


@pytest.mark.parametrize("cut", [0, 10, 100])
def test_a_truncated_or_garbled_npz_is_named(tmp_path, cut: int) -> None:
    from claus_core.clustering import DeepClusters
    from claus_core.data.types import DataError

    path = tmp_path / "clusters.npz"
    DeepClusters(centroids=np.zeros((2, 3)), counts=np.ones(2)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[:cut] if cut else data[:20] + b"\x00" * 40 + data[60:])
    with pytest.raises(StoreError, match="clusters.npz: corrupted array file"):
        read_npz(path)
    with pytest.raises(DataError, match="clusters.npz: not a deep-clusters file"):
        DeepClusters.load(path)


def test_a_full_disk_is_named_and_the_old_file_kept(tmp_path, monkeypatch) -> None:
    import errno

    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"round 0's weights")

    def full(tmp) -> None:
        tmp.write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(StoreError, match=r"checkpoint.pt: not written, the disk is full"):
        atomic_write(path, full)
    assert path.read_bytes() == b"round 0's weights"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary file left

    def torch_full(tmp) -> None:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    monkeypatch.setattr("shutil.disk_usage", lambda _: type("u", (), {"free": 0})())
    with pytest.raises(StoreError, match=r"checkpoint.pt: not written, the disk is full"):
        atomic_write(path, torch_full)
    with pytest.raises(RuntimeError, match="a bug"):  # other errors are not taken for a full disk
        atomic_write(path, lambda tmp: (_ for _ in ()).throw(RuntimeError("a bug")))
    assert path.read_bytes() == b"round 0's weights"


def test_written_files_follow_the_umask(tmp_path) -> None:
    """Issue 26: every file was written 0600 (mkstemp), so a Label Studio running as another
    user could not read a project's media; files now follow the umask like any tool's."""
    from claus_core.files import write_json

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        os.umask(0o077)
        write_json(tmp_path / "b.json", {"x": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("name", ["../x", "/abs", "", "a//b", "a/./b", ".", "a\\\\..\\\\b", 3])
def test_names_that_leave_their_folder_are_refused(name: object) -> None:
    from claus_core.files import inside_name

    with pytest.raises(StoreError, match="video 'v'"):
        inside_name(name, what="video 'v'")
    assert str(inside_name("Biking/v_Biking_g01_c03", what="ok")) == "Biking/v_Biking_g01_c03"
