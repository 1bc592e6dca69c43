"""The on-disk frame cache of the synthetic benchmarks (claus_core.data.synth_cache)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from claus_core.data.synth_cache import FrameCache, key_hash


def _cache(directory: Path, key: dict[str, object]) -> FrameCache:
    return FrameCache(directory, key=key, names=["a/x", "b/y"], frame_counts=[3, 2], frame_size=4)


def _frames(count: int, value: int) -> np.ndarray:
    return np.full((count, 4, 4, 3), value, dtype=np.uint8)


def test_key_hash_ignores_key_order() -> None:
    assert key_hash({"a": 1, "b": [1, 2]}) == key_hash({"b": [1, 2], "a": 1})
    assert key_hash({"a": 1}) != key_hash({"a": 2})


def test_store_load_and_manifest(tmp_path: Path) -> None:
    cache = _cache(tmp_path, {"seed": 0})
    assert cache.load("a/x") is None
    cache.store("a/x", _frames(3, 7))
    np.testing.assert_array_equal(cache.load("a/x"), _frames(3, 7))
    manifest = json.loads(cache.manifest_path.read_text())
    assert manifest["config_hash"] == key_hash({"seed": 0})
    assert manifest["key"] == {"seed": 0}
    assert [v["name"] for v in manifest["videos"]] == ["a/x", "b/y"]
    assert [v["frames"] for v in manifest["videos"]] == [3, 2]
    assert not list(tmp_path.glob(".tmp-*"))


def test_same_key_reuses_other_key_invalidates(tmp_path: Path) -> None:
    _cache(tmp_path, {"seed": 0}).store("a/x", _frames(3, 7))
    np.testing.assert_array_equal(_cache(tmp_path, {"seed": 0}).load("a/x"), _frames(3, 7))
    changed = _cache(tmp_path, {"seed": 1})
    assert changed.load("a/x") is None
    assert not list(tmp_path.glob("*.npz"))
    assert json.loads(changed.manifest_path.read_text())["config_hash"] == key_hash({"seed": 1})


def test_corrupted_file_is_reported_and_missed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = _cache(tmp_path, {"seed": 0})
    cache.store("a/x", _frames(3, 7))
    cache.path("a/x").write_bytes(b"not an npz file")
    with caplog.at_level(logging.WARNING, logger="claus_core.data.synth_cache"):
        assert cache.load("a/x") is None
    assert "a/x" in caplog.text and "re-rendering" in caplog.text


def test_wrong_shape_is_reported_and_missed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = _cache(tmp_path, {"seed": 0})
    cache.store("b/y", _frames(5, 1))
    with caplog.at_level(logging.WARNING, logger="claus_core.data.synth_cache"):
        assert cache.load("b/y") is None
    assert "expected (2, 4, 4, 3)" in caplog.text


def test_unreadable_manifest_rebuilds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _cache(tmp_path, {"seed": 0}).store("a/x", _frames(3, 7))
    (tmp_path / "manifest.json").write_text("{broken")
    with caplog.at_level(logging.WARNING, logger="claus_core.data.synth_cache"):
        rebuilt = _cache(tmp_path, {"seed": 0})
    assert "manifest" in caplog.text
    assert rebuilt.load("a/x") is None
