"""The ipywidgets STeW explorer (supplementary Section 6, Figure 5), live in JupyterLab.

Pick a video, a frame, the Gaussian's sigma, the consistency window and the spacing of the
annotated frames; the explorer recomputes the pseudo-labels and STeW weights with
:func:`claus_core.losses.stew_weights` and redraws. In the static book no kernel runs, so the
chapter also embeds a self-contained player (:func:`claus_core.plots.stew_animation`).
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from claus_core.data.types import VideoRecord
from claus_core.losses import pseudo_label_masks, stew_weights


def evenly_annotated(video: VideoRecord, spacing: int) -> np.ndarray:
    """Every ``spacing``-th frame of the video's GT span (at least one frame), 0-based."""
    if spacing < 1:
        raise ValueError(f"spacing must be >= 1, got {spacing}")
    present = np.flatnonzero(video.annotated_frames())  # [annotated-able frame]
    if present.size == 0:
        raise ValueError(f"{video.name}: no frame has a GT box")
    return present[::spacing]


def stew_maps(
    video: VideoRecord, spacing: int, *, sigma: float, window: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Annotated flags [frame], pseudo-label masks [frame, H, W] and STeW weights [frame, H, W]."""
    keys = evenly_annotated(video, spacing)
    annotated = np.zeros(video.num_frames, dtype=bool)
    annotated[keys] = True
    masks = pseudo_label_masks(video, keys)
    return annotated, masks, stew_weights(masks, annotated, sigma=sigma, window=window)


def stew_explorer(videos: Mapping[str, tuple[VideoRecord, np.ndarray]]) -> widgets.Widget:
    """An interactive explorer over ``videos``: name -> (record, frames [frame, H, W, 3])."""
    names = list(videos)
    choose = widgets.Dropdown(options=names, description="video")
    frame = widgets.IntSlider(0, 0, videos[names[0]][0].num_frames - 1, description="frame")
    sigma = widgets.FloatSlider(8 / 3, min=0.5, max=10.0, step=0.5, description="sigma")
    window = widgets.IntSlider(4, 0, 12, description="window")
    spacing = widgets.IntSlider(8, 1, 40, description="GT every")
    output = widgets.Output()

    def redraw(*_: object) -> None:
        video, frames = videos[choose.value]
        frame.max = video.num_frames - 1
        annotated, masks, weights = stew_maps(
            video, spacing.value, sigma=sigma.value, window=window.value
        )
        f = min(frame.value, video.num_frames - 1)
        with output:
            output.clear_output(wait=True)
            fig, axes = plt.subplots(1, 3, figsize=(8.0, 2.6))
            axes[0].imshow(frames[f])
            axes[1].imshow(masks[f], cmap="gray", vmin=0, vmax=1)
            axes[2].imshow(weights[f], cmap="inferno", vmin=0, vmax=1)
            titles = [f"frame {f}" + (" (GT)" if annotated[f] else ""), "pseudo-label", "STeW weight"]
            for ax, title in zip(axes, titles, strict=True):
                ax.set_title(title, fontsize=8)
                ax.axis("off")
            plt.show()

    for control in (choose, frame, sigma, window, spacing):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([choose, spacing]), widgets.HBox([frame, sigma, window]), output])
