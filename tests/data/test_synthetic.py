"""SynthUCF24 and SynthJHMDB21: determinism, geometry, pixels, camera motion, cache, factories."""

from __future__ import annotations

import dataclasses
import importlib.util
import json

import numpy as np
import pytest

from claus_core.cost import full_cost
from claus_core.data.raster import video_masks
from claus_core.data.silhouettes import ArrayMasks
from claus_core.data.synthetic import (
    UCF_MOVING_CLASSES,
    SynthConfig,
    SynthJHMDB21,
    SynthUCF24,
    actor_design,
    has_camera_motion_tag,
    kept_source_frames,
    make_synth_jhmdb21,
    make_synth_ucf24,
    select_balanced_subset,
)
from claus_core.data.types import DataError, Tube, VideoPool, VideoRecord

CLASSES = ("Jump", "Ride", "Walk")


def _track(num_frames: int, x0: float, y0: float, dx: float, w: float, h: float) -> np.ndarray:
    t = np.arange(num_frames, dtype=np.float32)
    return np.stack([x0 + dx * t, np.full_like(t, y0), np.full_like(t, w), np.full_like(t, h)], 1)


def _box_pool() -> VideoPool:
    """UCF-like videos in the 320 x 240 grid: one late tube, one two-actor video, one mover."""
    videos = (
        VideoRecord(
            "Jump/v_a", 0, 60, 320, 240, (Tube(0, 30, 60, _track(30, 40, 60, 3, 60, 120)),)
        ),
        VideoRecord(
            "Ride/v_b", 1, 48, 320, 240, (Tube(1, 4, 44, _track(40, 120, 50, 0.5, 80, 140)),)
        ),
        VideoRecord(
            "Walk/v_c",
            2,
            40,
            320,
            240,
            (
                Tube(2, 0, 40, _track(40, 20, 40, 0.0, 70, 150)),
                Tube(2, 10, 30, _track(20, 220, 50, 0.0, 70, 150)),
            ),
        ),
        VideoRecord(
            "Walk/v_d", 2, 36, 320, 240, (Tube(2, 0, 36, _track(36, 150, 70, -1, 60, 130)),)
        ),
    )
    return VideoPool("ucf101_24", "train", CLASSES, videos)


def _config(**changes: object) -> SynthConfig:
    base = SynthConfig(
        size="smoke",
        frame_size=32,
        frame_step=2,
        max_frames=20,
        num_distractors=2,
        moving_classes=("Ride",),
    )
    return dataclasses.replace(base, **changes)


def _ellipse_masks(num_frames: int, *, cx: float, cy: float, rx: float, ry: float, wave: float):
    rows, cols = np.mgrid[0:240, 0:320]
    masks = np.zeros((num_frames, 240, 320), dtype=bool)
    for t in range(num_frames):
        rxt = rx * (1 + wave * np.sin(t / 2))
        masks[t] = ((cols - cx) / rxt) ** 2 + ((rows - cy) / ry) ** 2 <= 1
    return masks


def _mask_pool(*, with_masks: bool = True) -> VideoPool:
    """J-HMDB-like videos with ellipse silhouettes; boxes are the masks' bounding boxes."""
    specs = [
        ("stand/clip_stand_f_nm_np1_fr_med_0", 0, 12, dict(cx=90, cy=120, rx=25, ry=90, wave=0.0)),
        ("stand/clip_stand_f_cm_np1_fr_med_1", 0, 10, dict(cx=230, cy=120, rx=25, ry=90, wave=0.0)),
        ("wave/clip_wave_u_cm_np1_fr_goo_0", 1, 14, dict(cx=100, cy=130, rx=40, ry=70, wave=0.4)),
        ("wave/clip_wave_u_nm_np1_le_goo_2", 1, 11, dict(cx=220, cy=110, rx=40, ry=70, wave=0.4)),
    ]
    videos = []
    for name, label, frames, shape in specs:
        masks = _ellipse_masks(frames, **shape)
        boxes = []
        for m in masks:
            ys, xs = np.nonzero(m)
            boxes.append([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1])
        tube = Tube(label, 0, frames, np.array(boxes, dtype=np.float32))
        videos.append(
            VideoRecord(
                name,
                label,
                frames,
                320,
                240,
                (tube,),
                masks=ArrayMasks(masks) if with_masks else None,
            )
        )
    return VideoPool("jhmdb21", "train", ("stand", "wave"), tuple(videos))


def _box_region_mask(video: VideoRecord) -> np.ndarray:  # [frame, H, W] GT boxes grown by 1 px
    masks = video_masks(video)
    grown = masks.copy()
    grown[:, 1:] |= masks[:, :-1]
    grown[:, :-1] |= masks[:, 1:]
    grown[:, :, 1:] |= grown[:, :, :-1].copy()
    grown[:, :, :-1] |= grown[:, :, 1:].copy()
    return grown


def _luminance(frames: np.ndarray) -> np.ndarray:  # [frame, H, W] float
    return frames.astype(np.float32).mean(axis=-1)


def _edge_energy(grey: np.ndarray) -> np.ndarray:  # [frame, H - 1, W - 1]
    """|horizontal| + |vertical| luminance differences at each pixel."""
    return np.abs(np.diff(grey, axis=2))[:, :-1, :] + np.abs(np.diff(grey, axis=1))[:, :, :-1]


# ----------------------------------------------------------------------------- config


def test_presets_are_valid_and_distinct() -> None:
    smoke, default = SynthConfig.smoke(), SynthConfig.default()
    assert smoke.size == "smoke" and default.size == "default"
    assert smoke.frame_size < default.frame_size
    assert default.videos_per_class("train") == 10 and default.videos_per_class("test") == 4
    jhmdb = SynthConfig.default("jhmdb21")
    assert jhmdb.frame_step == 1 and jhmdb.max_frames is None
    assert jhmdb.videos_per_class("train") is None and jhmdb.moving_classes == ()
    assert SynthConfig.smoke("jhmdb21").videos_per_class("test") == 1
    assert json.loads(json.dumps(default.to_dict()))["moving_classes"] == list(UCF_MOVING_CLASSES)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("size", "huge"),
        ("frame_size", 8),
        ("frame_step", 0),
        ("max_frames", 0),
        ("train_videos_per_class", 0),
        ("num_distractors", -1),
        ("camera_amplitude", 0.9),
        ("noise_std", -1.0),
    ],
)
def test_bad_config_values_raise(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        SynthConfig(**{field: value})


def test_bad_split_and_dataset_raise() -> None:
    with pytest.raises(ValueError, match="split"):
        SynthConfig.smoke().videos_per_class("val")
    with pytest.raises(ValueError, match="dataset"):
        SynthConfig.default("ava")


def test_moving_classes_must_exist_in_the_pool() -> None:
    with pytest.raises(ValueError, match="Skiing"):
        SynthUCF24(_box_pool(), _config(moving_classes=("Ride", "Skiing")))


def test_actor_designs_are_unique_over_24_classes() -> None:
    designs = [actor_design(label) for label in range(24)]
    assert len({(shape, texture) for shape, texture, _ in designs}) == 24
    assert {motion for _, _, motion in designs} == {"pulse", "scroll", "sway"}


def test_camera_tag_of_jhmdb_names() -> None:
    assert has_camera_motion_tag("wave/x_wave_u_cm_np1_fr_med_0")
    assert not has_camera_motion_tag("wave/x_wave_u_nm_np1_fr_med_0")
    assert not has_camera_motion_tag("wave/no_tag_here")


# ----------------------------------------------------------------------------- geometry


def test_kept_frames_window_is_centred_on_the_tubes() -> None:
    video = _box_pool()["Jump/v_a"]  # 60 frames, tube [30, 60)
    np.testing.assert_array_equal(
        kept_source_frames(video, frame_step=2, max_frames=None), np.arange(0, 60, 2)
    )
    kept = kept_source_frames(video, frame_step=2, max_frames=10)
    assert len(kept) == 10 and np.all(np.diff(kept) == 2)
    assert kept[0] >= 30 - 2 and kept[-1] < 60  # window slides into the annotated span


def test_pool_geometry_is_rescaled_and_subsampled() -> None:
    source_pool = _box_pool()
    source = SynthUCF24(source_pool, _config())
    pool = source.pool
    assert pool.dataset == "synth_ucf24" and pool.split == "train" and pool.classes == CLASSES
    assert pool.names == source_pool.names
    np.testing.assert_array_equal(pool.labels(), source_pool.labels())
    for original, small in zip(source_pool, pool, strict=True):
        kept = source.kept_frames[original.name]
        assert small.num_frames == len(kept) == min(20, -(-original.num_frames // 2))
        assert (small.width, small.height) == (32, 32)
        assert len(small.tubes) == len(original.tubes)
        for tube, new in zip(original.tubes, small.tubes, strict=True):
            inside = kept[(kept >= tube.start) & (kept < tube.end)]
            assert new.num_frames == len(inside) and new.label == tube.label
            expected = tube.boxes[inside - tube.start] * np.array([0.1, 32 / 240, 0.1, 32 / 240])
            np.testing.assert_allclose(new.boxes, expected, rtol=1e-6)
            np.testing.assert_array_equal(kept[new.start : new.end], inside)


def test_jhmdb_pool_keeps_costs_and_resizes_masks() -> None:
    source_pool = _mask_pool()
    source = SynthJHMDB21(source_pool, _config(frame_step=1, max_frames=None, moving_classes=()))
    pool = source.pool
    assert pool.dataset == "synth_jhmdb21"
    assert full_cost(pool) == full_cost(source_pool)
    for original, small in zip(source_pool, pool, strict=True):
        assert small.masks is not None
        masks = small.masks.array()
        assert masks.shape == (original.num_frames, 32, 32) and masks.dtype == bool
        # the resized mask fills most of the scaled box and stays near it
        box_area = float(np.prod(small.tubes[0].boxes[0, 2:]))
        assert 0.5 * box_area < masks[0].sum() < 1.1 * box_area


def test_jhmdb_needs_masks() -> None:
    with pytest.raises(DataError, match="puppet masks"):
        SynthJHMDB21(_mask_pool(with_masks=False), _config(moving_classes=()))


def test_jhmdb_mask_count_must_match_frames() -> None:
    pool = _mask_pool()
    video = pool.videos[0]
    short = ArrayMasks(video.masks.array()[:-1])
    bad = dataclasses.replace(video, masks=short)
    with pytest.raises(DataError, match=video.name):
        SynthJHMDB21(VideoPool("jhmdb21", "train", pool.classes, (bad,)), _config())


def test_balanced_subset_is_reproducible_and_ordered() -> None:
    videos = tuple(
        VideoRecord(f"C{c}/v{i:02d}", c, 10, 320, 240, (Tube(c, 0, 10, _track(10, 5, 5, 0, 9, 9)),))
        for c in range(3)
        for i in range(7)
    )
    pool = VideoPool("ucf101_24", "train", ("C0", "C1", "C2"), videos)
    first = select_balanced_subset(pool, 2, seed=0)
    assert first.names == select_balanced_subset(pool, 2, seed=0).names
    assert np.bincount(first.labels()).tolist() == [2, 2, 2]
    assert first.names == sorted(first.names, key=pool.index)
    assert select_balanced_subset(pool, None, seed=0).names == pool.names
    others = [select_balanced_subset(pool, 2, seed=s).names for s in range(1, 6)]
    assert any(names != first.names for names in others)
    only_even = select_balanced_subset(pool, 5, seed=0, keep=lambda v: int(v.name[-1]) % 2 == 0)
    assert all(int(n[-1]) % 2 == 0 for n in only_even.names) and len(only_even) == 12


# ----------------------------------------------------------------------------- pixels


def test_same_seed_same_pixels_in_any_order_other_seed_differs() -> None:
    names = _box_pool().names
    forward = SynthUCF24(_box_pool(), _config())
    backward = SynthUCF24(_box_pool(), _config())
    first = {n: forward.frames(n) for n in names}
    second = {n: backward.frames(n) for n in reversed(names)}
    for name in names:
        assert first[name].shape == (forward.pool[name].num_frames, 32, 32, 3)
        assert first[name].dtype == np.uint8
        np.testing.assert_array_equal(first[name], second[name])
    reseeded = SynthUCF24(_box_pool(), _config(seed=1))
    assert not np.array_equal(reseeded.frames(names[0]), first[names[0]])


def test_jhmdb_same_seed_same_pixels_other_seed_differs() -> None:
    config = _config(frame_step=1, max_frames=None, moving_classes=())
    names = _mask_pool().names
    a = SynthJHMDB21(_mask_pool(), config)
    b = SynthJHMDB21(_mask_pool(), config)
    first = {n: a.frames(n) for n in names}
    for name in reversed(names):
        np.testing.assert_array_equal(b.frames(name), first[name])
    c = SynthJHMDB21(_mask_pool(), dataclasses.replace(config, seed=5))
    assert not np.array_equal(c.frames(names[0]), first[names[0]])


def test_actors_stand_out_from_the_background_in_every_tube() -> None:
    source = SynthUCF24(_box_pool(), _config(noise_std=0.0))
    for video in source.pool:
        rendered = source.render(video.name)
        grey = _luminance(rendered.frames)
        edges = _edge_energy(grey)
        background = ~(_box_region_mask(video) | rendered.distractor_mask)[:, :-1, :-1]
        for tube in video.tubes:
            inside = np.zeros_like(background)
            for t in tube.frames():
                x, y, w, h = np.rint(tube.box_at(t)).astype(int)
                inside[t, y + 1 : y + h - 1, x + 1 : x + w - 1] = True
            assert edges[inside].mean() > 2.0 * edges[background].mean(), video.name


def test_jhmdb_person_stands_out_from_the_background() -> None:
    source = SynthJHMDB21(_mask_pool(), _config(frame_step=1, max_frames=None, noise_std=0.0))
    for video in source.pool:
        rendered = source.render(video.name)
        grey = _luminance(rendered.frames)
        edges = _edge_energy(grey)
        person = video.masks.array()[:, :-1, :-1]
        background = ~(_box_region_mask(video) | rendered.distractor_mask)[:, :-1, :-1]
        assert edges[person].mean() > 1.5 * edges[background].mean(), video.name


@pytest.mark.parametrize("make_source", ["ucf", "jhmdb"])
def test_distractors_never_enter_the_labeled_foreground(make_source: str) -> None:
    if make_source == "ucf":
        source = SynthUCF24(_box_pool(), _config(num_distractors=3))
    else:
        source = SynthJHMDB21(
            _mask_pool(), _config(frame_step=1, max_frames=None, num_distractors=3)
        )
    drawn = 0
    for video in source.pool:
        rendered = source.render(video.name)
        assert not (rendered.distractor_mask & video_masks(video)).any(), video.name
        if video.masks is not None:
            box_masks = np.zeros_like(rendered.distractor_mask)
            for t in range(video.num_frames):
                x, y, w, h = np.rint(video.tubes[0].box_at(t)).astype(int)
                box_masks[t, y : y + h, x : x + w] = True
            assert not (rendered.distractor_mask & box_masks).any(), video.name
        drawn += int(rendered.distractor_mask.sum())
    assert drawn > 0


def test_moving_classes_pan_static_classes_do_not() -> None:
    source = SynthUCF24(_box_pool(), _config(noise_std=0.0))
    motion = {}
    for video in source.pool:
        rendered = source.render(video.name)
        still = ~(_box_region_mask(video) | rendered.distractor_mask)  # [frame, H, W]
        still = still[1:] & still[:-1]
        grey = _luminance(rendered.frames)
        motion[video.name] = float(np.abs(np.diff(grey, axis=0))[still].mean())
        pan = np.ptp(rendered.camera_offsets, axis=0)
        assert (pan.max() > 2) == source.is_moving(video.name), video.name
    assert source.is_moving("Ride/v_b") and not source.is_moving("Walk/v_c")
    assert motion["Ride/v_b"] > 3.0
    assert motion["Jump/v_a"] == motion["Walk/v_c"] == motion["Walk/v_d"] == 0.0


def test_jhmdb_camera_motion_follows_the_name_tag() -> None:
    source = SynthJHMDB21(_mask_pool(), _config(frame_step=1, max_frames=None, noise_std=0.0))
    for video in source.pool:
        pan = np.ptp(source.render(video.name).camera_offsets, axis=0).max()
        assert (pan > 2) == ("_cm_" in video.name), video.name


def test_unknown_video_raises_key_error() -> None:
    with pytest.raises(KeyError, match="nope"):
        SynthUCF24(_box_pool(), _config()).frames("nope")


# ----------------------------------------------------------------------------- real data


def test_smoke_synth_ucf24_on_the_shipped_annotations() -> None:
    config = SynthConfig.smoke()
    source = make_synth_ucf24("train", config)
    pool = source.pool
    assert pool.dataset == "synth_ucf24" and pool.num_classes == 24
    assert np.bincount(pool.labels(), minlength=24).tolist() == [2] * 24
    assert all(len(v.tubes) >= 1 and v.num_frames <= 16 for v in pool)
    assert set(config.moving_classes) <= set(pool.classes)
    video = pool.videos[0]
    frames = source.frames(video.name)
    assert frames.shape == (video.num_frames, 32, 32, 3)
    test = make_synth_ucf24("test", config)
    assert len(test.pool) == 24 and not set(test.pool.names) & set(pool.names)


@pytest.mark.skipif(
    importlib.util.find_spec("claus_core.data.jhmdb21") is None,
    reason="the J-HMDB-21 loader (claus_core.data.jhmdb21) is not there yet",
)
def test_smoke_synth_jhmdb21_on_the_shipped_annotations() -> None:
    source = make_synth_jhmdb21("train", SynthConfig.smoke("jhmdb21"))
    pool = source.pool
    assert pool.dataset == "synth_jhmdb21" and pool.num_classes == 21
    assert np.bincount(pool.labels(), minlength=21).tolist() == [2] * 21
    video = pool.videos[0]
    assert video.masks is not None and video.masks.array().shape == (video.num_frames, 32, 32)
    assert source.frames(video.name).shape == (video.num_frames, 32, 32, 3)
    full = make_synth_jhmdb21("train", SynthConfig.default("jhmdb21"))
    assert len(full.pool) == 660 and full_cost(full.pool) == 22712


def test_ucf_group_of_a_clip() -> None:
    from claus_core.data.synthetic import ucf_group

    assert ucf_group("Basketball/v_Basketball_g05_c02") == "Basketball/v_Basketball_g05"
    assert (
        ucf_group("brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0")
        == "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0"
    )


def test_class_quotas_hand_computed() -> None:
    from claus_core.data.synthetic import class_quotas

    assert class_quotas([10, 30, 0, 20], 2, frequencies=False) == [2, 2, 0, 2]
    assert class_quotas([10, 30, 0, 20], 2, frequencies=True) == [
        1,
        3,
        0,
        2,
    ]  # 6 x (1/6, 1/2, 0, 1/3)
    assert class_quotas([1, 99], 3, frequencies=True) == [1, 5]  # at least one; 6 in all
    assert class_quotas([2, 2], 3, frequencies=True) == [2, 2]  # never more than a class has


def test_grouped_pools_keep_whole_groups_and_share_their_scene() -> None:
    from claus_core.data.synthetic import ucf_group

    base = SynthConfig.smoke()
    plain = make_synth_ucf24("train", dataclasses.replace(base, train_videos_per_class=4))
    grouped = make_synth_ucf24(
        "train", dataclasses.replace(base, train_videos_per_class=4, grouped=True)
    )
    assert len(grouped.pool) == len(plain.pool) == 4 * 24
    groups = {ucf_group(n) for n in grouped.pool.names}
    assert len(groups) < len(
        {ucf_group(n) for n in plain.pool.names}
    )  # redundant, like the real split
    by_group: dict[str, list[str]] = {}
    for name in grouped.pool.names:
        by_group.setdefault(ucf_group(name), []).append(name)
    a, b = next(names for names in by_group.values() if len(names) >= 2)[:2]
    other = next(names[0] for g, names in by_group.items() if g != ucf_group(a))
    scene = {n: grouped._camera_scene(n) for n in (a, b, other)}
    assert np.array_equal(scene[a][3], scene[b][3]) and not np.array_equal(
        scene[a][3], scene[other][3]
    )
    # the actors' looks come from the group too, whatever the clips' lengths
    assert scene[a][0].random() == scene[b][0].random() != scene[other][0].random()
    # the pixels still differ per clip (distractors, noise)
    assert not np.array_equal(grouped.frames(a)[0], grouped.frames(b)[0])


def test_renders_without_the_new_options_are_the_ones_made_before_them() -> None:
    """Pinned before ``grouped`` and ``class_frequencies`` existed: pools and pixels unchanged
    while they are off, and SynthJHMDB21 (no groups) unchanged even with ``grouped`` on."""
    import hashlib

    def digest(frames: np.ndarray) -> str:
        return hashlib.sha256(frames.tobytes()).hexdigest()[:16]

    ucf = make_synth_ucf24("train", SynthConfig.smoke())
    assert ucf.pool.names[:2] == [
        "Basketball/v_Basketball_g25_c04",
        "Basketball/v_Basketball_g25_c06",
    ]
    assert digest(ucf.frames(ucf.pool.names[3])) == "785cbbec12427a7e"
    jhmdb = make_synth_jhmdb21("train", SynthConfig.smoke("jhmdb21"))
    name = jhmdb.pool.names[2]
    assert digest(jhmdb.frames(name)) == "83fbb417b5065d73"
    from claus_core.data.synthetic import SynthJHMDB21

    grouped = SynthJHMDB21(
        jhmdb.source_pool, dataclasses.replace(SynthConfig.smoke("jhmdb21"), grouped=True)
    )
    assert digest(grouped.frames(name)) == "83fbb417b5065d73"  # a J-HMDB video is its own group
    assert "grouped" not in SynthConfig.smoke().to_dict()  # the frame cache's key is unchanged too


def test_class_frequencies_leave_the_test_split_balanced() -> None:
    config = dataclasses.replace(SynthConfig.smoke(), train_videos_per_class=6, test_videos_per_class=3,
                                 class_frequencies=True)  # fmt: skip
    train = make_synth_ucf24("train", config).pool
    test = make_synth_ucf24("test", config).pool
    train_counts = {c: sum(v.label == k for v in train) for k, c in enumerate(train.classes)}
    test_counts = {c: sum(v.label == k for v in test) for k, c in enumerate(test.classes)}
    assert len(train) == 6 * 24 and len(set(train_counts.values())) > 1
    assert set(test_counts.values()) == {3}


def test_grouped_and_frequency_fields_are_hash_neutral_while_off() -> None:
    from claus_core.config import ExperimentConfig

    assert "grouped" not in ExperimentConfig().to_dict()["synth"]
    on = ExperimentConfig(
        synth=dataclasses.replace(SynthConfig.smoke(), grouped=True, class_frequencies=True)
    )
    assert (
        on.to_dict()["synth"]["grouped"] is True and ExperimentConfig.from_dict(on.to_dict()) == on
    )
