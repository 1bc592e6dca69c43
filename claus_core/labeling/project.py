"""A labeling project: the user's own videos, labeled round by round in Label Studio or CVAT.

The store is a folder, written like the run store (:mod:`claus_core.store`): every file goes to
a temporary name and is renamed into place, a process holds ``.lock`` while it writes, and the
config is saved inside. Layout::

    PROJECT/
        project.json            kind, version, id, the videos folder, the LabelingConfig
        videos.json             every video probed at init (frames, fps, size) and the skipped files
        holdout.json            the labeled videos held out for validation (once chosen)
        media/<video>.mp4       H.264 copies for the browser (``claus label transcode``)
        round<r>/
            request.json        the frames round r asks for, per video, and why (selection records)
            model/              the detector trained on rounds < r (rounds >= 1): checkpoint.pt,
                                clusters.npz, scores.npz, training.json, validation.json,
                                predictions.npz (its boxes on the round's videos), and last
                                digests.json (every file's SHA-256, checked before reuse)
            export/             the round's tasks for the tool (written by ``select``)
            annotations.json    what ``claus label import`` read (RoundAnnotations)

Video names are the file paths under the videos folder without their extension
(``Biking/v_Biking_g01_c03`` or ``clip7``), so nested and flat folders both work.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from claus_core.clustering import ClusterConfig
from claus_core.config import ConfigError, TrainConfig, from_plain, to_plain
from claus_core.data.types import DataError, Tube, VideoPool, VideoRecord
from claus_core.data.video import VIDEO_EXTENSIONS, VideoError, probe_video
from claus_core.evaluation import EvaluationConfig
from claus_core.export import ANNOTATE_TAG
from claus_core.files import StoreError, atomic_write, inside_name, read_keys, write_json
from claus_core.labeling.annotations import RoundAnnotations, VideoAnnotations
from claus_core.losses import LossConfig
from claus_core.selection import STRATEGIES, SelectionConfig
from claus_core.uncertainty import ScoringConfig

logger = logging.getLogger(__name__)

KIND = "claus-labeling-project"
VERSION = 1
TOOLS = ("labelstudio", "cvat")
MEDIA = "media"  # PROJECT/media: the browser copies; Label Studio's storage folder
DEFAULT_URL_PREFIX = "/data/local-files/?d=media/"  # document root: the project folder
RESERVED_CLASSES = (ANNOTATE_TAG,)  # the CVAT label that marks the asked frames
VALIDATION_METRICS = ("f-mAP@0.5", "v-mAP@0.5")
COMMENT = re.compile(r"\s#")  # a comment in a classes file: "Biking  # on a bike"


@dataclass(frozen=True)
class LabelingConfig:
    """Everything a labeling project's rounds read; saved in ``project.json``.

    ``holdout``: labeled videos kept out of training to validate each round's model (chosen
    once, among round 0's annotated videos). ``claus label init`` without a ``cluster.k`` of
    its own takes K = 5 (Section 7.2) only where the videos can fill it: at most one cluster per
    5 videos, at least 2 (:func:`clusters_for`). The selection's budget counts frames: before a
    person draws them, the boxes on a frame are unknown, so every frame costs one unit
    (``selection.only_frames_with_boxes`` is off: every frame is a candidate).
    """

    classes: tuple[str, ...]
    detector: Literal["tiny", "paper"] = "tiny"
    tool: Literal["labelstudio", "cvat"] = "labelstudio"
    seed: int = 0
    strategy: str = "claus"
    initial_frames: Literal["random", "equidistant"] = "random"
    holdout: int = 0
    video_url_prefix: str = DEFAULT_URL_PREFIX
    # the default study's training (learning rate 0.002, cosine): at the paper's 5e-4 the tiny
    # detector trained from scratch stays at chance (configs/default_study.yaml records it)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(learning_rate=0.002, lr_schedule="cosine")
    )
    loss: LossConfig = field(default_factory=LossConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    selection: SelectionConfig = field(
        default_factory=lambda: SelectionConfig(only_frames_with_boxes=False)
    )
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(self.classes))
        check_classes(self.classes, source="classes")
        if self.detector not in ("tiny", "paper"):
            raise ConfigError(f"detector: must be 'tiny' or 'paper', got {self.detector!r}")
        if self.tool not in TOOLS:
            raise ConfigError(f"tool: must be one of {TOOLS}, got {self.tool!r}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy: unknown {self.strategy!r}; known: {sorted(STRATEGIES)}")
        if STRATEGIES[self.strategy].clusters == "required" and not self.train.cluster_loss:
            raise ConfigError(f"strategy: {self.strategy!r} needs train.cluster_loss: true")
        if self.initial_frames not in ("random", "equidistant"):
            raise ConfigError(
                f"initial_frames: 'random' or 'equidistant', got {self.initial_frames!r}"
            )
        if self.seed < 0 or self.holdout < 0:
            raise ConfigError(f"seed and holdout must be >= 0, got {self.seed}, {self.holdout}")

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelingConfig:
        return from_plain(cls, data)


def clusters_for(videos: int, k: int = ClusterConfig().k) -> int:
    """K for a project of ``videos`` videos: ``k``, but at most one cluster per 5 videos (at
    least 2), so that clusters hold videos to choose between (16 videos: 3)."""
    return max(2, min(k, videos // 5))


def check_classes(classes: Sequence[str], *, source: str) -> None:
    """Raise ConfigError on no class, a blank or reserved name, or a name given twice."""
    if not classes:
        raise ConfigError(f"{source}: no action class (one class name per line)")
    seen: dict[str, int] = {}
    for line, name in enumerate(classes, start=1):
        if not name or name != name.strip():
            raise ConfigError(f"{source}: class {line} {name!r} is blank or has spaces around it")
        if not name.isprintable():
            raise ConfigError(f"{source}: class {line} {name!r} holds a control character")
        if name in RESERVED_CLASSES:
            raise ConfigError(f"{source}: class {name!r} is reserved (it marks the asked frames)")
        if name in seen:
            raise ConfigError(
                f"{source}: class {name!r} is given twice (entries {seen[name]} and {line})"
            )
        seen[name] = line


def read_classes(path: Path) -> tuple[str, ...]:
    """A classes file (UTF-8, a byte-order mark allowed): one class name per line; blank lines
    are skipped, and ``#`` starts a comment at the start of a line or after a space (so a class
    may be called ``C#``)."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"{path}: classes file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the classes file ({err})") from err
    names, seen = [], {}
    for number, line in enumerate(lines, start=1):
        name = COMMENT.split(line, maxsplit=1)[0].strip()
        if not name or name.startswith("#"):
            continue
        if name in seen:
            raise ConfigError(
                f"{path}: class {name!r} is given twice (lines {seen[name]} and {number})"
            )
        seen[name] = number
        names.append(name)
    check_classes(names, source=str(path))
    return tuple(names)


def _expect(value: Any, kind: type, where: str) -> Any:
    """``value`` when it is a ``kind``; a project file of another shape raises StoreError."""
    if not isinstance(value, kind):
        raise StoreError(f"{where} must be a JSON {_JSON_NAMES[kind]}, got {type(value).__name__}")
    return value


_JSON_NAMES = {dict: "object", list: "array", str: "string"}


@dataclass(frozen=True)
class ProjectVideo:
    """One probed video: its name, its file (relative to the videos folder) and what decoding found."""

    name: str
    file: str
    num_frames: int
    fps: float
    width: int
    height: int

    def __post_init__(self) -> None:  # a received project must not lead exports or media outside
        for key, kind in (("name", str), ("file", str), ("num_frames", int), ("width", int),
                          ("height", int), ("fps", (int, float))):  # fmt: skip
            value = getattr(self, key)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise StoreError(f"video {self.name!r}: {key} {value!r} has the wrong type")
        for key in ("num_frames", "width", "height"):
            if getattr(self, key) < 1:
                raise StoreError(f"video {self.name!r}: {key} must be positive")
        inside_name(self.name, what=f"video {self.name!r}: name")
        inside_name(self.file, what=f"video {self.name!r}: file")


def scan_videos(videos_dir: Path) -> tuple[list[ProjectVideo], list[dict[str, str]]]:
    """Every ``.avi`` / ``.mp4`` under ``videos_dir`` (nested or flat), probed by decoding it.

    Returns the videos (by name) and the files skipped, each ``{"file", "reason"}``: a file that
    does not decode, has no frame rate, or shares its name with another file.
    """
    if not videos_dir.is_dir():
        raise DataError(f"{videos_dir}: videos folder not found")
    videos: dict[str, ProjectVideo] = {}
    skipped: list[dict[str, str]] = []
    files = sorted(
        p for p in videos_dir.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS
    )
    for path in files:
        relative = path.relative_to(videos_dir).as_posix()
        name = PurePosixPath(relative).with_suffix("").as_posix()
        try:
            info = probe_video(path)
        except VideoError as err:
            skipped.append({"file": relative, "reason": str(err)})
            logger.warning("skipped %s: %s", relative, err)
            continue
        if not info.fps > 0:
            skipped.append({"file": relative, "reason": "the container declares no frame rate"})
            continue
        if name in videos:
            reason = f"same name as {videos[name].file}"
            skipped.append({"file": relative, "reason": reason})
            continue
        videos[name] = ProjectVideo(
            name, relative, info.num_frames, info.fps, info.width, info.height
        )
    return [videos[n] for n in sorted(videos)], skipped


class LabelProject:
    """A labeling project folder (module docstring)."""

    @staticmethod
    def is_project(folder: str | Path) -> bool:
        """Whether ``folder`` holds a labeling project (its ``project.json``)."""
        return (Path(folder) / "project.json").exists()

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        path = self.root / "project.json"
        header = read_keys(path, "kind", "version", "id", "videos_dir", "config")
        if header["kind"] != KIND:
            raise StoreError(f"{path}: not a claus labeling project (kind {header['kind']!r})")
        if header["version"] != VERSION:
            raise StoreError(f"{path}: project version {header['version']}, expected {VERSION}")
        for key in ("id", "videos_dir"):
            _expect(header[key], str, f"{path}: {key!r}")
        self.id: str = header["id"]
        self.videos_dir = Path(header["videos_dir"])
        try:
            self.config = LabelingConfig.from_dict(header["config"])
        except ConfigError as err:
            raise StoreError(f"{path}: {err}") from err
        listing = read_keys(self.root / "videos.json", "videos", "skipped")
        _expect(listing["videos"], list, f"{self.root / 'videos.json'}: 'videos'")
        _expect(listing["skipped"], list, f"{self.root / 'videos.json'}: 'skipped'")
        try:
            self.videos = {v["name"]: ProjectVideo(**v) for v in listing["videos"]}
        except (TypeError, KeyError) as err:
            raise StoreError(
                f"{self.root / 'videos.json'}: a video entry of the wrong shape ({err})"
            ) from err
        except StoreError as err:
            raise StoreError(f"{self.root / 'videos.json'}: {err}") from err
        self.skipped: list[dict[str, str]] = listing["skipped"]

    # ---- creation -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        root: str | Path,
        videos_dir: str | Path,
        config: LabelingConfig,
        *,
        fit_clusters: bool = False,
    ) -> LabelProject:
        """Scan and probe ``videos_dir``, then write the project at ``root`` in one rename;
        ``fit_clusters``: K from the number of videos found (:func:`clusters_for`)."""
        root, videos_dir = Path(root), Path(videos_dir).resolve()
        if root.is_symlink():  # its rename would replace the link, not fill the folder
            raise StoreError(
                f"{root}: is a symbolic link; name the folder itself ({root.resolve()}) or a new one"
            )
        blocking = next((p for p in root.parents if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise StoreError(f"{root}: {blocking} is a file, not a folder; choose another path")
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root}: exists and is not a folder; choose a new folder")
        if LabelProject.is_project(root):
            raise StoreError(f"{root}: already a labeling project; use it, or choose a new folder")
        if root.exists() and any(root.iterdir()):
            raise StoreError(f"{root}: exists and is not empty; choose a new folder")
        videos, skipped = scan_videos(videos_dir)
        if not videos:
            reasons = "; ".join(f"{s['file']}: {s['reason']}" for s in skipped[:3])
            raise DataError(
                f"{videos_dir}: no decodable video (.avi or .mp4) found"
                + (f" ({len(skipped)} files skipped: {reasons})" if skipped else "")
            )
        if fit_clusters and clusters_for(len(videos), config.cluster.k) != config.cluster.k:
            k = clusters_for(len(videos), config.cluster.k)
            logger.warning("%s: %d videos cannot fill %d clusters; K = %d (set cluster.k in "
                           "--config to choose)", root, len(videos), config.cluster.k, k)  # fmt: skip
            config = dataclasses.replace(config, cluster=dataclasses.replace(config.cluster, k=k))
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # a folder as mkdir makes it (mkdtemp's is owner-only)
        try:
            header = {
                "kind": KIND,
                "version": VERSION,
                "id": uuid.uuid4().hex,
                "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "videos_dir": str(videos_dir),
                "config": config.to_dict(),
            }
            write_json(staging / "project.json", header)
            write_json(
                staging / "videos.json",
                {"videos": [dataclasses.asdict(v) for v in videos], "skipped": skipped},
            )
            if root.exists():
                root.rmdir()
            os.replace(staging, root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        logger.info("%s: %d videos, %d files skipped", root, len(videos), len(skipped))
        return cls(root)

    # ---- videos ---------------------------------------------------------------------------

    def video_path(self, name: str) -> Path:
        return self.videos_dir / self.videos[name].file

    def media_path(self, name: str) -> Path:
        """The H.264 copy of video ``name`` (``claus label transcode``)."""
        return self.root / MEDIA / f"{name}.mp4"

    def media_size(self, name: str) -> tuple[int, int]:
        """(width, height) of the frames the tool shows: the H.264 copy's when there is one
        (:mod:`claus_core.labeling.transcode` crops an odd width or height by one pixel, so its
        pixels are the original's), else the video's own."""
        video = self.videos[name]
        if self.media_path(name).exists():
            return video.width // 2 * 2, video.height // 2 * 2
        return video.width, video.height

    def record(self, name: str, tubes: tuple[Tube, ...] = ()) -> VideoRecord:
        """Video ``name`` as a record (label -1: not known before it is annotated)."""
        video = self.videos[name]
        return VideoRecord(
            name, -1, video.num_frames, video.width, video.height, tubes, self.video_path(name)
        )

    def selection_pool(self, exclude: Sequence[str] = ()) -> VideoPool:
        """Every video as the selection sees it: each frame costs one unit (one placeholder tube
        over the whole video, label -1), since its boxes are unknown until drawn."""
        left = set(exclude)
        records = []
        for name, video in self.videos.items():
            if name in left:
                continue
            whole = Tube(0, 0, video.num_frames, [[0.0, 0.0, 1.0, 1.0]] * video.num_frames)
            records.append(self.record(name, (whole,)))
        return VideoPool("labeling", "pool", self.config.classes, tuple(records))

    # ---- rounds ---------------------------------------------------------------------------

    def round_dir(self, index: int) -> Path:
        return self.root / f"round{index}"

    def rounds(self) -> list[int]:
        """Rounds with a request, ascending (round 0, 1, ...: never a gap)."""
        found, index = [], 0
        while (self.round_dir(index) / "request.json").exists():
            found.append(index)
            index += 1
        return found

    def request(self, index: int) -> dict[str, Any]:
        path = self.round_dir(index) / "request.json"
        if not path.exists():
            known = self.rounds()
            raise StoreError(
                f"{path}: round {index} does not exist (this project has rounds {known or 'none'}; "
                "`claus label select` makes the next one)"
            )
        return read_keys(path, "round", "frames", "budget", "strategy")

    def asked(self, index: int) -> dict[str, tuple[int, ...]]:
        """Round ``index``'s asked frames per video (0-based), checked against the videos."""
        path = self.round_dir(index) / "request.json"
        frames = _expect(self.request(index)["frames"], dict, f"{path}: 'frames'")
        asked = {}
        for name, fs in frames.items():
            where = f"{path}: video {name!r}"
            if name not in self.videos:
                raise StoreError(f"{where} is not one of the project's videos")
            _expect(fs, list, where)
            if not all(isinstance(f, int) and 0 <= f < self.videos[name].num_frames for f in fs):
                raise StoreError(
                    f"{where}: frames must be integers in [0, {self.videos[name].num_frames})"
                )
            asked[name] = tuple(fs)
        return asked

    def annotations_path(self, index: int) -> Path:
        return self.round_dir(index) / "annotations.json"

    def annotations(self, index: int) -> RoundAnnotations | None:
        path = self.annotations_path(index)
        if not path.exists():
            return None
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise StoreError(f"{path}: cannot be read ({err})") from err
        return RoundAnnotations.from_json(text, source=str(path))

    def labeled(self, before: int) -> dict[str, list[VideoAnnotations]]:
        """Every annotated video of rounds ``< before``: its annotations, round by round."""
        found: dict[str, list[VideoAnnotations]] = {}
        for index in range(before):
            imported = self.annotations(index)
            if imported is None:
                continue
            for name, video in imported.videos.items():
                found.setdefault(name, []).append(video)
        return found

    def holdout(self) -> tuple[str, ...]:
        path = self.root / "holdout.json"
        if not path.exists():
            return ()
        names = _expect(read_keys(path, "videos")["videos"], list, f"{path}: 'videos'")
        if not all(isinstance(n, str) for n in names):
            raise StoreError(f"{path}: 'videos' must list video names")
        return tuple(names)

    def holdout_chosen(self) -> bool:
        return (self.root / "holdout.json").exists()

    def save_holdout(self, names: Sequence[str]) -> None:
        write_json(self.root / "holdout.json", {"videos": list(names)})

    def write_request(self, index: int, payload: dict[str, Any]) -> None:
        write_json(self.round_dir(index) / "request.json", payload)

    def save_annotations(self, imported: RoundAnnotations, *, replace: bool) -> Path:
        """Write an import atomically; a round imported before needs ``replace``."""
        path = self.annotations_path(imported.round)
        if path.exists() and not replace:
            raise StoreError(
                f"{path}: round {imported.round} was imported before; pass --replace to replace "
                "that import (the earlier one is kept until then)"
            )
        atomic_write(path, lambda tmp: tmp.write_text(imported.to_json(), encoding="utf-8"))
        return path

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """An exclusive lock on the project while a command writes it (``fcntl.flock``)."""
        with open(self.root / ".lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(
                    f"{self.root}: in use by another claus command; wait for it to finish"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ---- status ---------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """One row per round: frames asked, imported, annotated (extra, empty), boxes (cost),
        the cumulative cost, and the validation f-mAP / v-mAP at IoU 0.5 of the model that
        selected it, on the held-out videos (NaN without one; every threshold is in
        ``round<r>/model/validation.json``)."""
        rows, total = [], 0
        for index in self.rounds():
            asked = self.asked(index)
            imported = self.annotations(index)
            row: dict[str, Any] = {
                "round": index,
                "videos asked": len(asked),
                "frames asked": sum(len(fs) for fs in asked.values()),
                "videos annotated": 0,
                "frames annotated": 0,
                "frames extra": 0,
                "frames no action": 0,
                "boxes": 0,
            }
            if imported is not None:
                videos = imported.videos.values()
                row.update(
                    {
                        "videos annotated": len(imported.videos),
                        "frames annotated": sum(len(v.annotated) for v in videos),
                        "frames extra": sum(len(v.extra) for v in videos),
                        "frames no action": sum(len(v.empty()) for v in videos),
                        "boxes": imported.cost(),
                    }
                )
            total += row["boxes"]
            row["cost so far"] = total
            path = self.round_dir(index) / "model" / "validation.json"
            metrics = read_keys(path, "metrics")["metrics"] if path.exists() else {}
            for name in VALIDATION_METRICS:
                row[f"validation {name}"] = metrics.get(name, float("nan"))
            rows.append(row)
        return rows
