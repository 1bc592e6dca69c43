"""On-disk cache of rendered synthetic videos (SynthUCF24, SynthJHMDB21), one .npz per video.

The synthetic benchmarks stand in for the paper's UCF-101-24 and J-HMDB-21 pixels
(supplementary Section 5). Rendering is cheap but not free, and an active-learning study reads
every video many times, so whole splits can be kept on disk::

    <cache_dir>/<dataset>-<split>/manifest.json   config, config hash, names, frame counts
    <cache_dir>/<dataset>-<split>/00000.npz       frames of video 0 ([frame, H, W, 3] uint8)

A cache is reused only while the manifest's ``config_hash`` equals the hash of the current
render key (the config, the pool's geometry and ``RENDER_VERSION``); otherwise its video files
are deleted and rendered again. A file that cannot be read back is re-rendered with a logged
warning. Files are written atomically (temporary file, then rename).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"


def key_hash(key: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``key`` (sorted keys, no whitespace)."""
    text = json.dumps(key, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FrameCache:
    """The cached frames of one rendered split.

    ``key`` describes everything the pixels depend on; ``names`` and ``frame_counts`` list the
    split's videos in pool order; ``frame_size`` is the square frame side in pixels.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        key: Mapping[str, Any],
        names: Sequence[str],
        frame_counts: Sequence[int],
        frame_size: int,
    ) -> None:
        self.directory = Path(directory)
        self.key = dict(key)
        self.config_hash = key_hash(self.key)
        self._index = {name: i for i, name in enumerate(names)}
        self._counts = {name: int(c) for name, c in zip(names, frame_counts, strict=True)}
        self.frame_size = int(frame_size)
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self._manifest_matches():
            self._reset(names)

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST_NAME

    def path(self, name: str) -> Path:
        """Where the frames of video ``name`` are stored."""
        return self.directory / f"{self._index[name]:05d}.npz"

    def load(self, name: str) -> np.ndarray | None:  # [frame, H, W, 3] uint8
        """The cached frames of ``name``; None when absent or unreadable (logged)."""
        path = self.path(name)
        if not path.exists():
            return None
        expected = (self._counts[name], self.frame_size, self.frame_size, 3)
        try:
            with np.load(path, allow_pickle=False) as data:
                frames = data["frames"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            logger.warning(
                "cache file %s for video %s is unreadable (%s); re-rendering", path, name, err
            )
            return None
        if frames.shape != expected or frames.dtype != np.uint8:
            logger.warning(
                "cache file %s for video %s holds %s %s, expected %s uint8; re-rendering",
                path,
                name,
                frames.shape,
                frames.dtype,
                expected,
            )
            return None
        return frames

    def store(self, name: str, frames: np.ndarray) -> None:
        """Write the frames of ``name`` (``[frame, H, W, 3]`` uint8) atomically."""
        path = self.path(name)
        handle, tmp_name = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(handle, "wb") as tmp:
                np.savez_compressed(tmp, frames=frames)
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def _manifest_matches(self) -> bool:
        if not self.manifest_path.exists():
            return False
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            stored_hash = manifest["config_hash"]
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
            logger.warning(
                "cache manifest %s is unreadable (%s); rebuilding", self.manifest_path, err
            )
            return False
        if stored_hash != self.config_hash:
            logger.info(
                "cache %s was rendered with another config (hash %.12s, now %.12s); rebuilding",
                self.directory,
                stored_hash,
                self.config_hash,
            )
            return False
        return True

    def _reset(self, names: Sequence[str]) -> None:
        for old in self.directory.glob("*.npz"):
            old.unlink()
        manifest = {
            "config_hash": self.config_hash,
            "key": self.key,
            "frame_size": self.frame_size,
            "videos": [
                {"name": n, "file": self.path(n).name, "frames": self._counts[n]} for n in names
            ],
        }
        tmp = self.manifest_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        os.replace(tmp, self.manifest_path)
