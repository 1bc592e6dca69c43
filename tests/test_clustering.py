"""Deep clustering: k-means init, nearest-centroid assignment, DCN online updates, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from claus_core.clustering import ClusterConfig, DeepClusters, init_kmeans
from claus_core.data.types import DataError


def _blobs(k: int, per_cluster: int = 20, dim: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim)) * 20.0  # [K, D] far apart
    labels = np.repeat(np.arange(k), per_cluster)  # [N]
    points = centres[labels] + rng.normal(scale=0.5, size=(len(labels), dim))
    return points, labels, centres


@pytest.mark.parametrize("k", [5, 10, 15])
def test_separable_blobs_are_recovered(k: int) -> None:
    points, labels, centres = _blobs(k)
    clusters = init_kmeans(points, ClusterConfig(k=k, n_init=4, seed=3))
    assigned = clusters.assign(points)
    assert assigned.shape == labels.shape and assigned.dtype == np.int64
    # the partition is the true one, up to renaming the clusters
    pairs = set(zip(labels.tolist(), assigned.tolist(), strict=True))
    assert len(pairs) == k and len({a for _, a in pairs}) == k
    nearest = np.linalg.norm(clusters.centroids[:, None] - centres[None], axis=2).min(axis=1)
    assert (nearest < 1.0).all()
    assert (clusters.counts == 100.0).all()


def test_same_seed_same_centroids() -> None:
    points, _, _ = _blobs(5, per_cluster=4, seed=1)
    points += np.random.default_rng(2).normal(scale=15.0, size=points.shape)  # overlapping
    config = ClusterConfig(k=5, n_init=2, seed=7)
    first = init_kmeans(points, config)
    again = init_kmeans(points, config)
    np.testing.assert_array_equal(first.centroids, again.centroids)


def test_online_update_moves_centroid_by_one_over_count() -> None:
    clusters = DeepClusters(centroids=np.array([[0.0, 0.0], [10.0, 10.0]]), counts=[3.0, 5.0])
    clusters.update(np.array([[4.0, 8.0]]), np.array([0]))
    # count 3 -> 4, mu -= (mu - z) / 4
    np.testing.assert_allclose(clusters.centroids[0], [1.0, 2.0])
    np.testing.assert_allclose(clusters.centroids[1], [10.0, 10.0])  # untouched
    np.testing.assert_array_equal(clusters.counts, [4.0, 5.0])
    # a batch equals the same samples one at a time, in any order
    batch = np.array([[2.0, 0.0], [11.0, 13.0], [6.0, 4.0]])
    assignments = np.array([0, 1, 0])
    one_by_one = DeepClusters(clusters.centroids.copy(), clusters.counts.copy())
    for index in [2, 1, 0]:
        cluster = assignments[index]
        one_by_one.counts[cluster] += 1
        step = 1.0 / one_by_one.counts[cluster]
        one_by_one.centroids[cluster] -= step * (one_by_one.centroids[cluster] - batch[index])
    clusters.update(batch, assignments)
    np.testing.assert_allclose(clusters.centroids, one_by_one.centroids)
    np.testing.assert_array_equal(clusters.counts, [6.0, 6.0])


def test_assign_nearest_and_assign_videos() -> None:
    clusters = DeepClusters(centroids=np.array([[0.0, 0.0], [4.0, 0.0]]), counts=[1.0, 1.0])
    np.testing.assert_array_equal(clusters.assign(np.array([[1.9, 5.0], [2.1, -5.0]])), [0, 1])
    videos = {"b": np.array([3.0, 0.0]), "a": np.array([-1.0, 1.0])}
    assert clusters.assign_videos(videos) == {"b": 1, "a": 0}
    with pytest.raises(ValueError, match="features"):
        clusters.assign(np.zeros((1, 3)))


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot form k=5 clusters from 3 latent vectors"):
        init_kmeans(np.arange(6.0).reshape(3, 2), ClusterConfig(k=5))
    with pytest.raises(ValueError, match="NaN"):
        init_kmeans(np.full((8, 2), np.nan), ClusterConfig(k=2))
    clusters = DeepClusters(centroids=np.zeros((2, 2)), counts=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"assignments must lie in \[0, 2\)"):
        clusters.update(np.zeros((1, 2)), np.array([2]))
    bad = tmp_path / "bad.npz"
    np.savez(bad, centroids=np.zeros((2, 2)))
    with pytest.raises(DataError, match="bad.npz"):
        DeepClusters.load(bad)


def test_save_load_round_trip(tmp_path: Path) -> None:
    points, _, _ = _blobs(5, per_cluster=5)
    clusters = init_kmeans(points, ClusterConfig(k=5, n_init=2))
    clusters.update(points[:3], clusters.assign(points[:3]))
    path = tmp_path / "clusters.npz"
    clusters.save(path)
    loaded = DeepClusters.load(path)
    np.testing.assert_array_equal(loaded.centroids, clusters.centroids)
    np.testing.assert_array_equal(loaded.counts, clusters.counts)
