"""Does the tiny capsule detector learn on SynthUCF24, and how fast? (a measurement script)

Trains ``DetectorConfig.tiny()`` (through :func:`claus_core.engine.training.train_round`, the engine's own
training) on the fully annotated frames of ``--videos`` training videos of SynthUCF24 and
evaluates it on a fixed, class-balanced subset of the test split (every ``--test-every``-th
video): f-mAP / v-mAP (supplementary Section 8, VideoCapsuleNet protocol), class accuracy, the
mean per-video IoU of the predicted masks, and the wall time of training and evaluation.
``--videos`` may list several sizes and ``--seeds`` several seeds (one fresh detector each):
the table then shows what the annotation budget buys, as mean +- std over seeds.
``--sparse-frames k`` annotates only k evenly spaced ground-truth frames per video (the
active-learning regime, supplementary Section 6) and ``--variants`` lists the localization
losses to compare there (``stew``, ``interpolate``, ``frame``; Table 10).

Always run with one torch thread on a shared CPU (``--threads 1``, the default): two threads on
shared cores were measured 20x slower per step.

Example::

    .venv/bin/python scripts/learnability.py --videos 12 48 --epochs 10 --lr 2e-3 --seeds 0 1
    .venv/bin/python scripts/learnability.py --videos 48 --sparse-frames 2 \\
        --variants stew interpolate frame --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from itertools import product
from pathlib import Path

import numpy as np
import torch

from claus_core.config import ExperimentConfig, TrainConfig
from claus_core.data.synthetic import SynthConfig
from claus_core.data.types import AnnotationState
from claus_core.engine.experiment import detector_for
from claus_core.engine.sources import make_sources
from claus_core.engine.training import train_round
from claus_core.evaluation import EvaluationConfig, evaluate_detector
from claus_core.losses import LossConfig
from claus_core.model.config import DetectorConfig
from claus_core.model.factory import new_detector

logger = logging.getLogger("learnability")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, nargs="+", default=[48], help="labeled videos")
    parser.add_argument("--epochs", type=int, default=None, help="default: TrainConfig's")
    parser.add_argument("--lr", type=float, default=None, help="default: TrainConfig's")
    parser.add_argument("--frame-size", type=int, default=64, help="SynthConfig.frame_size")
    parser.add_argument("--classification-weight", type=float, default=1.0)
    parser.add_argument("--localization-weight", type=float, default=1.0)
    parser.add_argument("--margin", type=float, default=None, help="fixed spread-loss margin")
    parser.add_argument(
        "--no-margin-schedule",
        action="store_true",
        help="LossConfig(margin_schedule=False): the margin stays at margin_min",
    )
    parser.add_argument(
        "--foreground-prior",
        type=float,
        default=None,
        help="DetectorConfig.foreground_prior (default: the preset's)",
    )
    parser.add_argument(
        "--sparse-frames",
        type=int,
        default=None,
        help="annotate only this many evenly spaced frames per video (default: all)",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["stew"],
        choices=["stew", "interpolate", "frame"],
        help="localization loss variants (LossConfig.variant)",
    )
    parser.add_argument("--test-every", type=int, default=4, help="test subset: every k-th video")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    return parser.parse_args(argv)


def experiment(args: argparse.Namespace, *, seed: int, variant: str) -> ExperimentConfig:
    train = TrainConfig(
        clips_per_video=2,
        cluster_loss=False,
        classification_weight=args.classification_weight,
        localization_weight=args.localization_weight,
        device="cpu",
    )
    if args.epochs is not None:
        train = replace(train, epochs=args.epochs)
    if args.lr is not None:
        train = replace(train, learning_rate=args.lr)
    loss = LossConfig(variant=variant, margin_schedule=not args.no_margin_schedule)
    if args.margin is not None:
        loss = replace(loss, margin_min=args.margin, margin_max=args.margin)
    synth = SynthConfig(frame_size=args.frame_size)
    return ExperimentConfig(synth=synth, train=train, loss=loss, strategy="random", seed=seed)


def labeled_frames(annotated: np.ndarray, sparse_frames: int | None) -> tuple[int, ...]:
    """All ground-truth frames (``annotated`` [frame] bool), or ``sparse_frames`` evenly spaced.

    k sparse frames sit at the centres of k equal parts of the annotated frames (k = 2: at
    1/4 and 3/4 of the actor's span), as a budget-limited annotator would spread them.
    """
    frames = np.flatnonzero(annotated)  # [annotated]
    if sparse_frames is None or sparse_frames >= frames.size:
        return tuple(frames.tolist())
    positions = ((np.arange(sparse_frames) + 0.5) * frames.size / sparse_frames).astype(int)
    return tuple(frames[positions].tolist())


def run_one(
    config: ExperimentConfig,
    videos: int,
    *,
    test_every: int,
    sparse_frames: int | None,
    foreground_prior: float | None,
) -> dict[str, float | int | str]:
    """Train a fresh tiny detector on ``videos`` annotated videos; evaluate it."""
    train_source, test_source = make_sources(config)
    pool = train_source.pool
    if not 1 <= videos <= len(pool):
        raise ValueError(f"--videos must be in [1, {len(pool)}], got {videos}")
    step = max(1, len(pool) // videos)
    names = pool.names[::step][:videos]  # spread over the (class-sorted) pool
    frames = {n: labeled_frames(pool[n].annotated_frames(), sparse_frames) for n in names}
    state = AnnotationState(0, tuple(names), frames)
    detector: DetectorConfig = detector_for(config, pool.num_classes)
    if foreground_prior is not None:
        detector = replace(detector, foreground_prior=foreground_prior)
    model = new_detector(detector, config.seed)
    stats = train_round(
        model, train_source, state, config, clusters=None, round_index=0, progress=False
    )
    evaluation = EvaluationConfig(input_size=(detector.input_size, detector.input_size))
    test_names = test_source.pool.names[::test_every]
    for name in test_names:  # render outside the timed evaluation
        test_source.frames(name)
    result = evaluate_detector(
        model, test_source, config=evaluation, names=test_names, progress=False
    )
    table = {f"{r.metric}@{r.threshold:g}": float(r.value) for r in result.table.itertuples()}
    accuracy = float((result.videos.label == result.videos.predicted_label).mean())
    return {
        "seed": config.seed,
        "variant": config.loss.variant,
        "videos": videos,
        "frames": int(sum(len(f) for f in frames.values())),
        "steps": stats.steps,
        "train_s": stats.seconds,
        "s_per_step": stats.seconds / max(stats.steps, 1),
        "eval_s": float(result.seconds),
        "test_videos": len(test_names),
        "first_loss": stats.losses[0],
        "last_loss": stats.losses[-1],
        "f-mAP@0.5": table.get("f-mAP@0.5", float("nan")),
        "v-mAP@0.5": table.get("v-mAP@0.5", float("nan")),
        "f-mAP@0.2": table.get("f-mAP@0.2", float("nan")),
        "class_accuracy": accuracy,
        "mean_iou": float(np.nanmean(result.videos.iou.to_numpy(dtype=float))),
    }


def summarize(rows: list[dict[str, float | int | str]]) -> list[str]:
    """One line per (variant, videos): mean +- std over the seeds of the main metrics."""
    metrics = ["f-mAP@0.5", "v-mAP@0.5", "class_accuracy", "train_s"]
    lines = [" | ".join(["variant", "videos", "frames", "seeds", *metrics])]
    keys = sorted({(str(r["variant"]), int(r["videos"])) for r in rows})
    for variant, videos in keys:
        group = [r for r in rows if r["variant"] == variant and r["videos"] == videos]
        cells = [variant, str(videos), str(group[0]["frames"]), str(len(group))]
        for metric in metrics:
            values = np.array([float(r[metric]) for r in group])  # [seed]
            cells.append(f"{values.mean():.3f} +- {values.std():.3f}")
        lines.append(" | ".join(cells))
    return lines


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    rows: list[dict[str, float | int | str]] = []
    for seed, variant, videos in product(args.seeds, args.variants, args.videos):
        config = experiment(args, seed=seed, variant=variant)
        logger.info(
            "seed %d, %d videos: train %s, loss %s", seed, videos, config.train, config.loss
        )
        row = run_one(
            config,
            videos,
            test_every=args.test_every,
            sparse_frames=args.sparse_frames,
            foreground_prior=args.foreground_prior,
        )
        rows.append(row)
        rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
        logger.info(json.dumps(rounded))
        if args.json is not None:
            args.json.write_text(json.dumps(rows, indent=1))
    for line in summarize(rows):
        logger.info(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
