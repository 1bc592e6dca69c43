"""The STeW explorer's maps and its kernel-free page: what the page shows is what the library computes."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from claus_core.data.types import Tube, VideoRecord
from claus_core.losses import STEW_SIGMA, STEW_WINDOW, stew_weights
from claus_core.stew_explorer import (
    ExplorerGrid,
    evenly_annotated,
    explorer_data,
    pseudo_labels,
    static_explorer_html,
    stew_maps,
)


def _moving_video(num_frames: int = 20, size: int = 24) -> VideoRecord:
    x = np.linspace(2, 12, num_frames - 2)
    boxes = np.stack([x, np.full_like(x, 4), np.full_like(x, 6), np.full_like(x, 8)], axis=1)
    return VideoRecord(
        "Cls/v_moving", 0, num_frames, size, size, (Tube(0, 1, num_frames - 1, boxes),)
    )


def _frames(video: VideoRecord) -> np.ndarray:  # [frame, H, W, 3] uint8
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (video.num_frames, video.height, video.width, 3), dtype=np.uint8)


def _decode(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def test_evenly_annotated_takes_every_spacing_th_frame_of_the_gt_span() -> None:
    video = _moving_video()  # GT on frames 1..18
    assert evenly_annotated(video, 8).tolist() == [1, 9, 17]
    assert evenly_annotated(video, 100).tolist() == [1]
    with pytest.raises(ValueError, match="spacing must be >= 1"):
        evenly_annotated(video, 0)


def test_stew_maps_are_stew_weights_of_the_pseudo_labels() -> None:
    video = _moving_video()
    annotated, masks, weights = stew_maps(video, 4, sigma=2.0, window=3)
    flags, same_masks = pseudo_labels(video, 4)
    np.testing.assert_array_equal(annotated, flags)
    np.testing.assert_array_equal(masks, same_masks)
    np.testing.assert_array_equal(weights, stew_weights(masks, annotated, sigma=2.0, window=3))
    assert np.all(weights[annotated] == 1.0)


def test_every_grid_cell_decodes_to_the_library_weights() -> None:
    video = _moving_video()
    grid = ExplorerGrid(
        sigmas=(1.0, 4.0), windows=(0, 2), spacings=(3, 7), max_frames=6, max_side=12
    )
    entry = explorer_data({video.name: (video, _frames(video))}, grid)["videos"][video.name]
    kept = np.asarray(entry["frames"])
    assert kept[0] == 0 and kept[-1] == video.num_frames - 1 and kept.size == 6
    assert (entry["height"], entry["width"]) == (12, 12)  # 24 px halved
    for spacing in grid.spacings:
        flags, masks = pseudo_labels(video, spacing)
        assert entry["annotated"][str(spacing)] == flags[kept].tolist()
        for window in grid.windows:
            for k, sigma in enumerate(grid.sigmas):
                expected = stew_weights(masks, flags, sigma=sigma, window=window)[kept][:, ::2, ::2]
                sprite = _decode(entry["weights"][f"{spacing}/{window}/{k}"]).reshape(
                    expected.shape
                )
                np.testing.assert_allclose(sprite / 255.0, expected, atol=0.5 / 255 + 1e-6)


def test_boxes_are_scaled_to_the_kept_pixels() -> None:
    video = _moving_video()
    grid = ExplorerGrid(max_frames=3, max_side=12)
    entry = explorer_data({video.name: (video, _frames(video))}, grid)["videos"][video.name]
    assert entry["frames"] == [0, 10, 19]
    assert entry["boxes"][0] == [] and entry["boxes"][2] == []  # no GT on the first, last frame
    x, y, w, h = video.tubes[0].box_at(10)
    assert entry["boxes"][1] == [[x / 2, y / 2, w / 2, h / 2]]


def test_the_page_starts_at_the_library_defaults_and_embeds_its_payload() -> None:
    video = _moving_video()
    page = static_explorer_html(
        {video.name: (video, _frames(video))}, element_id="x", default_spacing=8
    )
    payload = json.loads(re.search(r"data-stew-payload>(.*?)</script>", page, re.S).group(1))
    grid = ExplorerGrid()
    assert payload["sigmas"] == [round(s, 3) for s in grid.sigmas]
    assert len(payload["lut"]) == 256 * 3
    sigma_start = re.search(r'data-control="sigma" min="0" max="2" value="(\d)"', page).group(1)
    assert grid.sigmas[int(sigma_start)] == STEW_SIGMA
    window_start = re.search(r'data-control="window" min="0" max="2" value="(\d)"', page).group(1)
    assert grid.windows[int(window_start)] == STEW_WINDOW
    assert 'data-control="spacing" min="0" max="2" value="1"' in page  # spacing 8 of (4, 8, 16)


def test_a_video_name_cannot_close_the_page_script() -> None:
    video = _moving_video()
    page = static_explorer_html({"Cls/</script><b>": (video, _frames(video))})
    assert page.count("</script>") == 2  # the payload's and the player's own
    assert '<option value="Cls/&lt;/script&gt;&lt;b&gt;">' in page


def test_bad_inputs_are_refused_with_the_field_named() -> None:
    video = _moving_video()
    with pytest.raises(ValueError, match="ExplorerGrid.sigmas must be > 0"):
        ExplorerGrid(sigmas=(0.0,))
    with pytest.raises(ValueError, match="ExplorerGrid.windows must hold at least one value"):
        ExplorerGrid(windows=())
    with pytest.raises(ValueError, match="Cls/v_moving: frames are"):
        explorer_data({video.name: (video, _frames(video)[:5])}, ExplorerGrid())
    with pytest.raises(ValueError, match="at least one video"):
        explorer_data({}, ExplorerGrid())
