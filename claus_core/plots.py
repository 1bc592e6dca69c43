"""Every figure of the book, styled once (``apply_style``), drawn from plain arrays and DataFrames.

Notebooks call these functions; they hold no logic beyond drawing. Paper numbers are drawn
dashed / hollow and labeled "paper"; ours solid and labeled "ours".
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from claus_core.data.types import VideoRecord

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f"]
STRATEGY_COLORS = {
    "claus": "#d62728",
    "uncertainty": "#ff7f0e",
    "entropy": "#9467bd",
    "equidistant": "#2ca02c",
    "random": "#1f77b4",
    "sample": "#8c564b",
    "intra_sample": "#17becf",
}


def apply_style() -> None:
    """The book's one matplotlib style."""
    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.figsize": (7.0, 3.6),
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.prop_cycle": mpl.cycler(color=PALETTE),
            "font.size": 9,
            "axes.titlesize": 10,
            "legend.frameon": False,
            "image.interpolation": "nearest",
        }
    )


def strategy_color(name: str) -> str:
    """A strategy's color: fixed for the paper's strategies, a stable pick from the palette
    (the same in every process) for any other name."""
    return STRATEGY_COLORS.get(name, PALETTE[zlib.crc32(name.encode()) % len(PALETTE)])


PREDICTED_COLOR = "#ff00cc"  # the model's boxes, dashed; GT / human boxes are solid yellow


def draw_boxes(
    ax: Axes, video: VideoRecord, frame: int, *, color: str = "#ffdd00", linestyle: str = "-"
) -> None:
    """Outline every box of ``video``'s tubes on ``frame`` (pixel coordinates of the video grid)."""
    for tube in video.tubes:
        box = tube.box_at(frame)
        if box is not None:
            x, y, w, h = (float(v) for v in box)
            ax.add_patch(
                Rectangle((x - 0.5, y - 0.5), w, h, fill=False, lw=1.2, ec=color, ls=linestyle)
            )


def frames_with_boxes(
    items: Sequence[tuple[VideoRecord, np.ndarray | Mapping[int, np.ndarray], int]],
    *,
    titles: Sequence[str] | None = None,
    columns: int = 4,
    masks: Sequence[np.ndarray | None] | None = None,
    predicted: Sequence[VideoRecord | None] | None = None,
) -> Figure:
    """A grid of frames with their GT boxes. ``items``: (video, frames, index), the frames a
    ``[frame, H, W, 3]`` array or ``{index: [H, W, 3]}`` (only the frames drawn).

    With ``masks`` (one ``[H, W]`` bool mask per item, or None) the mask is drawn as a contour;
    with ``predicted`` (a record whose tubes are a model's boxes, or None, per item) those boxes
    are drawn dashed in :data:`PREDICTED_COLOR`.
    """
    rows = int(np.ceil(len(items) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.0 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= len(items):
            continue
        video, frames, index = items[k]
        ax.imshow(frames[index])
        draw_boxes(ax, video, index)
        if predicted is not None and predicted[k] is not None:
            draw_boxes(ax, predicted[k], index, color=PREDICTED_COLOR, linestyle="--")
        if masks is not None and masks[k] is not None:
            ax.contour(masks[k].astype(float), levels=[0.5], colors="#00e5ff", linewidths=0.8)
        ax.set_title(titles[k] if titles else f"{video.name.split('/')[-1]} f{index}", fontsize=7)
    fig.tight_layout()
    return fig


def bar_counts(
    counts: pd.Series, *, title: str, xlabel: str = "", ylabel: str = "videos"
) -> Figure:
    """A bar per category (e.g. videos per class)."""
    fig, ax = plt.subplots(figsize=(8.0, 3.0))
    ax.bar(range(len(counts)), counts.to_numpy(), color=PALETTE[0])
    ax.set_xticks(range(len(counts)), [str(i) for i in counts.index], rotation=70, ha="right")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.tight_layout()
    return fig


def cost_bars(table: pd.DataFrame, *, title: str) -> Figure:
    """The paper's Cost column against the plain percentage of the full cost (log scale)."""
    fig, ax = plt.subplots(figsize=(7.0, 3.2))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["paper cost"], width=0.4, label="paper", color="none", ec="k", hatch="//")
    ax.bar(x + 0.2, table["floor(% x full cost)"], width=0.4, label="ours (% x full cost)")
    ax.set_yscale("log")
    ax.set_xticks(x, [f"{p:g}%" for p in table["% frames annotated"]])
    ax.set(title=title, ylabel="annotation cost (boxes)")
    ax.legend()
    fig.tight_layout()
    return fig


def stew_panel(
    frames: np.ndarray,
    weights: np.ndarray,
    annotated: np.ndarray,
    indices: Sequence[int],
    *,
    title: str = "",
) -> Figure:
    """Figure 5: frames (top) and their STeW weights (bottom, 0 black .. 1 bright).

    ``frames`` [frame, H, W, 3] uint8, ``weights`` [frame, H, W] in [0, 1], ``annotated``
    [frame] bool; annotated frames get a red title.
    """
    fig, axes = plt.subplots(2, len(indices), figsize=(1.6 * len(indices), 3.4), squeeze=False)
    for col, f in enumerate(indices):
        axes[0, col].imshow(frames[f])
        axes[1, col].imshow(weights[f], vmin=0.0, vmax=1.0, cmap="inferno")
        label = f"f{f}" + (" (GT)" if annotated[f] else "")
        axes[0, col].set_title(label, fontsize=7, color="#d62728" if annotated[f] else "black")
        for ax in axes[:, col]:
            ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def per_class_selection(counts: pd.DataFrame, *, title: str) -> Figure:
    """Figure 2: selected videos per class (rows: classes; one column per strategy)."""
    fig, ax = plt.subplots(figsize=(9.0, 3.8))
    width = 0.8 / max(len(counts.columns), 1)
    x = np.arange(len(counts))
    for k, strategy in enumerate(counts.columns):
        ax.bar(
            x + (k - (len(counts.columns) - 1) / 2) * width,
            counts[strategy],
            width=width,
            label=strategy,
            color=strategy_color(strategy),
        )
    ax.set_xticks(x, [str(c) for c in counts.index], rotation=70, ha="right")
    ax.set(ylabel="selected videos")
    ax.set_title(title, pad=28)
    ax.legend(ncol=len(counts.columns), fontsize=9, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


def frames_vs_annotated(table: pd.DataFrame, *, title: str) -> Figure:
    """Figure 3: per class (rows), one bar per column (mean frame counts), log scale."""
    fig, ax = plt.subplots(figsize=(9.0, 3.6))
    x = np.arange(len(table))
    width = 0.8 / max(len(table.columns), 1)
    for k, column in enumerate(table.columns):
        ax.bar(
            x + (k - (len(table.columns) - 1) / 2) * width,
            table[column],
            width=width,
            label=str(column),
            color=PALETTE[k % len(PALETTE)],
        )
    ax.set_xticks(x, [str(c) for c in table.index], rotation=70, ha="right")
    ax.set_yscale("log")
    ax.set(ylabel="frames (log scale)")
    ax.set_title(title, pad=28)
    ax.legend(ncol=len(table.columns), fontsize=9, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


def _method_color(method: str, k: int) -> str:
    return (
        strategy_color(method.lower())
        if method.lower() in STRATEGY_COLORS
        else PALETTE[k % len(PALETTE)]
    )


def _ours_with_band(ax: Axes, rows: pd.DataFrame, color: object, *, label: str) -> None:
    """Our mean per step (line and markers) and its 95 % interval (a band), against % annotated."""
    x = rows["ours % annotated"]
    ax.plot(x, rows["ours (mean)"], "o-", color=color, label=label)
    ax.fill_between(x, rows["ours (low)"], rows["ours (high)"], color=color, alpha=0.15)


def metric_curves(table: pd.DataFrame, *, title: str, ylabel: str) -> Figure:
    """Ours (mean with its 95 % interval as a band) and the paper's, against % annotated.

    ``table`` has the columns of :func:`claus_core.run_tables.beside_paper`. The paper's panel is
    drawn only where the paper prints numbers.
    """
    has_paper = table["paper"].notna().any()
    fig, axes = plt.subplots(
        1, 2 if has_paper else 1, figsize=(8.6 if has_paper else 5.0, 3.2), squeeze=False
    )
    left = axes[0, 0]
    for k, (method, rows) in enumerate(table.groupby("method", sort=False)):
        color = _method_color(method, k)
        rows = rows.dropna(subset=["ours (mean)"])
        _ours_with_band(left, rows, color, label=method)
    left.set(
        title="ours (band: 95 % CI over seeds)",
        xlabel="% of the full annotation cost",
        ylabel=ylabel,
    )
    left.legend(fontsize=7)
    if has_paper:
        right = axes[0, 1]
        for k, (method, rows) in enumerate(table.groupby("method", sort=False)):
            rows = rows.dropna(subset=["paper"])
            right.plot(rows["paper % annotated"], rows["paper"], "o--", color=_method_color(method, k),
                       mfc="none", label=method)  # fmt: skip
        right.set(title="paper", xlabel="% frames annotated (paper)", ylabel=ylabel)
        right.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def cost_curves(table: pd.DataFrame, *, title: str) -> Figure:
    """Figure 4: performance against % annotated (lines, 95 % CI bands) with each step's cost (bars)."""
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    costs = ax.twinx()
    methods = table["method"].unique()
    for k, (method, rows) in enumerate(table.groupby("method", sort=False)):
        color = _method_color(method, k)
        _ours_with_band(ax, rows, color, label=f"{method} (ours)")
        width = (
            0.6
            * float(np.diff(np.sort(rows["ours % annotated"].unique())).min(initial=1.0))
            / len(methods)
        )
        costs.bar(rows["ours % annotated"] + (k - (len(methods) - 1) / 2) * width, rows["ours cost"],
                  width=width, color=color, alpha=0.15)  # fmt: skip
    ax.set(title=title, xlabel="% of the full annotation cost", ylabel="v-mAP@0.5 (%)")
    costs.set_ylabel("annotation cost (boxes, bars)")
    costs.grid(False)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def learning_curves(table: pd.DataFrame, *, title: str) -> Figure:
    """Each loss term (one panel) against the epoch counted over all rounds, one line per run
    label; dotted lines mark where a round starts. ``table``: label, round, epoch, term, value."""
    terms = [
        t for t in ("total", "localization", "classification", "cluster") if t in set(table["term"])
    ]
    fig, axes = plt.subplots(1, len(terms), figsize=(2.6 * len(terms) + 1.0, 2.8), squeeze=False)
    for ax, term in zip(axes[0], terms, strict=True):
        rows = table[table["term"] == term]
        for k, (label, line) in enumerate(rows.groupby("label", sort=False)):
            line = line.sort_values(["round", "epoch"])
            ax.plot(
                np.arange(len(line)),
                line["value"],
                "-",
                color=PALETTE[k % len(PALETTE)],
                label=label,
                lw=1.2,
            )
            starts = np.flatnonzero(np.diff(line["round"].to_numpy())) + 0.5
            for x in starts:
                ax.axvline(x, color="#999999", lw=0.6, ls=":")
        ax.set(title=term, xlabel="epoch (all rounds)")
    axes[0, 0].set_ylabel("loss (mean over the epoch)")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def _curves_with_bands(
    rows: pd.DataFrame,
    *,
    by: str,
    x: str,
    color: Callable[[int, str], str],
    title: str,
    xlabel: str,
    ylabel: str,
) -> Figure:
    """One line per value of ``by``: ``mean`` against ``x``, with ``low`` .. ``high`` as a band."""
    fig, ax = plt.subplots(figsize=(5.6, 3.2))
    for k, (key, part) in enumerate(
        rows.sort_values("round", kind="stable").groupby(by, sort=False)
    ):
        line_color = color(k, str(key))
        ax.plot(part[x], part["mean"], "o-", color=line_color, label=str(key))
        ax.fill_between(part[x], part["low"], part["high"], color=line_color, alpha=0.15)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def group_curves(rows: pd.DataFrame, *, title: str, ylabel: str) -> Figure:
    """One line per ``group`` of ``mean`` (band: ``low`` .. ``high``) against ``cost``."""
    return _curves_with_bands(
        rows, by="group", x="cost", color=lambda k, _: PALETTE[k % len(PALETTE)], title=title,
        xlabel="boxes annotated (mean over seeds)", ylabel=ylabel,
    )  # fmt: skip


def weight_profiles(table: pd.DataFrame, *, title: str) -> Figure:
    """Per frame, the mean STeW weight of each column but ``frame``, ``annotated`` and ``video``
    (:func:`claus_core.released_comparison.weight_profiles`); annotated frames dotted."""
    fig, ax = plt.subplots(figsize=(7.0, 3.0))
    columns = [c for c in table.columns if c not in ("frame", "annotated", "video")]
    for k, column in enumerate(columns):
        rows = table[table[column].notna()]
        ax.plot(rows["frame"], rows[column], ".-", color=PALETTE[k % len(PALETTE)], label=column)
    for frame in table.loc[table["annotated"], "frame"]:
        ax.axvline(frame, color="#7f7f7f", ls=":", lw=0.8)
    video = f" ({table['video'].iloc[0]})" if "video" in table else ""
    ax.set(
        title=title + video,
        xlabel="frame (dotted: annotated)",
        ylabel="mean weight on the pseudo-label",
    )
    ax.set_ylim(-0.02, 1.05)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def strategy_curves(rows: pd.DataFrame, *, title: str, ylabel: str) -> Figure:
    """One line per ``strategy`` of ``mean`` (band: ``low`` .. ``high``, the 95 % interval over
    seeds) against ``cost_percent``, the share of the full annotation cost (``claus report``)."""
    return _curves_with_bands(
        rows, by="strategy", x="cost_percent", color=lambda _, name: strategy_color(name),
        title=title, xlabel="% of the full annotation cost", ylabel=ylabel,
    )  # fmt: skip
