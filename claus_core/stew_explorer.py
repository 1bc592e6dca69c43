"""The STeW explorer (supplementary Section 6, Figure 5): weight maps for any video, frame,
Gaussian sigma, consistency window and spacing of the annotated frames.

One computation, two faces::

    video, spacing --evenly_annotated--> annotated frames [frame] bool
                   --pseudo_label_masks--> pseudo-labels   [frame, H, W] bool
                   --stew_weights(sigma, window)--> weights [frame, H, W] in [0, 1]
                                   |
          +------------------------+--------------------------+
          |                                                   |
    live (a kernel runs):                       static (the book, no kernel):
    claus_core.widgets.stew_explorer            static_explorer_html(videos, grid)
    recomputes on every change                  every cell of a small grid computed here,
                                                PNG-encoded; the page's JavaScript only picks
                                                a cell and colours it (inferno, 0 .. 1)

Both outline the GT boxes on the frame (yellow) and on the weight map (cyan), beside a colourbar.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import numpy as np
from PIL import Image

from claus_core.data.types import VideoRecord
from claus_core.losses import STEW_SIGMA, STEW_WINDOW, pseudo_label_masks, stew_weights


def evenly_annotated(video: VideoRecord, spacing: int) -> np.ndarray:  # [key] int64, 0-based
    """Every ``spacing``-th frame of the video's GT span (at least one frame)."""
    if spacing < 1:
        raise ValueError(f"spacing must be >= 1, got {spacing}")
    present = np.flatnonzero(video.annotated_frames())  # [frame with a GT box]
    if present.size == 0:
        raise ValueError(f"{video.name}: no frame has a GT box")
    return present[::spacing]


def pseudo_labels(video: VideoRecord, spacing: int) -> tuple[np.ndarray, np.ndarray]:
    """Annotated flags [frame] bool and pseudo-label masks [frame, H, W] bool."""
    keys = evenly_annotated(video, spacing)
    annotated = np.zeros(video.num_frames, dtype=bool)
    annotated[keys] = True
    return annotated, pseudo_label_masks(video, keys)


def stew_maps(
    video: VideoRecord, spacing: int, *, sigma: float = STEW_SIGMA, window: int = STEW_WINDOW
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Annotated flags [frame], pseudo-label masks [frame, H, W] and STeW weights [frame, H, W]."""
    annotated, masks = pseudo_labels(video, spacing)
    return annotated, masks, stew_weights(masks, annotated, sigma=sigma, window=window)


@dataclass(frozen=True)
class ExplorerGrid:
    """The settings the static explorer precomputes, and how much of each video it keeps.

    Every combination of ``sigmas`` x ``windows`` x ``spacings`` is computed on the whole video;
    the page keeps at most ``max_frames`` evenly spaced frames of it, downsampled by an integer
    factor to at most ``max_side`` pixels.
    """

    sigmas: tuple[float, ...] = (STEW_SIGMA / 2, STEW_SIGMA, 2 * STEW_SIGMA)
    windows: tuple[int, ...] = (STEW_WINDOW // 2, STEW_WINDOW, 2 * STEW_WINDOW)
    spacings: tuple[int, ...] = (4, 8, 16)
    max_frames: int = 40
    max_side: int = 160

    def __post_init__(self) -> None:
        for name in ("sigmas", "windows", "spacings"):
            values = getattr(self, name)
            if not values:
                raise ValueError(f"ExplorerGrid.{name} must hold at least one value")
            object.__setattr__(self, name, tuple(values))
        if any(s <= 0 for s in self.sigmas):
            raise ValueError(f"ExplorerGrid.sigmas must be > 0, got {self.sigmas}")
        if any(w < 0 for w in self.windows):
            raise ValueError(f"ExplorerGrid.windows must be >= 0, got {self.windows}")
        if any(s < 1 for s in self.spacings):
            raise ValueError(f"ExplorerGrid.spacings must be >= 1, got {self.spacings}")
        if self.max_frames < 1 or self.max_side < 8:
            raise ValueError(
                f"ExplorerGrid needs max_frames >= 1 and max_side >= 8, got "
                f"{self.max_frames} and {self.max_side}"
            )


def _encode(image: np.ndarray, kind: str) -> str:
    """A data URL of ``image`` ([H, W] or [H, W, 3] uint8) as PNG (lossless) or JPEG."""
    buffer = io.BytesIO()
    if kind == "png":
        Image.fromarray(image).save(buffer, format="PNG", optimize=True)
    else:
        Image.fromarray(image).save(buffer, format="JPEG", quality=88)
    return f"data:image/{kind};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _video_entry(video: VideoRecord, frames: np.ndarray, grid: ExplorerGrid) -> dict[str, object]:
    """What the page needs of one video: kept frames, their sprites, boxes and annotated flags."""
    if frames.shape[:3] != (video.num_frames, video.height, video.width):
        raise ValueError(
            f"{video.name}: frames are {frames.shape[:3]}, the video is "
            f"{video.num_frames} x {video.height} x {video.width}"
        )
    kept = np.unique(
        np.linspace(0, video.num_frames - 1, min(grid.max_frames, video.num_frames))
        .round()
        .astype(int)
    )
    step = max(1, int(np.ceil(max(video.height, video.width) / grid.max_side)))
    height, width = frames[0, ::step, ::step].shape[:2]
    boxes = [
        [
            [float(v) / step for v in box]
            for tube in video.tubes
            if (box := tube.box_at(int(f))) is not None
        ]
        for f in kept
    ]
    weights: dict[str, str] = {}
    annotated: dict[str, list[bool]] = {}
    for spacing in grid.spacings:
        flags, masks = pseudo_labels(video, spacing)
        for window in grid.windows:
            for k, sigma in enumerate(grid.sigmas):
                maps = stew_weights(masks, flags, sigma=sigma, window=window)
                sprite = maps[kept][:, ::step, ::step].reshape(-1, width)  # [kept * h, w]
                weights[f"{spacing}/{window}/{k}"] = _encode(
                    np.round(sprite * 255).astype(np.uint8), "png"
                )
        annotated[str(spacing)] = flags[kept].tolist()
    return {
        "frames": kept.tolist(),
        "height": height,
        "width": width,
        "image": _encode(frames[kept][:, ::step, ::step].reshape(-1, width, 3), "jpeg"),
        "boxes": boxes,
        "annotated": annotated,
        "weights": weights,
    }


def explorer_data(
    videos: Mapping[str, tuple[VideoRecord, np.ndarray]], grid: ExplorerGrid
) -> dict[str, object]:
    """The static explorer's payload: the grid, the colour map and every video's sprites."""
    if not videos:
        raise ValueError("the STeW explorer needs at least one video")
    lut = (mpl.colormaps["inferno"](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(int)
    return {
        "sigmas": [round(s, 3) for s in grid.sigmas],
        "windows": list(grid.windows),
        "spacings": list(grid.spacings),
        "lut": lut.ravel().tolist(),
        "videos": {
            name: _video_entry(video, frames, grid) for name, (video, frames) in videos.items()
        },
    }


def _slider(name: str, label: str, count: int, start: int) -> str:
    return (
        f'<label>{label} <input type="range" data-control="{name}" min="0" max="{count - 1}" '
        f'value="{start}" step="1"> <output data-value="{name}"></output></label>'
    )


def _default_index(values: Sequence[float], default: float) -> int:
    return int(np.argmin(np.abs(np.asarray(values, dtype=float) - default)))


def static_explorer_html(
    videos: Mapping[str, tuple[VideoRecord, np.ndarray]],
    *,
    grid: ExplorerGrid | None = None,
    element_id: str = "stew-explorer",
    default_spacing: int = 8,
) -> str:
    """A self-contained HTML explorer that works without a kernel (the static book).

    ``videos``: name -> (record, frames [frame, H, W, 3] uint8). Controls: the video, the frame,
    sigma, the window and the spacing of the annotated frames, each over ``grid``.
    """
    grid = grid or ExplorerGrid()
    data = explorer_data(videos, grid)
    first = data["videos"][next(iter(videos))]["frames"]  # type: ignore[index]
    options = "".join(f'<option value="{html.escape(n)}">{html.escape(n)}</option>' for n in videos)
    controls = "".join(
        [
            f'<label>video <select data-control="video">{options}</select></label>',
            _slider("frame", "frame", len(first), len(first) // 2),
            _slider("sigma", "&sigma;", len(grid.sigmas), _default_index(grid.sigmas, STEW_SIGMA)),
            _slider(
                "window", "window W", len(grid.windows), _default_index(grid.windows, STEW_WINDOW)
            ),
            _slider(
                "spacing",
                "GT every",
                len(grid.spacings),
                _default_index(grid.spacings, default_spacing),
            ),
        ]
    )
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return _TEMPLATE.format(
        id=html.escape(element_id), controls=controls, payload=payload, script=_SCRIPT
    )


_TEMPLATE = """<div class="claus-stew-explorer" id="{id}" data-stew-explorer>
<style>
#{id} .controls {{display:flex;flex-wrap:wrap;gap:.3em 1.2em;font-size:.85em;margin-bottom:.4em}}
#{id} .panels {{display:flex;gap:12px;align-items:flex-start;flex-wrap:wrap}}
#{id} figure {{margin:0;text-align:center;font-size:.8em}}
#{id} canvas.view {{width:240px;height:auto;border:1px solid #ccc}}
#{id} .colorbar {{display:flex;flex-direction:column;align-items:center;font-size:.75em}}
</style>
<div class="controls">{controls}</div>
<div class="panels">
<figure><canvas class="view" data-panel="frame"></canvas><figcaption data-caption="frame"></figcaption></figure>
<figure><canvas class="view" data-panel="weight"></canvas><figcaption>STeW weight (GT box in cyan)</figcaption></figure>
<div class="colorbar"><span>1</span><canvas data-panel="colorbar" width="14" height="150"></canvas><span>0</span></div>
</div>
<script type="application/json" data-stew-payload>{payload}</script>
<script>{script}</script>
</div>
"""

# Picks one precomputed cell and draws it: no STeW arithmetic happens in the browser.
_SCRIPT = """(function () {
  var root = document.currentScript.parentElement;
  var data = JSON.parse(root.querySelector("[data-stew-payload]").textContent);
  var control = function (n) { return root.querySelector('[data-control="' + n + '"]'); };
  var images = {};
  function image(url, then) {
    if (images[url] && images[url].complete) { then(images[url]); return; }
    var img = images[url] || new Image();
    img.addEventListener("load", function () { then(img); }, { once: true });
    if (!images[url]) { images[url] = img; img.src = url; }
  }
  function boxes(ctx, list, scale, colour) {
    ctx.strokeStyle = colour; ctx.lineWidth = 2;
    list.forEach(function (b) { ctx.strokeRect(b[0] * scale, b[1] * scale, b[2] * scale, b[3] * scale); });
  }
  var generation = 0;  // a picture still loading when a control moves again must not paint
  function draw() {
    var drawing = ++generation;
    var video = data.videos[control("video").value];
    var frame = control("frame");
    frame.max = video.frames.length - 1;
    var f = Math.min(+frame.value, video.frames.length - 1);
    var spacing = data.spacings[+control("spacing").value];
    var window_ = data.windows[+control("window").value];
    var sigma = +control("sigma").value;
    var values = { frame: video.frames[f], sigma: data.sigmas[sigma], window: window_, spacing: spacing };
    Object.keys(values).forEach(function (n) { root.querySelector('[data-value="' + n + '"]').textContent = values[n]; });
    var gt = video.annotated[spacing][f];
    root.querySelector('[data-caption="frame"]').textContent =
      "frame " + video.frames[f] + (gt ? " (annotated)" : " (pseudo-label)");
    var w = video.width, h = video.height, scale = Math.max(1, Math.floor(240 / w));
    function paint(panel, sprite, colour) {
      image(sprite, function (img) {
        if (drawing !== generation) return;
        var canvas = root.querySelector('[data-panel="' + panel + '"]');
        canvas.width = w * scale; canvas.height = h * scale;
        var ctx = canvas.getContext("2d");
        var tile = document.createElement("canvas"); tile.width = w; tile.height = h;
        var tctx = tile.getContext("2d");
        tctx.drawImage(img, 0, -f * h);
        if (colour) {
          var pixels = tctx.getImageData(0, 0, w, h);
          for (var i = 0; i < pixels.data.length; i += 4) {
            var v = pixels.data[i] * 3;
            pixels.data[i] = data.lut[v]; pixels.data[i + 1] = data.lut[v + 1]; pixels.data[i + 2] = data.lut[v + 2];
          }
          tctx.putImageData(pixels, 0, 0);
        }
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(tile, 0, 0, w * scale, h * scale);
        boxes(ctx, video.boxes[f], scale, colour ? "#00e5ff" : "#ffdd00");
        canvas.dataset.drawn = panel + ":" + [control("video").value, f, sigma, window_, spacing].join("/");
      });
    }
    paint("frame", video.image, false);
    paint("weight", video.weights[spacing + "/" + window_ + "/" + sigma], true);
  }
  var bar = root.querySelector('[data-panel="colorbar"]').getContext("2d");
  for (var y = 0; y < 150; y++) {
    var v = Math.round(255 * (1 - y / 149)) * 3;
    bar.fillStyle = "rgb(" + data.lut[v] + "," + data.lut[v + 1] + "," + data.lut[v + 2] + ")";
    bar.fillRect(0, y, 14, 1);
  }
  root.querySelectorAll("[data-control]").forEach(function (c) { c.addEventListener("input", draw); });
  draw();
})();"""


def first_video(pool: Any, *, moving: bool, min_frames: int = 8) -> VideoRecord:
    """The first video of ``pool`` of a moving (or static) class whose first tube spans at
    least ``min_frames`` frames (the STeW chapter's two examples)."""
    from claus_core.data.synthetic import UCF_MOVING_CLASSES

    for video in pool:
        if (pool.classes[video.label] in UCF_MOVING_CLASSES) == moving and video.tubes[
            0
        ].num_frames >= min_frames:
            return video
    raise LookupError(
        f"no {'moving' if moving else 'static'} video of >= {min_frames} frames in this pool"
    )


def stew_figure(
    video: VideoRecord, frames: np.ndarray, spacing: int, *, title: str, columns: int = 8
) -> Any:
    """Figure 5's panel for one video: frames and STeW weights at up to ``columns`` frames spread
    over its annotated span, GT every ``spacing`` frames."""
    from claus_core import plots

    annotated, _masks, weights = stew_maps(video, spacing)
    span = np.flatnonzero(video.annotated_frames())
    indices = np.linspace(span[0], span[-1], num=min(columns, len(span))).round().astype(int)
    return plots.stew_panel(frames, weights, annotated, indices, title=title)


def mean_weight_off_annotated(video: VideoRecord, spacing: int) -> float:
    """The mean STeW weight over the frames without an annotation (GT every ``spacing``)."""
    annotated, _masks, weights = stew_maps(video, spacing)
    return float(weights[~annotated].mean())
