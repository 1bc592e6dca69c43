"""Per-frame scores of a whole pool in one flat array (supplementary Algorithm 1, lines 4-6).

Algorithm 1 scores every frame of every pool video (line 4: the MC-dropout uncertainty of the
frame) and then ranks the videos by those scores (lines 7-14). :class:`ScoreTable` is the
hand-over between the two: the ``[frame]`` score arrays of many videos back to back, checked
once when the table is built, so selection reads one array instead of thousands::

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


class ScoreTable(Mapping[str, np.ndarray]):
    """The ``[frame]`` scores of videos ``names``, back to back in ``values``.

    Video ``v`` owns ``values[offsets[v] : offsets[v + 1]]``. ``values`` is float64 and
    read-only; ``padded`` is the same followed by one ``-inf`` (index ``len(values)`` reads it),
    for gathers that need a filler. ``video_max`` (``[video]``, computed once when the table is
    built, with the finiteness check) is each video's highest score (``-inf`` for a video
    without frames), :meth:`video_min` each one's lowest; ``lowest`` / ``highest`` are those of
    the whole table. ``what`` names the scores in error messages (e.g.
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
        padded = np.empty(len(values) + 1, dtype=np.float64)  # [frame + 1]
        padded[:-1] = values
        self._adopt(names, offsets.astype(np.int64), padded, what)

    def _adopt(
        self, names: tuple[str, ...], offsets: np.ndarray, padded: np.ndarray, what: str
    ) -> None:
        """Take ``padded`` (float64 ``[frame + 1]``, the scores then one free cell) as this
        table's storage, without a copy, and check the scores."""
        padded[-1] = -np.inf
        scores = padded[:-1]  # [frame]
        video_max = self._per_video(np.maximum, scores, offsets, -np.inf)  # [video]
        lowest = float(scores.min(initial=np.inf))
        highest = float(video_max.max(initial=-np.inf))
        if not (-np.inf < lowest and highest < np.inf) and len(scores):
            first_bad = int(np.flatnonzero(~np.isfinite(scores))[0])
            video = int(np.searchsorted(offsets, first_bad, "right")) - 1
            check_finite(
                scores[offsets[video] : offsets[video + 1]], f"{what} of video {names[video]!r}"
            )
        for array in (padded, scores, offsets, video_max):
            array.setflags(write=False)
        self.names = names
        self.offsets = offsets
        self.padded = padded
        self.values = scores
        self.video_max = video_max
        self.lowest = lowest if len(scores) else 0.0
        self.highest = highest if len(scores) else 0.0
        self.what = what
        self._index: dict[str, int] | None = None

    @staticmethod
    def _per_video(
        reduce: np.ufunc, scores: np.ndarray, offsets: np.ndarray, empty: float
    ) -> np.ndarray:  # [video]
        """``reduce`` (np.minimum, np.maximum) over each video's scores; ``empty`` for a video
        without frames."""
        result = np.full(len(offsets) - 1, empty)  # [video]
        nonempty = np.flatnonzero(np.diff(offsets))  # a segment ends where the next one starts
        if len(nonempty):
            result[nonempty] = reduce.reduceat(scores, offsets[nonempty])
        return result

    def video_min(self) -> np.ndarray:  # [video] +inf for a video without frames
        """Each video's lowest score (computed on each call)."""
        return self._per_video(np.minimum, self.values, self.offsets, np.inf)

    @classmethod
    def from_arrays(
        cls,
        arrays: Mapping[str, ArrayLike] | Iterable[tuple[str, ArrayLike]],
        *,
        what: str = "scores",
    ) -> ScoreTable:
        """One table from per-video ``[frame]`` arrays, in the mapping's order (one copy, into
        the table)."""
        items = list(arrays.items() if isinstance(arrays, Mapping) else arrays)
        names = tuple(name for name, _ in items)
        rows = [np.asarray(array) for _, array in items]
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)  # [video + 1]
        try:
            np.cumsum(np.fromiter(map(len, rows), np.int64, len(rows)), out=offsets[1:])
            padded = np.empty(int(offsets[-1]) + 1)  # [frame + 1]
            if rows:  # "same_kind" casting to float64 refuses any non-numeric row
                np.concatenate(rows, out=padded[:-1], casting="same_kind")
        except (TypeError, ValueError) as err:
            for name, row in zip(names, rows, strict=True):
                if row.ndim != 1 or row.dtype.kind not in "biuf":
                    raise DataError(
                        f"{what} of video {name!r}: not a 1-d numeric array "
                        f"({row.dtype}, {row.shape})"
                    ) from err
            raise DataError(f"{what}: cannot lay out the score arrays ({err})") from err
        table = cls.__new__(cls)
        table._adopt(names, offsets, padded, what)
        return table

    # ----------------------------------------------------------------------- lookups

    @property
    def largest(self) -> float:
        """The largest absolute score (0 for an empty table)."""
        return max(abs(self.lowest), abs(self.highest))

    def _positions(self) -> dict[str, int]:
        if self._index is None:
            index = {name: video for video, name in enumerate(self.names)}
            if len(index) != len(self.names):
                repeated = next(n for n in self.names if self.names.count(n) > 1)
                raise ValueError(f"{self.what}: video {repeated!r} appears twice")
            self._index = index
        return self._index

    def positions(self, names: Sequence[str]) -> np.ndarray:  # [name] int64, -1: missing
        """The table row of each of ``names`` (-1 where the table has no scores for it)."""
        if tuple(names) == self.names:
            return np.arange(len(self.names), dtype=np.int64)
        index = self._positions()
        return np.fromiter((index.get(n, -1) for n in names), dtype=np.int64, count=len(names))

    def __getitem__(self, name: str) -> np.ndarray:  # [frame] read-only view
        video = self._positions()[name]
        return self.values[self.offsets[video] : self.offsets[video + 1]]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._positions()

    def __repr__(self) -> str:
        return f"ScoreTable({len(self.names)} videos, {len(self.values)} frames, {self.what})"


__all__ = ["ScoreTable", "check_finite"]
