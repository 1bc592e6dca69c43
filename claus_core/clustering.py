"""Deep clustering of the detector's latent features (supplementary Sections 3, 4.1, 7.2, Fig. 1).

Following DCN (Yang et al. 2017, "Towards k-means-friendly spaces") and DeepCluster (Caron et
al. 2018), as the authors' released code does it (``ucf101_cluster.py``), K centres (``K = 5``
in the paper; Figure 1 also runs 10 and 15) are fitted again at every active-learning step::

    after round r's training (never on an untrained model), from the MC-dropout scoring:
      training videos --sliding clips--> latents [clip, D] --k-means, K centres--> centres [K, D]
      every pool video (training videos included): the cluster most of its clips fall in;
        Algorithm 1's cluster limit reads it, and a video keeps it while round r+1 trains
    round r+1's training: the cluster loss beta/2 ||z - mu_c||^2 pulls each clip towards its
      video's centre c, and each centre follows its own members (DCN's count rule below)

k-means is Lloyd's algorithm from ``n_init`` k-means++ starts (the lowest inertia wins). A
cluster left empty during the iterations is re-seeded from the largest one, so that K clusters
stay alive (DeepCluster's k-means splits a large cluster to the same end; here the empty
cluster takes the member of the largest cluster farthest from its centre, as scikit-learn's
k-means takes far points); every re-seed is counted and recorded. Fitted once on an
untrained detector and moved only by its members, the centres collapsed into one (issue 24:
all pool videos in one cluster in every round), and the cluster limit never acted.

DCN's online update: for every sample ``z`` of cluster ``c``, ``count_c += 1`` and
``mu_c -= (1 / count_c) * (mu_c - z)``. The counts start at 100 at every fit, as in the DCN
implementation the released code uses (``count = 100 * ones``, "serve as learning rate"), so
early updates move a centre by about 1 % of the distance to the sample.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from claus_core.data.types import DataError
from claus_core.files import write_npz

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterConfig:
    """Deep-clustering settings: K, the cluster-loss weight and the k-means fit.

    ``beta = 1e-6`` and ``n_init = 20`` are the released code's values; ``max_iter`` bounds
    Lloyd's iterations of each start; ``seed``, with the round, seeds the k-means++ starts (the
    loop sets it to the experiment's seed).
    """

    k: int = 5
    beta: float = 1e-6
    n_init: int = 20
    initial_count: float = 100.0
    seed: int = 0
    max_iter: int = field(default=100, metadata={"added": True})  # issue 24; hash-neutral

    def __post_init__(self) -> None:
        for name in ("k", "n_init", "max_iter"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        if self.initial_count < 0:
            raise ValueError(f"initial_count must be >= 0, got {self.initial_count}")


def _check_latents(latents: np.ndarray, dim: int | None = None) -> np.ndarray:  # [N, D] float64
    array = np.asarray(latents, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0:
        raise ValueError(f"latents must be a non-empty [N, D] array, got shape {array.shape}")
    if dim is not None and array.shape[1] != dim:
        raise ValueError(f"latents have {array.shape[1]} features, the centroids {dim}")
    if not np.isfinite(array).all():
        raise ValueError("latents contain NaN or infinite values")
    return array


def _squared_distances(z: np.ndarray, centres: np.ndarray) -> np.ndarray:  # [N, K]
    """Computed from the differences, exact for latents that differ by 1e-5 (issue 24)."""
    return ((z[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)


@dataclass
class DeepClusters:
    """K centroids ``[K, D]``, the number of samples each has absorbed ``[K]``, and ``members``:
    the fixed cluster of every video the next round may train on (video name -> cluster)."""

    centroids: np.ndarray  # [K, D] float64
    counts: np.ndarray  # [K] float64
    members: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.centroids = np.array(self.centroids, dtype=np.float64)
        self.counts = np.array(self.counts, dtype=np.float64)
        self.members = {str(name): int(c) for name, c in self.members.items()}
        if self.centroids.ndim != 2 or self.counts.shape != (self.centroids.shape[0],):
            raise ValueError(
                f"centroids must be [K, D] and counts [K], got {self.centroids.shape} and "
                f"{self.counts.shape}"
            )
        outside = [n for n, c in self.members.items() if not 0 <= c < self.k]
        if outside:
            raise ValueError(
                f"video {outside[0]!r} is in cluster {self.members[outside[0]]}, outside [0, {self.k})"
            )

    @property
    def k(self) -> int:
        return self.centroids.shape[0]

    def assign(self, latents: np.ndarray) -> np.ndarray:  # [N] int64
        """Index of the nearest centroid (Euclidean) of each latent vector ``[N, D]``."""
        z = _check_latents(latents, self.centroids.shape[1])
        return _squared_distances(z, self.centroids).argmin(axis=1).astype(np.int64)

    def assign_videos(self, clip_latents: Mapping[str, np.ndarray]) -> dict[str, int]:
        """The cluster of every video: the one most of its clips ``[clip, D]`` fall in (ties:
        the lower index), names in their order."""
        return {
            name: int(np.bincount(self.assign(latents), minlength=self.k).argmax())
            for name, latents in clip_latents.items()
        }

    def assign_batch(self, names: list[str], latents: np.ndarray) -> np.ndarray:  # [B] int64
        """The cluster of each clip of a training batch: its video's fixed cluster (``members``),
        or for a video without one the centroid nearest the clip's latent ``[B, D]``."""
        nearest = self.assign(latents)
        return np.asarray(
            [self.members.get(name, int(c)) for name, c in zip(names, nearest, strict=True)],
            dtype=np.int64,
        )

    def update(self, latents: np.ndarray, assignments: np.ndarray) -> None:
        """DCN's online centroid update with the batch ``latents`` ``[N, D]`` (in place).

        Each sample in turn: ``count_c += 1; mu_c -= (mu_c - z) / count_c``. Done sample by
        sample, this is a running mean that treats ``mu_c`` as the mean of ``count_c`` earlier
        samples, so the batch update is ``mu_c = (count_c mu_c + sum z) / (count_c + n_c)``
        whatever the order of the samples; it is computed that way.
        """
        z = _check_latents(latents, self.centroids.shape[1])
        labels = np.asarray(assignments, dtype=np.int64)
        if labels.shape != (z.shape[0],):
            raise ValueError(f"assignments must be [N] = [{z.shape[0]}], got {labels.shape}")
        if labels.size and (labels.min() < 0 or labels.max() >= self.k):
            raise ValueError(
                f"assignments must lie in [0, {self.k}), got {labels.min()}..{labels.max()}"
            )
        added = np.bincount(labels, minlength=self.k).astype(np.float64)  # [K]
        sums = np.zeros_like(self.centroids)  # [K, D]
        np.add.at(sums, labels, z)
        touched = added > 0
        new_counts = self.counts + added
        self.centroids[touched] = (
            self.counts[touched, None] * self.centroids[touched] + sums[touched]
        ) / new_counts[touched, None]
        self.counts = new_counts

    def save(self, path: str | Path) -> None:
        """Write the centroids, counts and members to an ``.npz`` file (atomic)."""
        names = sorted(self.members)
        write_npz(
            Path(path),
            {
                "centroids": self.centroids,
                "counts": self.counts,
                "member_videos": np.asarray(names, dtype=np.str_),
                "member_clusters": np.asarray([self.members[n] for n in names], dtype=np.int64),
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> DeepClusters:
        """Read what :meth:`save` wrote; a malformed file raises DataError naming it."""
        try:
            with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
                members = {}
                if "member_videos" in data:
                    videos, labels = data["member_videos"], data["member_clusters"]
                    members = dict(zip(videos.tolist(), labels.tolist(), strict=True))
                return cls(centroids=data["centroids"], counts=data["counts"], members=members)
        except (KeyError, ValueError, OSError, EOFError, TypeError, zipfile.BadZipFile) as err:
            raise DataError(
                f"{path}: not a deep-clusters file ({type(err).__name__}: {err})"
            ) from err


@dataclass(frozen=True)
class KMeansFit:
    """One k-means fit: centres ``[K, D]``, the cluster of each point ``[N]``, its inertia (sum
    of squared distances to the centres) and how many times an empty cluster was re-seeded."""

    centres: np.ndarray  # [K, D]
    labels: np.ndarray  # [N] int64
    inertia: float
    reseeds: int


def _kmeans_plus_plus(z: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:  # [K, D]
    """k-means++ starting centres (Arthur & Vassilvitskii 2007): each next centre is a point
    drawn with probability proportional to its squared distance to the nearest centre so far."""
    chosen = [int(rng.integers(len(z)))]
    nearest = _squared_distances(z, z[chosen]).min(axis=1)  # [N]
    for _ in range(1, k):
        total = nearest.sum()
        pick = (
            int(rng.integers(len(z))) if total == 0 else int(rng.choice(len(z), p=nearest / total))
        )
        chosen.append(pick)
        nearest = np.minimum(nearest, _squared_distances(z, z[[pick]])[:, 0])
    return z[chosen].copy()


def lloyd(z: np.ndarray, centres: np.ndarray, *, max_iter: int) -> KMeansFit:
    """Lloyd's iterations from ``centres`` ``[K, D]`` on the points ``z`` ``[N, D]``. A cluster
    left empty takes the member of the largest cluster farthest from that cluster's centre (one
    re-seed each time); a cluster of copies of one point is passed over for the next largest."""
    centres = np.array(centres, dtype=np.float64)
    k = centres.shape[0]
    labels, reseeds = None, 0
    for _ in range(max_iter):
        distances = _squared_distances(z, centres)  # [N, K]
        new = distances.argmin(axis=1)
        sizes = np.bincount(new, minlength=k)  # [K]
        for empty in np.flatnonzero(sizes == 0):
            # the largest cluster with a member off its centre (not only copies of one point)
            own = distances[np.arange(len(z)), new]  # [N] each point to its own centre
            spread = [c for c in np.argsort(-sizes, kind="stable") if (own[new == c] > 0).any()]
            if not spread:
                break  # every cluster holds copies of one point: nothing to re-seed from
            members = np.flatnonzero(new == spread[0])
            farthest = members[own[members].argmax()]
            new[farthest] = empty
            sizes[spread[0]] -= 1
            sizes[empty] = 1
            distances[farthest] = np.inf
            distances[farthest, empty] = 0.0
            reseeds += 1
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        centres = np.stack(
            [z[labels == c].mean(axis=0) if (labels == c).any() else centres[c] for c in range(k)]
        )
    assert labels is not None  # max_iter >= 1
    inertia = float(((z - centres[labels]) ** 2).sum())
    return KMeansFit(centres, labels.astype(np.int64), inertia, reseeds)


def kmeans(
    z: np.ndarray, k: int, *, n_init: int, max_iter: int, rng: np.random.Generator
) -> KMeansFit:
    """The best (lowest inertia) of ``n_init`` Lloyd runs from k-means++ starts on ``z`` ``[N, D]``;
    its ``reseeds`` are those of the run kept."""
    z = _check_latents(z)
    distinct = np.unique(z, axis=0).shape[0]
    if k > distinct:
        raise ValueError(
            f"cannot form k={k} clusters from {z.shape[0]} latent vectors ({distinct} distinct)"
        )
    fits = [lloyd(z, _kmeans_plus_plus(z, k, rng), max_iter=max_iter) for _ in range(n_init)]
    return min(fits, key=lambda fit: fit.inertia)


def fit_clusters(
    clip_latents: Mapping[str, np.ndarray], config: ClusterConfig, *, round_index: int
) -> tuple[DeepClusters, KMeansFit]:
    """k-means on the clips of the training videos (``clip_latents[video]`` ``[clip, D]``).

    Every video gets the cluster most of its clips fall in under the fitted centres (ties: the
    lower index) as its member cluster; the counts start at ``config.initial_count``. K is lowered, with a warning, to the
    number of distinct clip latents when there are fewer (a labeling project's first rounds).
    """
    names = list(clip_latents)
    if not names:
        raise ValueError("no training video to cluster")
    blocks = [_check_latents(clip_latents[n]) for n in names]
    z = np.concatenate(blocks)  # [clip, D]
    distinct = np.unique(z, axis=0).shape[0]
    k = min(config.k, distinct)
    if k < config.k:
        logger.warning(
            "k-means: %d clusters asked, %d distinct clip latents: k = %d", config.k, distinct, k
        )
    rng = np.random.default_rng([config.seed, round_index, 3])
    fit = kmeans(z, k, n_init=config.n_init, max_iter=config.max_iter, rng=rng)
    clusters = DeepClusters(fit.centres, np.full(k, config.initial_count, dtype=np.float64))
    clusters.members = clusters.assign_videos(dict(zip(names, blocks, strict=True)))
    return clusters, fit


def occupancy(labels: Mapping[str, int] | np.ndarray, k: int) -> dict[str, float]:
    """How a set of assignments fills K clusters: ``non_empty`` clusters, the assignment's
    ``entropy_bits`` (log2 K when even, 0 when all in one) and the ``largest_share``."""
    values = np.asarray(
        list(labels.values()) if isinstance(labels, Mapping) else labels, dtype=np.int64
    )
    if values.size == 0:
        raise ValueError("occupancy of no assignment")
    shares = np.bincount(values, minlength=k) / values.size  # [K]
    present = shares[shares > 0]
    entropy = float(-(present * np.log2(present)).sum())
    return {
        "non_empty": int(present.size),
        "entropy_bits": max(entropy, 0.0),
        "largest_share": float(shares.max()),
    }
