"""Learnability probe for the synthetic benchmarks: does annotation budget matter?

The active-learning study (paper Tables 2-8; supplementary Figure 4) only makes sense on data
where more labeled frames give a better detector. This probe checks that on SynthUCF24 /
SynthJHMDB21 WITHOUT the capsule model: two tiny CPU conv nets are trained on a nested random
1 %, 5 %, 20 % and 100 % of the annotated train frames (same number of gradient steps for
every budget) and evaluated on the annotated test frames:

- localization: a 5-layer fully convolutional net (16 channels; a stride-2 first layer, then
  dilations 1, 2, 4) maps two consecutive full-size frames (6 channels) to a foreground map at
  half resolution; score = mean IoU between the thresholded map and the GT foreground (the
  union of GT boxes; puppet masks for SynthJHMDB21) average-pooled to the same grid. A
  diagnostic, the share of distractor pixels predicted as foreground, shows what labels buy;
- classification: a 3-layer conv net (8-16-16 channels) classifies the GT box crop of the
  frame and its 3 predecessors (12 channels, resized to 16 x 16); score = accuracy over test
  boxes.

Both nets are trained for a fixed number of steps at every budget (small budgets repeat their
frames, the full budget sees each frame a few times), so the curve measures data, not compute.

For SynthJHMDB21 a third, pixel-free check asks whether the class is in the silhouettes at all:
a logistic regression on the resized GT puppet masks of each video (8 evenly spaced frames,
cropped to the video's union box, 12 x 12 each) trained on the same fractions of the train
*videos*, scored by video accuracy on the test split.

Usage::

    .venv/bin/python scripts/synth_probe.py --dataset ucf24 --size default \
        --out data_cards/synth_probe_ucf24.json

The table goes to the log (stderr); the JSON holds every number and the wall time.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from torch import nn

from claus_core.data.raster import video_masks
from claus_core.data.synthetic import (
    SynthConfig,
    SynthJHMDB21,
    SynthUCF24,
    make_synth_jhmdb21,
    make_synth_ucf24,
)

logger = logging.getLogger("synth_probe")

BUDGETS = (0.01, 0.05, 0.2, 1.0)
CROP = 16
CROP_FRAMES = 4  # the frame and its predecessors stacked for the classifier


@dataclass
class ProbeData:
    """Annotated frames of one split, ready for the two probes."""

    pairs: torch.Tensor  # [frame, 6, H, W] uint8: previous and current frame
    foreground: torch.Tensor  # [frame, 1, H/2, W/2] float: GT foreground fraction, pooled
    distractor: torch.Tensor  # [frame, 1, H/2, W/2] bool: mostly distractor pixels
    crops: torch.Tensor  # [box, 3 * CROP_FRAMES, CROP, CROP] uint8: GT box crops
    crop_labels: torch.Tensor  # [box] int64
    crop_frame: torch.Tensor  # [box] int64: index into pairs of the frame a crop comes from


def collect(source: SynthUCF24 | SynthJHMDB21, *, every: int = 1) -> ProbeData:
    """Every ``every``-th annotated frame of ``source`` with its previous frame and GT."""
    pairs, foreground, distractor, crops, labels, crop_frame = [], [], [], [], [], []
    for video in source.pool:
        rendered = source.render(video.name)
        frames = torch.from_numpy(rendered.frames).permute(0, 3, 1, 2).float()
        masks = torch.from_numpy(video_masks(video)).float()[:, None]  # [frame, 1, H, W]
        others = torch.from_numpy(rendered.distractor_mask).float()[:, None]  # [frame, 1, H, W]
        for t in np.flatnonzero(video.annotated_frames())[::every]:
            recent = [max(int(t) - k, 0) for k in reversed(range(CROP_FRAMES))]
            window = frames[recent].reshape(3 * CROP_FRAMES, video.height, video.width)
            pair = window[-6:]  # [6, H, W]: previous and current frame
            for tube in video.tubes:
                box = tube.box_at(int(t))
                if box is None:
                    continue
                x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
                x1 = min(video.width, max(x0 + 1, int(np.ceil(box[0] + box[2]))))
                y1 = min(video.height, max(y0 + 1, int(np.ceil(box[1] + box[3]))))
                crop = window[:, y0:y1, x0:x1][None]
                crop = F.interpolate(crop, size=(CROP, CROP), mode="bilinear", align_corners=False)
                crops.append(crop[0].round().to(torch.uint8))
                labels.append(tube.label)
                crop_frame.append(len(pairs))
            pairs.append(pair.round().to(torch.uint8))
            foreground.append(F.avg_pool2d(masks[t], 2))
            distractor.append(F.avg_pool2d(others[t], 2) > 0.5)
    return ProbeData(
        torch.stack(pairs),
        torch.stack(foreground),
        torch.stack(distractor),
        torch.stack(crops),
        torch.tensor(labels, dtype=torch.int64),
        torch.tensor(crop_frame, dtype=torch.int64),
    )


def localizer() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(6, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=2, dilation=2),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=4, dilation=4),
        nn.ReLU(),
        nn.Conv2d(16, 1, 1),
    )


def classifier(num_classes: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3 * CROP_FRAMES, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, num_classes),
    )


def train(
    model: nn.Module,
    inputs: torch.Tensor,
    loss_fn: object,
    targets: torch.Tensor,
    *,
    steps: int,
    batch: int,
    generator: torch.Generator,
) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        index = torch.randint(len(inputs), (min(batch, len(inputs)),), generator=generator)
        loss = loss_fn(model(inputs[index].float() / 255.0), targets[index])  # type: ignore[operator]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def localization_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, target)


@torch.no_grad()
def localization_scores(model: nn.Module, data: ProbeData) -> tuple[float, float]:
    """Mean foreground IoU, and the share of distractor pixels predicted as foreground."""
    model.eval()
    ious, fooled, distractor_pixels = [], 0, 0
    for start in range(0, len(data.pairs), 256):
        predicted = model(data.pairs[start : start + 256].float() / 255.0) > 0
        truth = data.foreground[start : start + 256] > 0.5
        inter = (predicted & truth).sum(dim=(1, 2, 3)).float()
        union = (predicted | truth).sum(dim=(1, 2, 3)).float().clamp(min=1)
        ious.append(inter / union)
        distractor = data.distractor[start : start + 256]
        fooled += int((predicted & distractor).sum())
        distractor_pixels += int(distractor.sum())
    return float(torch.cat(ious).mean()), fooled / max(distractor_pixels, 1)


@torch.no_grad()
def accuracy(model: nn.Module, data: ProbeData) -> float:
    model.eval()
    predicted = torch.cat(
        [
            model(data.crops[s : s + 512].float() / 255.0).argmax(1)
            for s in range(0, len(data.crops), 512)
        ]
    )
    return float((predicted == data.crop_labels).float().mean())


def run_probe(
    train_data: ProbeData,
    test_data: ProbeData,
    num_classes: int,
    *,
    seed: int,
    steps: int,
) -> list[dict[str, float]]:
    """Scores at each budget; budgets are nested random subsets of the annotated train frames."""
    order = torch.randperm(len(train_data.pairs), generator=torch.Generator().manual_seed(seed))
    rows = []
    for budget in BUDGETS:
        count = max(1, int(round(budget * len(order))))
        frames = order[:count]
        in_budget = torch.isin(train_data.crop_frame, frames)
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        start = time.perf_counter()
        loc = localizer()
        train(
            loc,
            train_data.pairs[frames],
            localization_loss,
            train_data.foreground[frames],
            steps=steps,
            batch=16,
            generator=generator,
        )
        cls = classifier(num_classes)
        train(
            cls,
            train_data.crops[in_budget],
            F.cross_entropy,
            train_data.crop_labels[in_budget],
            steps=steps,
            batch=64,
            generator=generator,
        )
        iou, fooled = localization_scores(loc, test_data)
        row = {
            "seed": seed,
            "budget": budget,
            "labeled_frames": int(count),
            "localization_iou": iou,
            "distractor_as_foreground": fooled,
            "classification_accuracy": accuracy(cls, test_data),
            "train_seconds": time.perf_counter() - start,
        }
        logger.info(
            "seed %d  budget %5.1f %%  frames %5d  loc IoU %.3f  distractor fg %.3f  "
            "class acc %.3f  (%.0f s)",
            seed,
            100 * budget,
            count,
            row["localization_iou"],
            row["distractor_as_foreground"],
            row["classification_accuracy"],
            row["train_seconds"],
        )
        rows.append(row)
    return rows


def silhouette_features(source: SynthJHMDB21) -> tuple[np.ndarray, np.ndarray]:
    """Per video: 8 evenly spaced resized GT masks in the union box, 12 x 12 each; labels."""
    features, labels = [], []
    for video in source.pool:
        masks = torch.from_numpy(video.masks.array()).float()  # [frame, H, W]
        boxes = np.concatenate([t.boxes for t in video.tubes])  # [frame, 4]
        x0, y0 = (max(0, int(v)) for v in boxes[:, :2].min(axis=0))
        x1 = min(video.width, int(np.ceil((boxes[:, 0] + boxes[:, 2]).max())))
        y1 = min(video.height, int(np.ceil((boxes[:, 1] + boxes[:, 3]).max())))
        shown = np.linspace(0, video.num_frames - 1, 8).astype(int)
        crop = masks[shown, y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)][None]
        features.append(F.interpolate(crop, size=(12, 12), mode="area").reshape(-1).numpy())
        labels.append(video.label)
    return np.stack(features), np.array(labels)


def silhouette_check(
    train_source: SynthJHMDB21, test_source: SynthJHMDB21, *, seed: int
) -> list[dict[str, float]]:
    """Video accuracy of a logistic regression on GT silhouettes at each budget (of videos)."""
    train_x, train_y = silhouette_features(train_source)
    test_x, test_y = silhouette_features(test_source)
    order = np.random.default_rng(seed).permutation(len(train_y))
    rows = []
    for budget in BUDGETS:
        chosen = order[: max(2, int(round(budget * len(order))))]
        if len(set(train_y[chosen].tolist())) < 2:
            continue
        model = LogisticRegression(C=0.1, max_iter=2000).fit(train_x[chosen], train_y[chosen])
        rows.append(
            {
                "budget": budget,
                "labeled_videos": len(chosen),
                "video_accuracy": float(model.score(test_x, test_y)),
            }
        )
        logger.info(
            "silhouettes only  budget %5.1f %%  videos %4d  video accuracy %.3f",
            100 * budget,
            len(chosen),
            rows[-1]["video_accuracy"],
        )
    return rows


def summarize(rows: list[dict[str, float]]) -> list[dict[str, float]]:
    """Mean and spread (min, max) of both scores over seeds, per budget."""
    summary = []
    for budget in BUDGETS:
        at_budget = [r for r in rows if r["budget"] == budget]
        loc = [r["localization_iou"] for r in at_budget]
        fooled = [r["distractor_as_foreground"] for r in at_budget]
        acc = [r["classification_accuracy"] for r in at_budget]
        summary.append(
            {
                "budget": budget,
                "labeled_frames": at_budget[0]["labeled_frames"],
                "localization_iou": float(np.mean(loc)),
                "localization_iou_range": [min(loc), max(loc)],
                "distractor_as_foreground": float(np.mean(fooled)),
                "classification_accuracy": float(np.mean(acc)),
                "classification_accuracy_range": [min(acc), max(acc)],
            }
        )
        logger.info(
            "mean over %d seed(s)  budget %5.1f %%  loc IoU %.3f [%.3f, %.3f]  "
            "distractor fg %.3f  class acc %.3f [%.3f, %.3f]",
            len(at_budget),
            100 * budget,
            summary[-1]["localization_iou"],
            min(loc),
            max(loc),
            summary[-1]["distractor_as_foreground"],
            summary[-1]["classification_accuracy"],
            min(acc),
            max(acc),
        )
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=("ucf24", "jhmdb21"), default="ucf24")
    parser.add_argument("--size", choices=("smoke", "default"), default="default")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--test-every", type=int, default=2, help="use every n-th test frame")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--silhouettes-only", action="store_true", help="SynthJHMDB21: only the silhouette check"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(args.threads)
    config = getattr(SynthConfig, args.size)(args.dataset)
    make = make_synth_ucf24 if args.dataset == "ucf24" else make_synth_jhmdb21
    start = time.perf_counter()
    train_source = make("train", config)
    test_source = make("test", config)
    if args.silhouettes_only:
        if not isinstance(train_source, SynthJHMDB21) or not isinstance(test_source, SynthJHMDB21):
            parser.error("--silhouettes-only needs --dataset jhmdb21")
        result = {
            "dataset": train_source.dataset,
            "size": args.size,
            "silhouette_check": silhouette_check(train_source, test_source, seed=args.seeds[0]),
        }
        if args.out is not None:
            args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
        return
    train_data, test_data = collect(train_source), collect(test_source, every=args.test_every)
    logger.info(
        "%s %s: %d train videos, %d annotated train frames; %d test videos, %d test frames "
        "(rendered in %.1f s)",
        train_source.dataset,
        args.size,
        len(train_source.pool),
        len(train_data.pairs),
        len(test_source.pool),
        len(test_data.pairs),
        time.perf_counter() - start,
    )
    silhouettes = None
    if isinstance(train_source, SynthJHMDB21) and isinstance(test_source, SynthJHMDB21):
        silhouettes = silhouette_check(train_source, test_source, seed=args.seeds[0])
    rows = []
    for seed in args.seeds:
        rows += run_probe(
            train_data, test_data, train_source.pool.num_classes, seed=seed, steps=args.steps
        )
    result = {
        "dataset": train_source.dataset,
        "size": args.size,
        "config": config.to_dict(),
        "steps": args.steps,
        "train_videos": len(train_source.pool),
        "train_frames": len(train_data.pairs),
        "test_videos": len(test_source.pool),
        "test_frames": len(test_data.pairs),
        "test_boxes": len(test_data.crop_labels),
        "chance_accuracy": 1.0 / train_source.pool.num_classes,
        "rows": rows,
        "mean_over_seeds": summarize(rows),
        "silhouette_check": silhouettes,
        "wall_seconds": time.perf_counter() - start,
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
        logger.info("wrote %s", args.out)


if __name__ == "__main__":
    main()
