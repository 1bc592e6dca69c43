"""Does the tiny capsule detector learn on SynthUCF24, and how fast? (a measurement script)

Trains ``DetectorConfig.tiny()`` (through :func:`claus_core.loop.train_round`, the engine's own
training) on the fully annotated frames of ``--videos`` training videos of SynthUCF24 and
evaluates it on a fixed, class-balanced subset of the test split (every ``--test-every``-th
video): f-mAP / v-mAP (supplementary Section 8, VideoCapsuleNet protocol), class accuracy, the
mean predicted foreground fraction against the ground truth's, and the wall time of training and
evaluation. ``--videos`` may list several sizes (one fresh detector each): the table then shows
what the annotation budget buys.

Example::

    .venv/bin/python scripts/learnability.py --videos 12 48 240 --epochs 10 --lr 2e-3
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from claus_core.config import ExperimentConfig, TrainConfig
from claus_core.data.synthetic import SynthConfig
from claus_core.data.types import AnnotationState
from claus_core.evaluation import EvaluationConfig, evaluate_detector
from claus_core.loop import detector_config, make_sources, new_detector, train_round
from claus_core.losses import LossConfig

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
    parser.add_argument("--test-every", type=int, default=4, help="test subset: every k-th video")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    return parser.parse_args(argv)


def experiment(args: argparse.Namespace) -> ExperimentConfig:
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
    loss = LossConfig()
    if args.margin is not None:
        loss = replace(loss, margin_min=args.margin, margin_max=args.margin)
    synth = SynthConfig(frame_size=args.frame_size)
    return ExperimentConfig(
        synth=synth, train=train, loss=loss, strategy="random", seed=args.seed
    )


def run_one(config: ExperimentConfig, videos: int, test_every: int) -> dict[str, float]:
    """Train a fresh tiny detector on ``videos`` fully annotated videos; evaluate it."""
    train_source, test_source = make_sources(config)
    pool = train_source.pool
    step = max(1, len(pool) // videos)
    names = pool.names[::step][:videos]  # spread over the (class-sorted) pool
    frames = {n: tuple(np.flatnonzero(pool[n].annotated_frames()).tolist()) for n in names}
    state = AnnotationState(0, tuple(names), frames)
    detector = detector_config(config, pool.num_classes)
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
    }


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    config = experiment(args)
    logger.info("train %s, loss %s", config.train, config.loss)
    rows = []
    for videos in args.videos:
        row = run_one(config, videos, args.test_every)
        rows.append(row)
        logger.info(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))
    header = ["videos", "frames", "f-mAP@0.5", "v-mAP@0.5", "class_accuracy", "train_s", "eval_s"]
    logger.info(" | ".join(header))
    for row in rows:
        logger.info(" | ".join(f"{row[h]:.3f}" if isinstance(row[h], float) else str(row[h]) for h in header))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
