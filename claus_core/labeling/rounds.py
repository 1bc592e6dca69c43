"""One labeling round: train on what people annotated, select what they annotate next, export it.

Algorithm 1 of the supplementary with a person as the oracle (Section 5.1). ``select`` for
round r::

    round 0:  no annotation yet ──> initial selection (random videos; random or evenly
              spaced frames)
    round r:  annotations of rounds < r ──training_record──> tubes from the human boxes
              ──> train (STeW targets, deep clusters; warm start from round r-1's model)
              ──> validate on the held-out labeled videos (f-mAP / v-mAP)
              ──> score every other video (MC dropout) ──> k-means on the trained latents
              ──> select under the budget (Algorithm 1 or a baseline); frames annotated in an
                  earlier round are never selected again
    then:     request.json + the tool's tasks (with the model's boxes as pre-annotations)

``import_round`` reads the tool's export for one round (all files, or nothing: an import is one
atomic write) and ``export_round`` writes a round's tasks again, in any format.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from claus_core.clustering import DeepClusters
from claus_core.data.types import AnnotationState, DataError, Tube, VideoPool, VideoRecord
from claus_core.data.video import VideoFolder
from claus_core.engine.round_step import pool_scorer, select_step
from claus_core.engine.sources import REAL_VIDEO_CACHE_BYTES, CachedSource
from claus_core.engine.training import clip_latents, train_round, training_device
from claus_core.evaluation import evaluate_detector, predict_video
from claus_core.export import (
    label_studio_config,
    new_frames,
    to_csv,
    to_cvat_video_xml,
    to_label_studio_json,
    write_text,
)
from claus_core.files import StoreError, file_sha256, read_json, read_npz, write_json, write_npz
from claus_core.labeling import cvat, label_studio
from claus_core.labeling.annotations import RoundAnnotations, spans_of, training_record
from claus_core.labeling.project import LabelProject
from claus_core.metrics import mask_boxes
from claus_core.model.checkpoint import load_detector, save_detector
from claus_core.model.config import DetectorConfig
from claus_core.model.factory import detector_config, new_detector
from claus_core.selection import Budget, initial_selection
from claus_core.store import check_digests, metrics_dict

logger = logging.getLogger(__name__)

IMPORT_FORMATS = label_studio.FORMATS + cvat.FORMATS


def project_detector(project: LabelProject) -> DetectorConfig:
    """The project's detector preset for its classes (:mod:`claus_core.model.factory`)."""
    return detector_config(preset=project.config.detector, num_classes=len(project.config.classes))


# ---- select -------------------------------------------------------------------------------


def select_round(
    project: LabelProject,
    *,
    videos: int,
    frames: int,
    strategy: str | None = None,
    progress: bool = True,
) -> int:
    """Make the next round: its request and its tasks (module docstring). Returns its index."""
    with project.lock():
        rounds = project.rounds()
        index = len(rounds)
        if rounds and project.annotations(rounds[-1]) is None:
            rebuilt = _rebuild_tasks(project, rounds[-1])
            raise StoreError(
                f"{project.round_dir(rounds[-1])}: round {rounds[-1]} was asked for but nothing "
                f"was imported; `claus label import {project.root} --round {rounds[-1]} FILE` first"
                + (f" ({rebuilt})" if rebuilt else "")
            )
        strategy = strategy or project.config.strategy
        dataclasses.replace(project.config, strategy=strategy)  # refused here, before training
        _check_candidates(project, index, strategy)
        budget = Budget(videos=videos, frame_cost=frames)
        if index == 0:
            rng = np.random.default_rng([project.config.seed, 0, 0])
            result = initial_selection(
                project.selection_pool(),
                budget,
                rng,
                frames=project.config.initial_frames,
                config=project.config.selection,
            )
            strategy, model_dir, before = "initial", None, AnnotationState.empty()
        else:
            result, model_dir, before = _trained_selection(
                project, index, strategy, budget, progress
            )
        asked = new_frames(before, result.state)
        if not asked:
            raise DataError(
                f"round {index}: the budget ({videos} videos, {frames} frames) selected no frame; "
                f"notes: {list(result.notes)}"
            )
        project.write_request(
            index,
            {
                "round": index,
                "strategy": strategy,
                "budget": {"videos": videos, "frames": frames},
                "frames": {name: list(fs) for name, fs in asked.items()},
                "model": None if model_dir is None else "model",
                "notes": list(result.notes),
                "records": list(result.records),
            },
        )
        try:  # a round exists once its request and its tasks both do
            _write_tasks(project, index, include_boxes=model_dir is not None)
        except BaseException:
            (project.round_dir(index) / "request.json").unlink(missing_ok=True)
            raise
    logger.info(
        "round %d: %d frames of %d videos asked (%s)",
        index,
        sum(map(len, asked.values())),
        len(asked),
        strategy,
    )
    return index


def _check_candidates(project: LabelProject, index: int, strategy: str) -> None:
    """Refuse, before any training, a round whose strategy has nothing left to choose: every
    strategy but ``intra_sample`` (and an ``only_frame`` increment) asks for new videos."""
    if (
        index == 0
        or strategy == "intra_sample"
        or project.config.selection.increment == "only_frame"
    ):
        return
    taken = {name for r in range(index) for name in project.asked(r)} | set(project.holdout())
    left = [n for n in project.videos if n not in taken]
    if not left:
        raise DataError(
            f"{project.root}: every video has been asked for in rounds 0-{index - 1}, and "
            f"{strategy!r} chooses new videos: nothing is left for round {index}. Ask for more "
            f"frames of the labelled videos with `claus label select {project.root} --strategy "
            "intra_sample ...`, or start a project with more videos"
        )


def _training_data(
    project: LabelProject, index: int
) -> tuple[dict[str, VideoRecord], dict[str, tuple[int, ...]]]:
    """Every video annotated before round ``index``: its record with the human tubes (None
    without a box) and its annotated frames."""
    records, frames = {}, {}
    for name, rounds in project.labeled(index).items():
        record, annotated = training_record(project.record(name), rounds, project.config.classes)
        frames[name] = annotated
        if record is not None:
            records[name] = record
    return records, frames


def _state_of(frames: dict[str, tuple[int, ...]], index: int, pool: VideoPool) -> AnnotationState:
    """The annotated ``frames`` (before round ``index``) of the videos in ``pool``."""
    kept = {n: fs for n, fs in frames.items() if n in pool}
    return AnnotationState(index - 1, tuple(kept), kept)


def _holdout(project: LabelProject) -> tuple[str, ...]:
    """The held-out videos: chosen at the first trained round, among round 0's annotated videos
    with a box (one of them stays to train), so that no model has trained on them. The choice
    holds once a trained round's request exists; a ``holdout.json`` written by a ``select`` that
    never finished (interrupted, or refused for want of boxes) is chosen again from round 0 as it
    now is, never trusted. When round 0 has too few, none is held out (``holdout.json`` says so)."""
    if project.config.holdout == 0:
        return ()
    if project.holdout_chosen() and len(project.rounds()) > 1:
        return project.holdout()
    round0 = {
        name: videos for name, videos in project.labeled(1).items() if any(v.tracks for v in videos)
    }
    names = sorted(round0)
    count = min(project.config.holdout, len(names) - 1)
    rng = np.random.default_rng([project.config.seed, 3])
    chosen = (
        () if count < 1 else tuple(sorted(rng.choice(names, size=count, replace=False).tolist()))
    )
    if len(chosen) < project.config.holdout:
        logger.warning(
            "%s: %d of the %d held-out videos asked for (round 0 has %d annotated videos with a "
            "box, and one must train)", project.root, len(chosen), project.config.holdout, len(names),
        )  # fmt: skip
    project.save_holdout(chosen)
    return chosen


def _trained_selection(
    project: LabelProject, index: int, strategy: str, budget: Budget, progress: bool
) -> tuple[Any, Path, AnnotationState]:
    """Round ``index >= 1``: train, validate, score, cluster and select (module docstring)."""
    config = project.config
    records, frames = _training_data(project, index)
    holdout = _holdout(project)
    gone = [n for n in holdout if n not in records]
    if gone:  # a later import of round 0 left it without a box: nothing to validate on
        logger.warning("%s: held-out videos without a box any more, not validated on: %s",
                       project.root, ", ".join(gone))  # fmt: skip
        holdout = tuple(n for n in holdout if n in records)
    train_names = [n for n in records if n not in holdout]
    if not train_names:
        raise DataError(
            f"{project.root}: no annotated video with a box to train on (rounds < {index}: "
            f"{len(frames)} annotated videos, all empty or held out)"
        )
    detector = project_detector(project)
    size = detector.input_size
    folder = project.round_dir(index) / "model"
    train_pool = VideoPool(
        "labeling", "train", config.classes, tuple(records[n] for n in train_names)
    ).at_size(size, size)  # decoded at the input size: memory does not grow with resolution
    state = AnnotationState(index, tuple(train_names), {n: frames[n] for n in train_names})
    train_source = CachedSource(
        VideoFolder(train_pool), max_bytes=REAL_VIDEO_CACHE_BYTES
    )  # every step reads it
    key = _training_key(project, index, train_names)
    model = _finished_training(folder, key, project)
    if model is None:
        shutil.rmtree(folder, ignore_errors=True)  # an earlier attempt's files of other inputs
        model, clusters = _start_model(project, index, detector)
        stats = train_round(model, train_source, state, config, clusters=clusters,
                            round_index=index, progress=progress)  # fmt: skip
        save_detector(
            folder / "checkpoint.pt", model, extra={"round": index, "project": project.id}
        )
        write_json(
            folder / "training.json",
            {"videos": train_names, "frames": sum(len(frames[n]) for n in train_names),
             "stats": dataclasses.asdict(stats), "key": key},
        )  # fmt: skip
        _seal_model(folder)  # a retry after a later failure reuses this training
    if holdout:
        held = VideoPool("labeling", "holdout", config.classes, tuple(records[n] for n in holdout))
        held = held.at_size(size, size)
        evaluation = dataclasses.replace(config.evaluation, input_size=(size, size))
        result = evaluate_detector(model, VideoFolder(held), config=evaluation, progress=progress)
        metrics = metrics_dict(result.table)
        write_json(folder / "validation.json", {"videos": list(holdout), "metrics": metrics})
    pool = project.selection_pool(holdout)
    source = VideoFolder(pool.at_size(size, size))  # each video decoded once, for its scores
    before = _state_of(frames, index, pool)
    cluster = dataclasses.replace(config.cluster, seed=config.seed)
    step = select_step(
        pool=pool, state=before, strategy=strategy, budget=budget, selection=config.selection,
        score=pool_scorer(model, source, config=dataclasses.replace(config.scoring, size=(size, size)),
                          seed=config.seed, round_index=index, progress=progress),
        cluster=cluster if config.train.cluster_loss else None, round_index=index - 1,
        rng_key=[config.seed, index, 2],
        # the training videos are not in the pool, so not scored: their clips without dropout
        training_latents=lambda: clip_latents(model, train_source, train_names, size),
    )  # fmt: skip
    if step.scored:
        write_npz(folder / "scores.npz", step.score_arrays())
    if step.clusters is not None:
        step.clusters.save(folder / "clusters.npz")  # the next round trains with them
    _save_predictions(project, model, folder, sorted(new_frames(before, step.result.state)), size)
    _seal_model(folder)
    return step.result, folder, before


def _write_tasks(project: LabelProject, index: int, *, include_boxes: bool) -> Path:
    """Round ``index``'s tasks for the project's tool in ``round<index>/export``, all or none:
    written in a staging folder that is renamed into place."""
    out = project.round_dir(index) / "export"
    staging = out.with_name(".export.partial")
    shutil.rmtree(staging, ignore_errors=True)  # left by a select killed while exporting
    export_round(project, index, project.config.tool, staging, include_boxes=include_boxes)
    shutil.rmtree(out, ignore_errors=True)  # a round without a request has no valid tasks
    os.replace(staging, out)
    return out


def _rebuild_tasks(project: LabelProject, index: int) -> str | None:
    """Write round ``index``'s tasks again when a killed ``select`` left its request without
    them (the process died between the two writes); returns what was done, for the user."""
    out = project.round_dir(index) / "export"
    if out.is_dir():
        return None
    logger.warning("%s: round %d has a request but no tasks (a select was interrupted); "
                   "writing them again", project.root, index)  # fmt: skip
    model = project.round_dir(index) / "model" / "predictions.npz"
    _write_tasks(project, index, include_boxes=model.exists())
    return f"its tasks were missing, a select was interrupted: written again in {out}"


DIGESTS = "digests.json"  # in round<r>/model: every file's SHA-256, written last


def _training_key(project: LabelProject, index: int, train_names: Sequence[str]) -> str:
    """What round ``index``'s training depends on: its videos, the project's config, every
    earlier import (their files' SHA-256) and the model it starts from (its digests)."""
    previous = project.round_dir(index - 1) / "model" / DIGESTS
    imports = [project.annotations_path(r) for r in range(index)]
    parts = {
        "videos": list(train_names),
        "config": project.config.to_dict(),
        "imports": [file_sha256(path) if path.exists() else None for path in imports],
        "start": read_json(previous, dict) if previous.exists() else None,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _finished_training(folder: Path, key: str, project: LabelProject) -> Any:
    """The model an earlier attempt at this round trained on the same inputs (``key``), when
    its sealed files are intact: a select that failed after training retries without training
    again. None otherwise."""
    path = folder / "training.json"
    if not path.exists():
        return None
    try:
        if not _sealed(folder) or read_json(path, dict).get("key") != key:
            return None
    except StoreError as err:
        logger.warning("%s: not reused (%s); training again", folder, err)
        return None
    model, _ = load_detector(folder / "checkpoint.pt", map_location=training_device(project.config))
    for stale in folder.iterdir():  # what the failed attempt wrote after training (its scores,
        if stale.name not in ("checkpoint.pt", "training.json", DIGESTS):  # clusters): redone
            stale.unlink()
    _seal_model(folder)
    logger.info("%s: the training of an earlier attempt on the same inputs is reused", folder)
    return model


def _seal_model(folder: Path) -> None:
    """Record the SHA-256 of every file of a round's model folder, last (as a run folder's
    ``round.json`` does), so that a later round never warm-starts from a changed file."""
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != DIGESTS)
    write_json(folder / DIGESTS, {name: file_sha256(folder / name) for name in files})


def _sealed(folder: Path) -> bool:
    """Whether ``folder`` was sealed by :func:`_seal_model`; its files must then match their
    digests (StoreError naming the file otherwise)."""
    path = folder / DIGESTS
    if not path.exists():
        return False
    check_digests(folder, read_json(path, dict), missing="missing since its round was written",
                  changed="changed or corrupt since its round was written")  # fmt: skip
    return True


def _start_model(
    project: LabelProject, index: int, detector: DetectorConfig
) -> tuple[Any, DeepClusters | None]:
    """Round ``index - 1``'s model and the clusters fitted after it (warm start, once its files
    match their digests), or a new model; without clusters (the first training, a folder never
    sealed, or ``train.cluster_loss`` off) no cluster loss."""
    config = project.config
    previous = project.round_dir(index - 1) / "model"
    if config.train.warm_start and (previous / "checkpoint.pt").exists():
        if _sealed(previous):
            model, _ = load_detector(
                previous / "checkpoint.pt", map_location=training_device(config)
            )
            if config.train.cluster_loss and (previous / "clusters.npz").exists():
                return model, DeepClusters.load(previous / "clusters.npz")
            return model, None
        logger.warning(
            "%s: no %s (an interrupted select, or an older claus): its files are not trusted; "
            "round %d trains a new model instead of warm-starting", previous, DIGESTS, index,
        )  # fmt: skip
    return new_detector(detector, config.seed).to(training_device(config)), None


def _save_predictions(
    project: LabelProject, model: Any, folder: Path, names: Sequence[str], size: int
) -> None:
    """The model's box on every frame of the selected videos (NaN: none) and its class, for
    pre-annotations: ``predictions.npz`` (``boxes/<video>`` [frame, 4] x, y, w, h in the video's
    own pixels; ``label/<video>``). The model sees each video at its input size."""
    evaluation = dataclasses.replace(project.config.evaluation, input_size=(size, size))
    pool = project.selection_pool().subset(names)
    source = VideoFolder(pool.at_size(size, size))
    arrays: dict[str, np.ndarray] = {}
    for video in pool:
        prediction = predict_video(model, source.frames(video.name), config=evaluation,
                                   name=video.name)  # fmt: skip
        corners = mask_boxes(prediction.foreground >= evaluation.mask_threshold)  # [frame, 4]
        boxes = np.concatenate([corners[:, :2], corners[:, 2:] - corners[:, :2]], axis=1)
        scale = np.array([video.width, video.height] * 2) / size  # input pixels -> video pixels
        arrays[f"boxes/{video.name}"] = boxes * scale
        arrays[f"label/{video.name}"] = np.array(prediction.label)
    write_npz(folder / "predictions.npz", arrays)


def prediction_pool(project: LabelProject, index: int) -> VideoPool | None:
    """Round ``index``'s videos with the model's boxes as tubes (None before a model exists)."""
    path = project.round_dir(index) / "model" / "predictions.npz"
    if not path.exists():
        return None
    _sealed(path.parent)
    arrays = read_npz(path)
    records = []
    for name in project.asked(index):
        boxes = arrays[f"boxes/{name}"]  # [frame, 4], NaN rows: no box
        label = int(arrays[f"label/{name}"])
        tubes = tuple(Tube(label, a, b, boxes[a:b]) for a, b in spans_of(~np.isnan(boxes[:, 0])))
        base = project.record(name)
        records.append(dataclasses.replace(base, label=label, tubes=tubes))
    return VideoPool("labeling", "predictions", project.config.classes, tuple(records))


# ---- export -------------------------------------------------------------------------------


def export_round(
    project: LabelProject,
    index: int,
    fmt: str,
    out: Path,
    *,
    include_boxes: bool = False,
    video_url_prefix: str | None = None,
    cumulative: bool = False,
) -> list[Path]:
    """Write round ``index``'s tasks in ``fmt`` (``labelstudio``, ``cvat`` or ``csv``) under
    ``out``; ``include_boxes``: the round's model's boxes as pre-annotations (Label Studio
    predictions, CVAT tracks); ``cumulative``: every frame asked up to this round."""
    frames: dict[str, list[int]] = {}
    for r in range(index + 1) if cumulative else [index]:
        for name, fs in project.asked(r).items():
            frames.setdefault(name, []).extend(fs)
    if include_boxes and cumulative:
        raise ValueError(
            "--boxes with --cumulative: each round's predictions come from its own model; export "
            "the rounds one by one to get their boxes"
        )
    predicted = prediction_pool(project, index) if include_boxes else None
    pool = project.selection_pool() if predicted is None else predicted
    boxes = predicted is not None
    prefix = project.config.video_url_prefix if video_url_prefix is None else video_url_prefix
    written: list[Path] = []

    def write(path: Path, text: str) -> None:
        written.append(write_text(path, text))

    stem = f"round{index}"
    if fmt == "labelstudio":
        tasks = _label_studio_tasks(project, index, pool, frames, prefix, include_boxes=boxes)
        write(out / f"{stem}_labelstudio_tasks.json", json.dumps(tasks, indent=1))
        write(out / f"{stem}_labelstudio_config.xml", label_studio_config(project.config.classes))
    elif fmt == "cvat":
        for name, text in to_cvat_video_xml(pool, frames, include_boxes=boxes).items():
            write(out / f"{stem}_cvat" / f"{name}.xml", text)
    elif fmt == "csv":
        write(out / f"{stem}_frames.csv", to_csv(project.selection_pool(), frames))
    else:
        raise ValueError(f"unknown export format {fmt!r}; choose labelstudio, cvat or csv")
    return written


def _label_studio_tasks(
    project: LabelProject,
    index: int,
    pool: VideoPool,
    frames: dict[str, list[int]],
    prefix: str,
    *,
    include_boxes: bool,
) -> list[dict[str, Any]]:
    """Label Studio tasks of ``frames`` (``data.claus_round`` = ``index``); with
    ``include_boxes`` the tubes of ``pool`` as predictions of version ``model_version(index)``."""
    extensions = {
        n: ".mp4" if project.media_path(n).exists() else Path(project.videos[n].file).suffix
        for n in frames
    }
    fps = {n: project.videos[n].fps for n in frames}
    tasks = to_label_studio_json(
        pool, frames, video_url_prefix=prefix, video_extension=extensions, fps=fps,
        include_boxes=include_boxes, model_version=model_version(index),
    )  # fmt: skip
    for task in tasks:
        task["data"]["claus_round"] = index
    return tasks


def model_version(index: int) -> str:
    """The version of round ``index``'s model in Label Studio (a new one every round)."""
    return f"claus round {index}"


def label_studio_tasks(project: LabelProject, index: int) -> list[dict[str, Any]]:
    """Round ``index``'s Label Studio tasks as ``select`` exported them, with its model's boxes
    as predictions when it has a model (round 0 has none)."""
    predicted = prediction_pool(project, index)
    pool = project.selection_pool() if predicted is None else predicted
    frames = {name: list(fs) for name, fs in project.asked(index).items()}
    return _label_studio_tasks(project, index, pool, frames, project.config.video_url_prefix,
                               include_boxes=predicted is not None)  # fmt: skip


# ---- import -------------------------------------------------------------------------------


def _detect(path: Path, text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith("<"):
        return "cvat"
    if stripped.startswith("[") or stripped.startswith("{"):
        return "labelstudio"
    raise DataError(f"{path}: neither a Label Studio JSON export nor a CVAT XML file")


def _merge(parts: list[RoundAnnotations], index: int) -> RoundAnnotations:
    videos: dict[str, Any] = {}
    files: dict[str, str] = {}
    warnings: list[str] = []
    for part in parts:
        for name, video in part.videos.items():
            if name in videos:
                raise DataError(
                    f"video {name!r} is annotated in two of the files imported together: "
                    f"{files[name]} and {part.sources[0]['file']}"
                )
            videos[name] = video
            files[name] = part.sources[0]["file"]
        warnings.extend(part.warnings)
    formats = sorted({p.format for p in parts})
    return RoundAnnotations(
        index,
        "+".join(formats),
        videos,
        tuple(warnings),
        tuple(s for p in parts for s in p.sources),
    )


MAX_EXPORT_BYTES = 1 << 30  # 1 GiB: far above any export of a labeling round


def _read_export(path: Path) -> bytes:
    """The bytes of an export file: a regular file of at most :data:`MAX_EXPORT_BYTES` (a device
    such as ``/dev/zero`` or a pipe would be read without end)."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file (a folder, a device or a pipe)")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_EXPORT_BYTES + 1)
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror or err})") from err
    if len(raw) > MAX_EXPORT_BYTES:
        raise DataError(
            f"{path}: larger than {MAX_EXPORT_BYTES >> 20} MiB, not an export of one round"
        )
    return raw


def _no_constant(name: str) -> None:
    """``json.loads``' hook for NaN and Infinity, which no export holds (a frame number or a
    coordinate of Infinity would overflow later)."""
    raise ValueError(f"{name} is not a number an export holds")


def read_round_files(
    project: LabelProject, index: int, files: Sequence[Path], fmt: str | None = None
) -> RoundAnnotations:
    """The annotations of round ``index`` in ``files`` (Label Studio JSON / JSON_MIN exports,
    CVAT 1.1 XML files: one per video), checked against the round's request."""
    if fmt is not None and fmt not in IMPORT_FORMATS:
        raise ValueError(f"unknown import format {fmt!r}; choose one of {IMPORT_FORMATS}")
    asked = project.asked(index)
    records = {name: project.record(name) for name in project.videos}
    classes = project.config.classes
    parts = []
    for path in files:
        path = Path(path)
        raw = _read_export(path)
        try:
            text = raw.decode("utf-8-sig")  # a byte-order mark, as some editors save, is dropped
        except UnicodeDecodeError as err:
            raise DataError(f"{path}: cannot be read as UTF-8 text ({err})") from err
        family = _detect(path, text) if fmt is None else fmt.split("-")[0]
        common = {
            "source": str(path),
            "round_index": index,
            "videos": records,
            "classes": classes,
            "asked": asked,
            "shown_sizes": {n: project.media_size(n) for n in project.videos},
        }
        if family == "labelstudio":
            try:
                payload = json.loads(text, parse_constant=_no_constant)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}: not valid JSON ({err}); a truncated file?") from err
            except ValueError as err:
                raise DataError(f"{path}: {err}") from err
            except RecursionError:
                raise DataError(f"{path}: JSON nested too deep for an export") from None
            part = label_studio.read_label_studio(payload, fmt=fmt, **common)
        else:
            part = cvat.read_cvat(text, fmt=fmt, **common)
        digest = {"file": str(path), "sha256": hashlib.sha256(raw).hexdigest()}
        parts.append(dataclasses.replace(part, sources=(digest,)))
    if not parts:
        raise ValueError("no file to import")
    return _merge(parts, index)


def import_round(
    project: LabelProject,
    index: int,
    files: Sequence[Path],
    *,
    fmt: str | None = None,
    replace: bool = False,
) -> RoundAnnotations:
    """Read and save round ``index``'s annotations: every file is read and checked before one
    atomic write, so a failed import leaves the project as it was."""
    with project.lock():
        project.request(index)  # the round must exist
        if project.annotations_path(index).exists() and not replace:
            raise StoreError(
                f"{project.annotations_path(index)}: round {index} was imported before; pass "
                "--replace to replace that import (the earlier one is kept until then)"
            )
        later = [r for r in project.rounds() if r > index]
        if later and replace:
            raise StoreError(
                f"{project.root}: round {later[0]} was selected after round {index} was imported; "
                f"replacing round {index} would change what that round was selected from"
            )
        imported = read_round_files(project, index, files, fmt)
        if not imported.videos:  # no task of this round had an annotation: nothing to record
            why = "; ".join(imported.warnings[:3]) or "no task of this round"
            raise DataError(
                f"{', '.join(map(str, files))}: nothing of round {index} is annotated ({why}); "
                f"round {index} stays unimported"
            )
        project.save_annotations(imported, replace=replace)
    for warning in imported.warnings:
        logger.warning("%s", warning)
    return imported
