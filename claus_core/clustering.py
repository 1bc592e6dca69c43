"""Deep clustering of the detector's latent features (supplementary Section 7.2, Figure 1).

Following DCN (Yang et al. 2017, "Towards k-means-friendly spaces") and DeepCluster (Caron et
al. 2018), K centroids (``K = 5`` in the paper; Figure 1 also runs 10 and 15) are initialized
by k-means on the ``Latent_feats`` vectors of the labeled training set. During training the
cluster loss ``beta / 2 * ||z - mu_c||^2`` (:func:`claus_core.losses.cluster_loss`) pulls each
latent vector towards its centroid, and the centroids follow the features with DCN's online
update: for every sample ``z`` assigned to cluster ``c``, ``count_c += 1`` and
``mu_c -= (1 / count_c) * (mu_c - z)``. Before each selection step every pool video is assigned
to its nearest centroid; Algorithm 1 caps how many videos each cluster may contribute.

The per-cluster counts start at 100, as in the DCN implementation the authors' released code
uses (``count = 100 * ones``, "serve as learning rate"), so early updates move the centroids
by about 1 % of the distance to the sample.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

from claus_core.data.types import DataError
from claus_core.store import write_npz


@dataclass(frozen=True)
class ClusterConfig:
    """Deep-clustering settings: K, the cluster-loss weight and the k-means initialization.

    ``beta = 1e-6`` and ``n_init = 20`` are the released code's values; ``seed`` makes the
    k-means initialization reproducible.
    """

    k: int = 5
    beta: float = 1e-6
    n_init: int = 20
    initial_count: float = 100.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")
        if self.n_init < 1:
            raise ValueError(f"n_init must be >= 1, got {self.n_init}")
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


@dataclass
class DeepClusters:
    """K centroids ``[K, D]`` and the number of samples each has absorbed ``[K]``."""

    centroids: np.ndarray  # [K, D] float64
    counts: np.ndarray  # [K] float64

    def __post_init__(self) -> None:
        self.centroids = np.array(self.centroids, dtype=np.float64)
        self.counts = np.array(self.counts, dtype=np.float64)
        if self.centroids.ndim != 2 or self.counts.shape != (self.centroids.shape[0],):
            raise ValueError(
                f"centroids must be [K, D] and counts [K], got {self.centroids.shape} and "
                f"{self.counts.shape}"
            )

    @property
    def k(self) -> int:
        return self.centroids.shape[0]

    def assign(self, latents: np.ndarray) -> np.ndarray:  # [N] int64
        """Index of the nearest centroid (Euclidean) of each latent vector ``[N, D]``."""
        z = _check_latents(latents, self.centroids.shape[1])
        squared = (
            (z**2).sum(axis=1)[:, None]
            - 2.0 * z @ self.centroids.T
            + (self.centroids**2).sum(axis=1)[None, :]
        )  # [N, K]
        return squared.argmin(axis=1).astype(np.int64)

    def assign_videos(self, latents: Mapping[str, np.ndarray]) -> dict[str, int]:
        """Cluster of every video from its latent vector ``[D]`` (names keep their order)."""
        names = list(latents)
        if not names:
            return {}
        labels = self.assign(np.stack([np.asarray(latents[n]) for n in names]))
        return {name: int(label) for name, label in zip(names, labels, strict=True)}

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
        """Write the centroids and counts to an ``.npz`` file."""
        write_npz(
            Path(path), {"centroids": self.centroids, "counts": self.counts}
        )  # atomic, names a full disk

    @classmethod
    def load(cls, path: str | Path) -> DeepClusters:
        """Read what :meth:`save` wrote; a malformed file raises DataError naming it."""
        try:
            with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
                return cls(centroids=data["centroids"], counts=data["counts"])
        except (KeyError, ValueError, OSError, EOFError, TypeError, zipfile.BadZipFile) as err:
            raise DataError(
                f"{path}: not a deep-clusters file ({type(err).__name__}: {err})"
            ) from err


def init_kmeans(latents: np.ndarray, config: ClusterConfig) -> DeepClusters:
    """K-means (scikit-learn, ``random_state=config.seed``) on ``latents`` ``[N, D]``.

    Every count starts at ``config.initial_count``. Fewer distinct latent vectors than ``k``
    raise ValueError: k-means could not place ``k`` distinct centroids.
    """
    z = _check_latents(latents)
    distinct = np.unique(z, axis=0).shape[0]
    if config.k > distinct:
        raise ValueError(
            f"cannot form k={config.k} clusters from {z.shape[0]} latent vectors "
            f"({distinct} distinct)"
        )
    kmeans = KMeans(n_clusters=config.k, n_init=config.n_init, random_state=config.seed)
    kmeans.fit(z)
    counts = np.full(config.k, config.initial_count, dtype=np.float64)
    return DeepClusters(centroids=kmeans.cluster_centers_, counts=counts)
