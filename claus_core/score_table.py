"""Per-frame scores of a whole pool in one flat array (supplementary Algorithm 1, lines 4-6).

Algorithm 1 scores every frame of every pool video (line 4: the MC-dropout uncertainty of the
frame) and then ranks the videos by those scores (lines 7-14). :class:`ScoreTable` is the
hand-over between the two: the ``[frame]`` score arrays of many videos back to back, checked
once when the table is built::

    names    ("v_a",            "v_b",      "v_c", ...)        # [video]
    offsets  [0,                 4,          7,     ...]        # [video + 1]
    values   [.2 .7 .1 .4 |     .9 .3 .3 | ...              ]   # [frame] float64
              video v_a          video v_b

``table["v_b"]`` is the read-only view ``values[4:7]``; a table is a
``Mapping[str, np.ndarray]`` and can be used wherever a dict of per-video arrays is expected.
Scores must be finite: NaN or infinite values raise
:class:`~claus_core.data.types.DataError` naming the video and the frames.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from claus_core.data.types import DataError


def check_finite(values: np.ndarray, what: str, error: type[ValueError] = DataError) -> None:
    """Raise ``error`` naming ``what`` and the first bad frames if a score is NaN or infinite."""
    bad = ~np.isfinite(values)
    if bad.any():
        if np.isnan(values).all():
            raise error(f"{what}: every score is NaN")
        kind = "NaN" if np.isnan(values).any() else "infinite"
        raise error(f"{what}: {kind} score at frames {np.flatnonzero(bad)[:5].tolist()}")


def check_scores(
    values: np.ndarray, mode: str, what: str, error: type[ValueError] = ValueError
) -> None:
    """Raise ``error`` on NaN / infinite scores, or negative ones under ``mode="multiply"`` (where
    Algorithm 1 damps by multiplying, which needs scores >= 0)."""
    check_finite(values, what, error)
    if mode == "multiply" and values.size and values.min() < 0:
        negative = np.flatnonzero(values < 0)[:5].tolist()
        message = f"{what}: negative score at frames {negative}; mode='multiply' needs scores"
        raise error(f"{message} >= 0 (use mode='subtract')")


class ScoreTable(Mapping[str, np.ndarray]):
    """The ``[frame]`` scores of videos ``names``, back to back in ``values``.

    Video ``v`` owns ``values[offsets[v] : offsets[v + 1]]``; ``values`` is a float64 copy of
    the input, read-only. ``what`` names the scores in error messages (e.g.
    ``"'uncertainty' scores"``).
    """

    def __init__(
        self,
        names: Sequence[str],
        offsets: ArrayLike,  # [video + 1] int
        values: ArrayLike,  # [frame]
        *,
        what: str = "scores",
    ) -> None:
        names = tuple(names)
        offsets = np.asarray(offsets)
        values = np.asarray(values)
        if offsets.shape != (len(names) + 1,) or offsets.dtype.kind not in "iu":
            raise ValueError(
                f"{what}: offsets must be {len(names) + 1} integers (one more than the videos), "
                f"got {offsets.dtype} of shape {offsets.shape}"
            )
        if offsets[0] != 0 or (np.diff(offsets) < 0).any():
            raise ValueError(f"{what}: offsets must start at 0 and never decrease")
        if values.ndim != 1 or values.dtype.kind not in "biuf":
            raise DataError(f"{what}: not a 1-d numeric array ({values.dtype}, {values.shape})")
        if len(values) != offsets[-1]:
            raise ValueError(
                f"{what}: offsets end at {int(offsets[-1])} but there are {len(values)} scores"
            )
        index = {name: video for video, name in enumerate(names)}
        if len(index) != len(names):
            repeated = next(name for name in names if names.count(name) > 1)
            raise ValueError(f"{what}: video {repeated!r} appears twice")
        offsets = offsets.astype(np.int64)  # a copy
        values = values.astype(np.float64)  # a copy
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            video = int(np.searchsorted(offsets, bad[0], "right")) - 1
            segment = values[offsets[video] : offsets[video + 1]]
            check_finite(segment, f"{what} of video {names[video]!r}")
        offsets.setflags(write=False)
        values.setflags(write=False)
        self.names, self.offsets, self.values, self.what = names, offsets, values, what
        self._index = index

    @classmethod
    def from_arrays(
        cls,
        arrays: Mapping[str, ArrayLike] | Iterable[tuple[str, ArrayLike]],
        *,
        what: str = "scores",
    ) -> ScoreTable:
        """One table from per-video ``[frame]`` arrays, in the mapping's order."""
        items = list(arrays.items() if isinstance(arrays, Mapping) else arrays)
        rows = [np.asarray(array) for _, array in items]
        for (name, _), row in zip(items, rows, strict=True):
            if row.ndim != 1 or row.dtype.kind not in "biuf":
                raise DataError(
                    f"{what} of video {name!r}: not a 1-d numeric array ({row.dtype}, {row.shape})"
                )
        offsets = np.cumsum([0, *map(len, rows)])  # [video + 1]
        values = np.concatenate(rows) if rows else np.zeros(0)  # [frame]
        return cls([name for name, _ in items], offsets, values, what=what)

    def __getitem__(self, name: str) -> np.ndarray:  # [frame] read-only view
        video = self._index[name]
        return self.values[self.offsets[video] : self.offsets[video + 1]]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __repr__(self) -> str:
        return f"ScoreTable({len(self.names)} videos, {len(self.values)} frames, {self.what})"


__all__ = ["ScoreTable", "check_finite"]
