"""claus_core.evaluation with tiny fake detectors on a tiny painted split."""

from __future__ import annotations

import gc
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from claus_core.data.raster import video_masks
from claus_core.data.types import DataError, Tube, VideoPool, VideoRecord
from claus_core.evaluation import (
    EvaluationConfig,
    EvaluationResult,
    evaluate_detector,
    ground_truth_boxes,
    ground_truth_tubes,
    predict_video,
    predict_videos,
)
from claus_core.metrics import localization_map

SIZE = 16  # frames are SIZE x SIZE
COLORS = {0: (255, 0, 0), 1: (0, 255, 0)}  # class 0 actors are red, class 1 green


def make_tube(label: int, start: int, end: int, x: int, y: int, w: int, h: int) -> Tube:
    boxes = np.tile(np.array([x, y, w, h], dtype=np.float32), (end - start, 1))
    return Tube(label, start, end, boxes)


def make_pool() -> VideoPool:
    videos = (
        VideoRecord("a/one", 0, 10, SIZE, SIZE, (make_tube(0, 0, 10, 2, 2, 6, 8),)),
        VideoRecord("a/two", 0, 7, SIZE, SIZE, (make_tube(0, 1, 7, 8, 4, 6, 6),)),
        VideoRecord(
            "b/one",
            1,
            12,
            SIZE,
            SIZE,
            (make_tube(1, 0, 12, 0, 0, 4, 4), make_tube(1, 2, 9, 10, 8, 4, 6)),
        ),
        VideoRecord("b/two", 1, 9, SIZE, SIZE, (make_tube(1, 0, 9, 4, 6, 10, 6),)),
    )
    return VideoPool("painted", "test", ("red", "green"), videos)


class PaintedSource:
    """A FrameSource: black frames, each GT box painted in its class colour."""

    def __init__(self, pool: VideoPool) -> None:
        self.pool = pool

    def frames(self, name: str) -> np.ndarray:  # [frame, H, W, 3] uint8
        video = self.pool[name]
        out = np.zeros((video.num_frames, video.height, video.width, 3), dtype=np.uint8)
        masks = video_masks(video)  # [frame, H, W]
        out[masks] = COLORS[video.label]
        return out


@dataclass
class Output:
    mask_logits: torch.Tensor  # [B, T, H, W]
    class_scores: torch.Tensor  # [B, class]


class ColourDetector(nn.Module):
    """Foreground = bright pixels (shifted by ``shift`` columns); class = the dominant colour."""

    def __init__(self, shift: int = 0) -> None:
        super().__init__()
        self.gain = nn.Parameter(torch.tensor(20.0))
        self.shift = shift
        self.modes_seen: list[bool] = []

    def forward(self, clips: torch.Tensor) -> Output:  # clips: [B, 3, T, H, W]
        self.modes_seen.append(self.training)
        brightness = clips.max(dim=1).values  # [B, T, H, W]
        logits = self.gain * (brightness - 0.5)
        logits = torch.roll(logits, shifts=self.shift, dims=-1)
        colour = clips[:, :2].mean(dim=(2, 3, 4)) * 100  # [B, 2]: red, green
        return Output(logits, torch.softmax(colour, dim=1))


class FrameIndexDetector(nn.Module):
    """Predicts p = (first frame of the clip) / 100 everywhere; reads the frame from blue."""

    def forward(self, clips: torch.Tensor) -> Output:  # clips: [B, 3, T, H, W]
        first = torch.round(clips[:, 2, 0, 0, 0] * 255 / 10)  # [B]
        p = first / 100
        logits = torch.logit(p.clamp(1e-6, 1 - 1e-6))[:, None, None, None]
        logits = logits.expand(-1, clips.shape[2], clips.shape[3], clips.shape[4])
        return Output(logits, torch.stack([p, 1 - p], dim=1))


CONFIG = EvaluationConfig(clip_length=4, stride=2, batch_size=3)


def test_perfect_detector_scores_one_everywhere() -> None:
    pool = make_pool()
    model = ColourDetector()
    result = evaluate_detector(model, PaintedSource(pool), config=CONFIG, progress=False)
    assert list(result.table.columns) == ["metric", "threshold", "value"]
    assert len(result.table) == 8
    assert (result.table["value"] == 1.0).all()
    assert set(result.per_class["class_name"]) == {"red", "green"}
    assert (result.per_class["value"] == 1.0).all()
    assert result.videos["predicted_label"].tolist() == [0, 0, 1, 1]
    assert result.videos["iou"].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert result.frame_ap.per_class[0] == 1.0
    assert result.video_ap.per_class[0] == 1.0
    assert result.seconds > 0


class ConstantGreen(ColourDetector):
    """Perfect masks, class scores always (0, 1): every detection ties, kept in frame order."""

    def forward(self, clips: torch.Tensor) -> Output:
        output = super().forward(clips)
        scores = torch.zeros_like(output.class_scores)
        scores[:, 1] = 1.0
        return Output(output.mask_logits, scores)


def test_two_actors_under_one_mask_box() -> None:
    # b/one: actor A (0, 0, 4, 4) on frames 0-11, actor B (10, 8, 14, 14) on frames 2-8. The
    # mask's box is A's on frames 0, 1, 9, 10, 11 and the union (0, 0, 14, 14) on 2-8, whose IoU
    # with A is 16 / 196 and with B 24 / 196: hits T T F F F F F F F T T T against 19 GT boxes.
    source = PaintedSource(make_pool())
    result = evaluate_detector(
        ConstantGreen(), source, config=CONFIG, names=["b/one"], progress=False
    )
    assert (result.table["value"] == 1.0).all()  # the masks themselves are perfect
    # VOC: precision 1 up to recall 2/19, then at most 5/12 up to recall 5/19
    assert result.frame_ap.per_class == pytest.approx({1: 2 / 19 + 3 / 19 * 5 / 12})
    # one tube: IoU with A = (5 * 1 + 7 * 16 / 196) / 12 = 0.464, below 0.5 but above 0.4
    assert result.video_ap.per_class == {1: 0.0}
    config = EvaluationConfig(clip_length=4, stride=2, ap_iou_threshold=0.4)
    loose = evaluate_detector(
        ConstantGreen(), source, config=config, names=["b/one"], progress=False
    )
    assert loose.video_ap.per_class == pytest.approx({1: 0.5})


def test_act_mode_scores_pixel_exact_boxes_as_perfect() -> None:
    pool = make_pool()
    config = EvaluationConfig(clip_length=4, ap="act")
    one_actor = [n for n in pool.names if n != "b/one"]
    result = evaluate_detector(
        ColourDetector(), PaintedSource(pool), config=config, names=one_actor, progress=False
    )
    assert result.frame_ap.per_class == {0: 1.0, 1: 1.0}
    assert result.video_ap.per_class == {0: 1.0, 1: 1.0}
    assert result.videos["video"].tolist() == one_actor


def test_driver_agrees_with_localization_map_on_shifted_masks() -> None:
    pool = make_pool()
    result = evaluate_detector(
        ColourDetector(shift=2), PaintedSource(pool), config=CONFIG, progress=False
    )
    items = []
    for video in pool:
        truth = video_masks(video)
        predicted = np.roll(truth, 2, axis=-1)
        items.append((video.label, predicted, truth))
    expected = localization_map(items, 2)
    np.testing.assert_allclose(result.table["value"], expected["value"])
    assert 0.0 < result.table["value"].min() < 1.0


def test_model_runs_in_eval_mode_and_gets_its_mode_back() -> None:
    model = ColourDetector()
    model.train()
    evaluate_detector(model, PaintedSource(make_pool()), config=CONFIG, progress=False)
    assert model.modes_seen and not any(model.modes_seen)
    assert model.training


def test_stitching_averages_overlapping_clips_and_skips_padding() -> None:
    frames = np.zeros((8, 2, 3, 3), dtype=np.uint8)
    frames[..., 2] = (np.arange(8) * 10)[:, None, None]  # blue encodes the frame index
    config = EvaluationConfig(clip_length=4, stride=2, batch_size=3)
    # clips: frames 0-3, 2-5, 4-7 and 6, 7 (+ padding 7, 7)
    prediction = predict_video(FrameIndexDetector(), frames, config=config)
    expected = np.array([0, 0, 1, 1, 3, 3, 5, 5]) / 100
    assert prediction.foreground.shape == (8, 2, 3)
    np.testing.assert_allclose(prediction.foreground[:, 1, 2], expected, atol=1e-5)
    np.testing.assert_allclose(prediction.frame_scores[:, 0], expected, atol=1e-6)
    np.testing.assert_allclose(prediction.class_scores, [0.03, 0.97], atol=1e-6)
    assert prediction.label == 1


def test_skip_rate_covers_every_frame() -> None:
    frames = np.zeros((9, 2, 2, 3), dtype=np.uint8)
    frames[..., 2] = (np.arange(9) * 10)[:, None, None]
    config = EvaluationConfig(clip_length=2, skip=2)  # clips 0,2 / 1,3 / 4,6 / 5,7 / 8,8
    prediction = predict_video(FrameIndexDetector(), frames, config=config)
    expected = np.array([0, 1, 0, 1, 4, 5, 4, 5, 8]) / 100
    np.testing.assert_allclose(prediction.foreground[:, 0, 0], expected, atol=1e-5)


class ResizingCheck(nn.Module):
    """Accepts only 8 x 8 clips; answers with zero logits at that size."""

    def forward(self, clips: torch.Tensor) -> Output:
        assert clips.shape[-2:] == (8, 8)
        batch, _, length = clips.shape[:3]
        return Output(torch.zeros(batch, length, 8, 8), torch.full((batch, 2), 0.5))


def test_input_size_resizes_clips_and_masks_back() -> None:
    frames = np.zeros((5, SIZE, SIZE, 3), dtype=np.uint8)
    config = EvaluationConfig(clip_length=4, input_size=(8, 8))
    prediction = predict_video(ResizingCheck(), frames, config=config)
    assert prediction.foreground.shape == (5, SIZE, SIZE)
    np.testing.assert_allclose(prediction.foreground, 0.5)


class AlwaysRed(ColourDetector):
    def forward(self, clips: torch.Tensor) -> Output:
        output = super().forward(clips)
        scores = torch.zeros_like(output.class_scores)
        scores[:, 0] = 1.0
        return Output(output.mask_logits, scores)


def test_require_class_counts_only_right_labels() -> None:
    pool = make_pool()
    source = PaintedSource(pool)
    loose = evaluate_detector(AlwaysRed(), source, config=CONFIG, progress=False)
    strict_config = EvaluationConfig(clip_length=4, stride=2, require_class=True)
    strict = evaluate_detector(AlwaysRed(), source, config=strict_config, progress=False)
    assert (loose.table["value"] == 1.0).all()
    assert (strict.table["value"] == 0.5).all()  # class 1 videos all called class 0
    assert strict.frame_ap.per_class[1] == 0.0


def test_result_round_trips_through_json() -> None:
    pool = make_pool()
    empty_video = VideoRecord("c/empty", 0, 4, SIZE, SIZE, ())
    pool = VideoPool(pool.dataset, pool.split, pool.classes, (*pool.videos, empty_video))
    result = evaluate_detector(
        ColourDetector(1), PaintedSource(pool), config=CONFIG, progress=False
    )
    assert np.isnan(result.videos["iou"].iloc[-1])  # no ground truth: not scored
    again = EvaluationResult.from_json(result.to_json())
    for name in ("table", "per_class", "videos"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(result, name))
    assert again.frame_ap == result.frame_ap
    assert again.video_ap == result.video_ap
    assert again.config == result.config
    with pytest.raises(DataError, match="results.json"):
        EvaluationResult.from_json("{}", source="results.json")


def test_ground_truth_conversion() -> None:
    pool = make_pool()
    boxes = ground_truth_boxes(pool.videos)
    assert len(boxes) == sum(v.num_boxes() for v in pool)
    first = boxes.iloc[0]
    assert (first["video"], first["frame"], first["label"]) == ("a/one", 0, 0)
    assert [first[c] for c in ("x1", "y1", "x2", "y2")] == [2, 2, 8, 10]
    tubes = ground_truth_tubes(pool.videos)
    assert [(t.video, t.start, t.end) for t in tubes][:2] == [("a/one", 0, 10), ("a/two", 1, 7)]


class WrongFrames(PaintedSource):
    def frames(self, name: str) -> np.ndarray:
        return super().frames(name)[:-1]


class NaNScores(ColourDetector):
    def forward(self, clips: torch.Tensor) -> Output:
        output = super().forward(clips)
        return Output(output.mask_logits, torch.full_like(output.class_scores, float("nan")))


class ThreeClasses(ColourDetector):
    def forward(self, clips: torch.Tensor) -> Output:
        output = super().forward(clips)
        return Output(
            output.mask_logits, torch.cat([output.class_scores, output.class_scores[:, :1]], 1)
        )


def test_bad_input_gets_clear_errors() -> None:
    pool = make_pool()
    source = PaintedSource(pool)
    with pytest.raises(DataError, match="a/one.*frame source"):
        evaluate_detector(ColourDetector(), WrongFrames(pool), config=CONFIG, progress=False)
    with pytest.raises(ValueError, match="a/one.*NaN"):
        evaluate_detector(NaNScores(), source, config=CONFIG, progress=False)
    with pytest.raises(ValueError, match="a/one.*3 classes"):
        evaluate_detector(ThreeClasses(), source, config=CONFIG, progress=False)
    with pytest.raises(ValueError, match="no videos"):
        evaluate_detector(ColourDetector(), source, config=CONFIG, names=[], progress=False)
    with pytest.raises(KeyError, match="nope"):
        evaluate_detector(ColourDetector(), source, config=CONFIG, names=["nope"], progress=False)
    with pytest.raises(DataError, match="uint8"):
        predict_video(ColourDetector(), np.zeros((3, 4, 4, 3)), config=CONFIG)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"clip_length": 0}, "clip_length"),
        ({"skip": 1.5}, "skip"),
        ({"stride": 9, "clip_length": 4}, "stride"),
        ({"mask_threshold": 1.0}, "mask_threshold"),
        ({"thresholds": (0.5, 2.0)}, "thresholds"),
        ({"ap": "coco"}, "ap"),
        ({"input_size": (8,)}, "input_size"),
    ],
)
def test_config_rejects_bad_values(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EvaluationConfig(**options)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5, 64])
def test_clips_batched_across_videos_give_each_video_its_own_prediction(batch_size) -> None:
    """predict_videos fills every batch from consecutive videos (short videos share one); each
    video's prediction equals predict_video on that video alone, in the input order."""
    pool = make_pool()
    source = PaintedSource(pool)
    config = EvaluationConfig(clip_length=4, batch_size=batch_size)
    videos = [(v.name, source.frames(v.name)) for v in pool.videos]
    batched = list(predict_videos(ColourDetector(shift=1), iter(videos), config=config))
    assert [name for name, _ in batched] == [name for name, _ in videos]
    alone = EvaluationConfig(clip_length=4, batch_size=1)
    for (name, frames), (_, prediction) in zip(videos, batched, strict=True):
        expected = predict_video(ColourDetector(shift=1), frames, config=alone, name=name)
        np.testing.assert_allclose(prediction.foreground, expected.foreground, atol=1e-6)
        np.testing.assert_allclose(prediction.frame_scores, expected.frame_scores, atol=1e-6)
        np.testing.assert_allclose(prediction.class_scores, expected.class_scores, atol=1e-6)


def test_batched_prediction_names_the_bad_video() -> None:
    good = np.zeros((5, 4, 4, 3), dtype=np.uint8)
    bad = np.zeros((5, 4, 4), dtype=np.uint8)
    with pytest.raises(DataError, match="broken"):
        list(predict_videos(ColourDetector(), [("fine", good), ("broken", bad)], config=CONFIG))


def test_an_unfinished_prediction_stream_leaves_grad_and_model_mode_alone() -> None:
    """A generator holds no grad-mode or model-mode context across its yields: collecting an
    unfinished one later must not switch gradients off or the model out of training."""
    pool = make_pool()
    source = PaintedSource(pool)
    model = ColourDetector()
    model.train()
    stream = predict_videos(
        model, [(v.name, source.frames(v.name)) for v in pool.videos], config=CONFIG
    )
    next(stream)
    assert torch.is_grad_enabled() and model.training
    del stream
    gc.collect()
    assert torch.is_grad_enabled() and model.training
