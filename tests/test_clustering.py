"""Deep clustering: k-means with re-seeds, the per-video fit, occupancy, DCN online updates,
persistence (claus_core/clustering.py; issue 24)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claus_core.clustering import (
    ClusterConfig,
    DeepClusters,
    fit_clusters,
    kmeans,
    lloyd,
    occupancy,
)
from claus_core.data.types import DataError


def _blobs(k: int, per_cluster: int = 20, dim: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim)) * 20.0  # [K, D] far apart
    labels = np.repeat(np.arange(k), per_cluster)  # [N]
    points = centres[labels] + rng.normal(scale=0.5, size=(len(labels), dim))
    return points, labels, centres


def _fit(points: np.ndarray, k: int, seed: int = 3):
    return kmeans(points, k, n_init=4, max_iter=100, rng=np.random.default_rng(seed))


@pytest.mark.parametrize("k", [5, 10, 15])
def test_separable_blobs_are_recovered(k: int) -> None:
    points, labels, centres = _blobs(k)
    fit = _fit(points, k)
    assert fit.labels.shape == labels.shape and fit.labels.dtype == np.int64
    # the partition is the true one, up to renaming the clusters
    pairs = set(zip(labels.tolist(), fit.labels.tolist(), strict=True))
    assert len(pairs) == k and len({a for _, a in pairs}) == k
    nearest = np.linalg.norm(fit.centres[:, None] - centres[None], axis=2).min(axis=1)
    assert (nearest < 1.0).all()


def test_same_generator_same_centres() -> None:
    points, _, _ = _blobs(5, per_cluster=4, seed=1)
    points += np.random.default_rng(2).normal(scale=15.0, size=points.shape)  # overlapping
    first, again = _fit(points, 5, seed=7), _fit(points, 5, seed=7)
    np.testing.assert_array_equal(first.centres, again.centres)
    np.testing.assert_array_equal(first.labels, again.labels)


def test_an_empty_cluster_is_reseeded_from_the_largest_hand_computed() -> None:
    """Points 0, 1, 2 and 10 on a line; the second start is far from all of them, so its
    cluster is empty at the first assignment. It takes the member of the largest cluster (all
    four, centre 0) farthest from that centre, the point 10, and keeps it."""
    z = np.array([[0.0], [1.0], [2.0], [10.0]])
    fit = lloyd(z, np.array([[0.0], [100.0]]), max_iter=10)
    assert fit.reseeds == 1
    np.testing.assert_array_equal(fit.labels, [0, 0, 0, 1])
    np.testing.assert_allclose(fit.centres, [[1.0], [10.0]])
    assert fit.inertia == pytest.approx(2.0)  # (0-1)^2 + 0 + (2-1)^2 + 0


def test_a_cluster_of_copies_is_passed_over_for_the_next_largest() -> None:
    """The largest cluster holds three copies of one point: nothing in it is off its centre, so
    the empty cluster takes the farthest member of the next largest (0 and 2: the point 2)."""
    z = np.array([[5.0], [5.0], [5.0], [0.0], [2.0]])
    fit = lloyd(z, np.array([[5.0], [1.0], [100.0]]), max_iter=10)
    assert fit.reseeds == 1 and sorted(np.bincount(fit.labels).tolist()) == [1, 1, 3]
    assert {fit.labels[3], fit.labels[4]} == {1, 2} and set(fit.labels[:3]) == {0}
    np.testing.assert_allclose(np.sort(fit.centres[:, 0]), [0.0, 2.0, 5.0])


def test_a_collapsed_cloud_still_fills_k_clusters() -> None:
    """Issue 24's collapse: latents of norm ~2.65 that differ by ~1e-4 (an untrained detector).
    Fitted once and moved only by their members, the old centroids put every video in one
    cluster; a fit on the points themselves keeps all K alive, and assigns the points to all."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=16)
    base *= 2.65 / np.linalg.norm(base)
    points = base + rng.normal(scale=7e-5, size=(36, 16))  # [clip, D]
    fit = _fit(points, 5)
    assert len(np.unique(fit.labels)) == 5
    facts = occupancy(fit.labels, 5)
    assert facts["non_empty"] == 5 and facts["largest_share"] < 0.5
    # the old rule: centroids that one cluster's updates drag along while the others stay
    stale = DeepClusters(np.stack([base + 1e-3, *(base + 5.0 * np.eye(16)[:4])]), np.full(5, 100.0))
    for _ in range(3):
        stale.update(points, stale.assign(points))
    assert occupancy(stale.assign(points), 5)["non_empty"] == 1


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(5, 40),
    k=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_every_cluster_is_occupied_property(n: int, k: int, seed: int) -> None:
    points = np.random.default_rng(seed).normal(size=(n, 3))
    fit = kmeans(points, k, n_init=2, max_iter=50, rng=np.random.default_rng(seed))
    assert set(fit.labels.tolist()) == set(range(k))
    assert fit.reseeds >= 0 and fit.inertia >= 0


def test_fit_clusters_gives_each_video_its_majority_cluster() -> None:
    points, _, centres = _blobs(2, per_cluster=3, dim=4)
    clips = {  # video a: 3 clips near centre 0; b: 2 near centre 1 and 1 near 0; c: 3 near 1
        "a": points[:3],
        "b": np.concatenate([points[3:5], points[:1] + 0.1]),
        "c": points[3:6] + 0.2,
    }
    clusters, fit = fit_clusters(clips, ClusterConfig(k=2, n_init=3, seed=1), round_index=0)
    assert clusters.k == 2 and (clusters.counts == 100.0).all()
    assert clusters.members["b"] == clusters.members["c"] != clusters.members["a"]
    assert fit.labels.shape == (9,)


def test_fit_clusters_lowers_k_to_the_distinct_latents(caplog) -> None:
    clips = {"a": np.zeros((2, 3)), "b": np.ones((2, 3))}
    clusters, _ = fit_clusters(clips, ClusterConfig(k=5), round_index=0)
    assert clusters.k == 2 and "5 clusters asked, 2 distinct" in caplog.text


def test_occupancy_hand_computed() -> None:
    facts = occupancy({"a": 0, "b": 0, "c": 1, "d": 2}, 5)
    assert facts == {"non_empty": 3, "entropy_bits": pytest.approx(1.5), "largest_share": 0.5}
    assert occupancy(np.zeros(7, dtype=int), 3)["entropy_bits"] == 0.0
    assert occupancy(np.arange(8), 8)["entropy_bits"] == pytest.approx(3.0)  # log2 8: even
    with pytest.raises(ValueError, match="no assignment"):
        occupancy({}, 5)


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


def test_assign_nearest_videos_and_batches() -> None:
    clusters = DeepClusters(
        centroids=np.array([[0.0, 0.0], [4.0, 0.0]]), counts=[1.0, 1.0], members={"kept": 1}
    )
    np.testing.assert_array_equal(clusters.assign(np.array([[1.9, 5.0], [2.1, -5.0]])), [0, 1])
    videos = {  # [clip, D]: b's clips 2 of 3 near centre 1; a's tie 1-1, the lower index wins
        "b": np.array([[3.0, 0.0], [5.0, 1.0], [-1.0, 0.0]]),
        "a": np.array([[-1.0, 1.0], [4.0, 0.0]]),
    }
    assert clusters.assign_videos(videos) == {"b": 1, "a": 0}
    # a training clip goes to its video's fixed cluster, a video without one to the nearest
    batch = clusters.assign_batch(["kept", "new"], np.array([[0.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_array_equal(batch, [1, 0])
    with pytest.raises(ValueError, match="features"):
        clusters.assign(np.zeros((1, 3)))


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot form k=5 clusters from 3 latent vectors"):
        kmeans(np.arange(6.0).reshape(3, 2), 5, n_init=1, max_iter=5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="NaN"):
        fit_clusters({"v": np.full((8, 2), np.nan)}, ClusterConfig(k=2), round_index=0)
    with pytest.raises(ValueError, match="no training video"):
        fit_clusters({}, ClusterConfig(k=2), round_index=0)
    with pytest.raises(ValueError, match="max_iter must be >= 1"):
        ClusterConfig(max_iter=0)
    with pytest.raises(ValueError, match=r"video 'v' is in cluster 3, outside \[0, 2\)"):
        DeepClusters(np.zeros((2, 2)), [1.0, 1.0], members={"v": 3})
    clusters = DeepClusters(centroids=np.zeros((2, 2)), counts=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"assignments must lie in \[0, 2\)"):
        clusters.update(np.zeros((1, 2)), np.array([2]))
    bad = tmp_path / "bad.npz"
    np.savez(bad, centroids=np.zeros((2, 2)))
    with pytest.raises(DataError, match="bad.npz"):
        DeepClusters.load(bad)


def test_save_load_round_trip(tmp_path: Path) -> None:
    points, _, _ = _blobs(5, per_cluster=5)
    clips = {f"v{i}": points[i : i + 1] for i in range(len(points))}
    clusters, _ = fit_clusters(clips, ClusterConfig(k=5, n_init=2), round_index=2)
    clusters.update(points[:3], clusters.assign(points[:3]))
    path = tmp_path / "clusters.npz"
    clusters.save(path)
    loaded = DeepClusters.load(path)
    np.testing.assert_array_equal(loaded.centroids, clusters.centroids)
    np.testing.assert_array_equal(loaded.counts, clusters.counts)
    assert loaded.members == clusters.members and len(loaded.members) == 25
    assert np.isfinite(loaded.centroids).all()
