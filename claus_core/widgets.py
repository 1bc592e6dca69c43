"""The live ipywidgets STeW explorer (supplementary Section 6, Figure 5), for JupyterLab.

Pick a video, a frame, the Gaussian's sigma, the consistency window and the spacing of the
annotated frames; the explorer recomputes the pseudo-labels and STeW weights with
:func:`claus_core.stew_explorer.stew_maps` and redraws. In the static book no kernel runs, so
the chapter also embeds :func:`claus_core.stew_explorer.static_explorer_html`, which
precomputes a small grid of the same maps.
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from claus_core.data.types import VideoRecord
from claus_core.losses import STEW_SIGMA, STEW_WINDOW
from claus_core.plots import draw_boxes
from claus_core.stew_explorer import stew_maps


def stew_explorer(videos: Mapping[str, tuple[VideoRecord, np.ndarray]]) -> widgets.Widget:
    """An interactive explorer over ``videos``: name -> (record, frames [frame, H, W, 3])."""
    names = list(videos)
    choose = widgets.Dropdown(options=names, description="video")
    first = videos[names[0]][0]
    span = np.flatnonzero(first.annotated_frames())  # [frame with a GT box]
    start = int(span[len(span) // 2]) if span.size else 0
    frame = widgets.IntSlider(start, 0, first.num_frames - 1, description="frame")
    sigma = widgets.FloatSlider(
        STEW_SIGMA,
        min=STEW_SIGMA / 4,
        max=4 * STEW_SIGMA,
        step=STEW_SIGMA / 4,
        readout_format=".2f",
        description="sigma",
    )
    window = widgets.IntSlider(STEW_WINDOW, 0, 12, description="window")
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
            fig, axes = plt.subplots(1, 3, figsize=(8.6, 2.6))
            axes[0].imshow(frames[f])
            axes[1].imshow(masks[f], cmap="gray", vmin=0, vmax=1)
            shown = axes[2].imshow(weights[f], cmap="inferno", vmin=0, vmax=1)
            draw_boxes(axes[0], video, f)
            draw_boxes(axes[2], video, f, color="#00e5ff")
            fig.colorbar(shown, ax=axes[2], fraction=0.046, pad=0.04, label="weight")
            titles = [
                f"frame {f}" + (" (annotated)" if annotated[f] else ""),
                "pseudo-label",
                "STeW weight (GT box in cyan)",
            ]
            for ax, title in zip(axes, titles, strict=True):
                ax.set_title(title, fontsize=8)
                ax.axis("off")
            plt.show()

    for control in (choose, frame, sigma, window, spacing):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox(
        [widgets.HBox([choose, spacing]), widgets.HBox([frame, sigma, window]), output]
    )
