"""Tests of claus_core.score_table: per-video score arrays in one flat, checked table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claus_core.data.types import DataError
from claus_core.score_table import ScoreTable, check_finite


def test_from_arrays_lays_videos_back_to_back() -> None:
    table = ScoreTable.from_arrays({"a": [0.2, 0.7], "b": np.array([3], dtype=np.int32), "c": []})
    assert table.names == ("a", "b", "c")
    assert table.offsets.tolist() == [0, 2, 3, 3]
    assert table.values.tolist() == [0.2, 0.7, 3.0]
    assert table.values.dtype == np.float64
    assert table["a"].tolist() == [0.2, 0.7] and table["c"].tolist() == []
    assert list(table) == ["a", "b", "c"] and len(table) == 3
    assert "b" in table and "z" not in table
    assert {name: values.tolist() for name, values in table.items()}["b"] == [3.0]


def test_the_table_is_read_only() -> None:
    table = ScoreTable.from_arrays({"a": [1.0, 2.0]})
    with pytest.raises(ValueError, match="read-only"):
        table["a"][0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        table.offsets[0] = 1


def test_a_table_copies_its_input() -> None:
    source = np.array([1.0, 2.0])
    table = ScoreTable(["a"], [0, 2], source)
    source[0] = 9.0
    assert table["a"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([0.1, math.nan, 0.3], "'uncertainty' scores of video 'b': NaN score at frames \\[1\\]"),
        ([math.nan] * 3, "'b': every score is NaN"),
        ([0.1, 0.2, math.inf], "'b': infinite score at frames \\[2\\]"),
    ],
)
def test_non_finite_scores_name_the_video_and_frames(values: list[float], message: str) -> None:
    with pytest.raises(DataError, match=message):
        ScoreTable.from_arrays(
            {"a": [0.5], "b": values, "c": [math.nan]}, what="'uncertainty' scores"
        )


def test_malformed_input_is_rejected() -> None:
    with pytest.raises(DataError, match="video 'a': not a 1-d numeric array"):
        ScoreTable.from_arrays({"a": np.zeros((2, 2))})
    with pytest.raises(DataError, match="video 'a': not a 1-d numeric array"):
        ScoreTable.from_arrays({"a": np.array(["x"])})
    with pytest.raises(ValueError, match="offsets must be 2 integers"):
        ScoreTable(["a"], [0, 1, 2], [1.0, 2.0])
    with pytest.raises(ValueError, match="offsets must be 2 integers"):
        ScoreTable(["a"], [0.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="never decrease"):
        ScoreTable(["a", "b"], [0, 2, 1], [1.0, 2.0])
    with pytest.raises(ValueError, match="offsets end at 1 but there are 2 scores"):
        ScoreTable(["a"], [0, 1], [1.0, 2.0])
    with pytest.raises(ValueError, match="'a' appears twice"):
        ScoreTable(["a", "a"], [0, 1, 2], [1.0, 2.0])["a"]


def test_empty_table() -> None:
    table = ScoreTable.from_arrays({})
    assert len(table) == 0 and table.values.shape == (0,) and table.offsets.tolist() == [0]


def test_check_finite_accepts_finite_scores() -> None:
    check_finite(np.array([0.0, -1.0, 1e300]), "scores")
    with pytest.raises(ValueError, match="x: NaN score at frames \\[0\\]"):
        check_finite(np.array([math.nan, 1.0]), "x", ValueError)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.floats(-1e6, 1e6), max_size=12), max_size=8))
def test_every_video_reads_back_its_scores(rows: list[list[float]]) -> None:
    arrays = {f"v{index}": np.array(row, dtype=np.float64) for index, row in enumerate(rows)}
    table = ScoreTable.from_arrays(arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(table[name], array)
    assert table.values.tolist() == [value for row in rows for value in row]
