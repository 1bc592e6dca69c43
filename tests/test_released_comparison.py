"""The measurements of the book page "The paper's Algorithm 1 versus the released code"."""

from __future__ import annotations

import math

import numpy as np

from claus_core.data.types import Tube, VideoRecord
from claus_core.released_comparison import null_verdict, weight_profiles
from claus_core.stats import Comparison


def comparison(low: float, high: float, seeds: int = 5) -> Comparison:
    return Comparison(mean=(low + high) / 2, low=low, high=high, sd=1.0, seeds=seeds, mde=2.0)


def test_a_difference_contradicts_no_difference_and_a_null_interval_is_inconclusive() -> None:
    # the paper claims no difference: an interval without 0 (either side) contradicts it
    assert null_verdict(comparison(0.5, 3.0)) == "contradicts"
    assert null_verdict(comparison(-3.0, -0.5)) == "contradicts"
    assert null_verdict(comparison(-1.0, 2.0)) == "inconclusive"
    assert null_verdict(comparison(math.nan, math.nan, seeds=1)) == "no interval"
    assert null_verdict(None) == "no interval"


def test_weight_profiles_of_one_video() -> None:
    # 20 frames, one actor everywhere, annotated frames 2 and 12: the paper's weight is 1 on
    # them; the released clips (8 positions) tile frames 0-15 at skip 1 and 0-15 at skip 2
    boxes = np.tile(np.array([[4.0, 4.0, 8.0, 8.0]], dtype=np.float32), (20, 1))
    video = VideoRecord("v", 0, 20, 16, 16, (Tube(0, 0, 20, boxes),))
    table = weight_profiles(video, [2, 12])
    assert list(table.columns) == [
        "frame",
        "annotated",
        "paper",
        "released, skip 1",
        "released, skip 2",
    ]
    assert table.loc[[2, 12], "paper"].tolist() == [1.0, 1.0]
    assert (
        table["released, skip 1"].iloc[16:].isna().all()
        and table["released, skip 1"].iloc[:16].notna().all()
    )
    assert table.loc[2, "released, skip 1"] == 1.0  # an annotated position of its clip
    assert table.loc[12, "released, skip 1"] == 1.0
    # skip 2: frames 0, 2, ..., 14; frame 12 is annotated, so position 6 (frame 12) weighs 1
    assert table.loc[12, "released, skip 2"] == 1.0 and np.isnan(table.loc[13, "released, skip 2"])
