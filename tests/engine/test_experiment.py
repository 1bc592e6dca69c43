"""End to end: a two-round experiment on the smoke profile, resume after a kill, bad run dirs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from claus_core.clustering import DeepClusters, occupancy
from claus_core.cost import annotation_cost
from claus_core.data.types import AnnotationState
from claus_core.engine.experiment import Experiment, load_round_metrics, load_scores, round0_key
from claus_core.engine.sources import make_sources
from claus_core.files import StoreError
from claus_core.model.checkpoint import load_detector
from claus_core.run_tables import collect_rounds, resampled_test_intervals
from claus_core.score_table import ScoreTable
from claus_core.stats import vmap_from_videos
from claus_core.store import RunDir, TrainedRounds

pytestmark = pytest.mark.slow


def finished_run(tmp_path: Path, smoke_config) -> tuple:
    """A finished two-round smoke run: its config and its folder."""
    config = smoke_config("e2e")
    Experiment(config, tmp_path / "run", progress=False).run_all()
    return config, tmp_path / "run"


def state_of(folder: Path, r: int, name: str = "state.json") -> AnnotationState:
    return AnnotationState.from_json((folder / f"round{r}" / name).read_text())


def test_two_round_experiment_persists_every_round(tmp_path, smoke_config) -> None:
    torch.set_num_threads(1)
    config = smoke_config("e2e")
    summaries = Experiment(config, tmp_path / "run", progress=False).run_all()
    assert [s.round for s in summaries] == [0, 1]
    first, second = state_of(tmp_path / "run", 0), state_of(tmp_path / "run", 1)
    assert set(first.videos) < set(second.videos)
    pool = make_sources(config)[0].pool
    added = annotation_cost(pool, second) - annotation_cost(pool, first)
    assert 0 < added <= config.round_budget.frame_cost
    assert len(second.videos) - len(first.videos) <= config.round_budget.videos
    for name in (
        "checkpoint.pt",
        "metrics.json",
        "evaluation.json",
        "scores.npz",
        "clusters.npz",
        "selection.json",
        "next_state.json",
        "round.json",
    ):
        assert (tmp_path / "run" / "round0" / name).exists(), name
    metrics = json.loads((tmp_path / "run" / "round1" / "metrics.json").read_text())
    assert set(metrics["metrics"]) == {
        f"{m}@{t}" for m in ("f-mAP", "v-mAP") for t in (0.1, 0.2, 0.3, 0.5)
    }
    assert all(0.0 <= v <= 1.0 for v in metrics["metrics"].values())
    # the loss terms are logged apart and add up to the total of every epoch
    terms = metrics["train_loss_terms"]
    assert set(terms) == {"localization", "classification", "cluster"}  # claus: cluster loss on
    for epoch, total in enumerate(metrics["train_loss"]):
        assert sum(values[epoch] for values in terms.values()) == pytest.approx(total, rel=1e-5)
    assert len(metrics["spread_margin"]) == config.train.epochs
    # the stored scores are the ones the selection saw: one table per kind, every pool video
    scores = load_scores(tmp_path / "run", 0)
    assert set(scores) == {"uncertainty", "entropy"}
    table = scores["uncertainty"]
    assert isinstance(table, ScoreTable) and set(table) == set(pool.names)
    assert all(len(table[v.name]) == v.num_frames for v in pool.videos)
    records = json.loads((tmp_path / "run" / "round0" / "selection.json").read_text())["records"]
    scored = [r for r in records if r["frame_score"] == r["frame_score"]]  # not NaN
    assert scored and all(table[r["video"]][r["frame"]] == r["frame_score"] for r in scored)
    again = Experiment(config, tmp_path / "run", progress=False).run_all()
    assert again == summaries  # finished rounds are reused, not recomputed


def test_a_run_dir_from_another_config_is_refused(tmp_path, smoke_config) -> None:
    Experiment(smoke_config("e2e", rounds=0), tmp_path / "run", progress=False).run_all()
    before = (tmp_path / "run" / "round0" / "metrics.json").read_bytes()
    with pytest.raises(StoreError, match="another config"):
        Experiment(
            smoke_config("e2e", rounds=0, seed=1), tmp_path / "run", progress=False
        ).run_all()
    assert (tmp_path / "run" / "round0" / "metrics.json").read_bytes() == before


def test_a_corrupted_checkpoint_is_named(tmp_path, smoke_config) -> None:
    run = tmp_path / "run"
    Experiment(smoke_config("e2e"), run, progress=False).run_all()
    (run / "round1" / "round.json").unlink()
    (run / "round0" / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(Exception, match="checkpoint.pt"):
        Experiment(smoke_config("e2e"), run, progress=False).run_all()


def test_killed_run_resumes_to_the_same_final_state(tmp_path, smoke_config) -> None:
    config = smoke_config("e2e", rounds=2, strategy="uncertainty")
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    reference = tmp_path / "reference"
    Experiment(config, reference / "e2e" / "uncertainty" / "seed0", progress=False).run_all()

    root = tmp_path / "runs"
    command = [
        sys.executable,
        "-m",
        "claus_core.cli",
        "run",
        str(path),
        "--root",
        str(root),
        "--quiet",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run = root / "e2e" / "e2e" / "uncertainty" / "seed0"
    deadline = time.monotonic() + 300
    while not (run / "round0" / "round.json").exists():
        assert process.poll() is None and time.monotonic() < deadline, "run ended before round 0"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (run / "round2" / "round.json").exists(), "the kill came too late to test resuming"
    finished_before = sorted(p.parent.name for p in run.glob("round*/round.json"))

    result = subprocess.run(
        [sys.executable, "-m", "claus_core.cli", "resume", str(run), "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "round0" in finished_before
    final, expected = state_of(run, 2), state_of(reference / "e2e" / "uncertainty" / "seed0", 2)
    assert final == expected
    ours = json.loads((run / "round2" / "metrics.json").read_text())["metrics"]
    theirs = json.loads(
        (reference / "e2e" / "uncertainty" / "seed0" / "round2" / "metrics.json").read_text()
    )["metrics"]
    assert ours == pytest.approx(theirs, abs=1e-6)


def test_round0_key_holds_what_round0_reads(smoke_config) -> None:
    base = smoke_config("e2e", strategy="random")
    same = [
        base.replace(**{"strategy": "uncertainty"}),
        base.replace(**{"name": "other", "rounds": 3}),
        base.replace(**{"round_budget.videos": 7, "scoring.n_samples": 2}),
        base.replace(**{"cluster.k": 10}),
        base.replace(**{"strategy": "claus"}),
        base.replace(**{"strategy": "claus", "cluster.k": 10, "cluster.beta": 1e-3}),
        base.replace(**{"strategy": "sample", "train.cluster_loss": False}),
        base.replace(**{"strategy": "claus", "selection.quota": "proportional"}),
        base.replace(**{"selection.cluster_limit": 1.0, "selection.increment": "only_frame"}),
    ]  # round 0 trains without the cluster loss: clusters are first fitted on its model
    assert {round0_key(c) for c in same} == {round0_key(base)}
    differ = [
        base.replace(**{"seed": 1}),
        base.replace(**{"loss.variant": "frame"}),
        base.replace(**{"initial_budget.videos": 5}),
        base.replace(**{"train.epochs": 3}),
        base.replace(**{"evaluation.batch_size": 2}),
    ]
    assert len({round0_key(c) for c in differ} | {round0_key(base)}) == len(differ) + 1


def test_round0_is_trained_once_and_reused_where_identical(tmp_path, smoke_config) -> None:
    torch.set_num_threads(1)
    random = smoke_config("e2e", strategy="random")
    reference = tmp_path / "alone"
    Experiment(random, reference, progress=False).run_all()  # no sharing: trains its own round 0
    trained = TrainedRounds(tmp_path / "study")
    Experiment(
        random.replace(strategy="uncertainty"), tmp_path / "unc", progress=False, trained=trained
    ).run_all()
    assert trained.find(round0_key(random)) is not None
    shared = tmp_path / "random"
    Experiment(random, shared, progress=False, trained=trained).run_all()

    def metrics(folder: Path, r: int) -> dict:
        return json.loads((folder / f"round{r}" / "metrics.json").read_text())

    assert metrics(tmp_path / "unc", 0)["round0"]["reused"] is False
    assert metrics(shared, 0)["round0"] == {"key": round0_key(random), "reused": True}
    assert "train" not in metrics(shared, 0)["seconds"] and "train" in metrics(shared, 1)["seconds"]
    # the reused round 0 and everything after it equal the run that trained alone
    for r in (0, 1):
        ours, theirs = metrics(shared, r), metrics(reference, r)
        for name in (
            "metrics",
            "train_loss",
            "train_loss_terms",
            "spread_margin",
            "cost",
            "frames",
        ):
            assert ours[name] == theirs[name], (r, name)
        ours, theirs = (
            json.loads((f / f"round{r}" / "evaluation.json").read_text())
            for f in (shared, reference)
        )
        assert {**ours, "seconds": 0} == {**theirs, "seconds": 0}  # every score of every test video
        a, _ = load_detector(shared / f"round{r}" / "checkpoint.pt")
        b, _ = load_detector(reference / f"round{r}" / "checkpoint.pt")
        assert all(
            torch.equal(x, y)
            for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
        )
    assert state_of(shared, 0, "next_state.json") == state_of(reference, 0, "next_state.json")
    # CLAUS's round 0 trains without the cluster loss too: the same entry, reused
    Experiment(
        random.replace(strategy="claus"), tmp_path / "claus", progress=False, trained=trained
    ).run_all()
    assert metrics(tmp_path / "claus", 0)["round0"]["reused"] is True
    assert len(list(trained.root.iterdir())) == 1
    # a shared entry that changed is named before any run copies it
    entry = trained.root / round0_key(random)
    (entry / "checkpoint.pt").write_bytes((entry / "checkpoint.pt").read_bytes()[:-64] + bytes(64))
    with pytest.raises(
        StoreError, match=r"checkpoint.pt: missing, changed or corrupt since this shared round 0"
    ):
        Experiment(
            random.replace(strategy="entropy"),
            tmp_path / "entropy",
            progress=False,
            trained=trained,
        ).run_all()


def test_clusters_are_fitted_on_each_trained_model_and_act(tmp_path, smoke_config) -> None:
    """Issue 24: round 0 trains without the cluster loss; after each round's training k-means
    is fitted on the trained latents of the training videos; every video the next round trains
    on has its cluster; the round records how the pool fills the clusters and how many of CLAUS's
    new videos differ from uncertainty's on the same scored pool."""
    torch.set_num_threads(1)
    config = smoke_config("e2e", strategy="claus", rounds=1, **{"cluster.k": 3})
    Experiment(config, tmp_path / "run", progress=False).run_all()
    first = json.loads((tmp_path / "run" / "round0" / "metrics.json").read_text())
    second = json.loads((tmp_path / "run" / "round1" / "metrics.json").read_text())
    assert "cluster" not in first["train_loss_terms"] and "cluster" in second["train_loss_terms"]
    facts = first["clusters"]
    assert facts["k"] == 3 and facts["reseeds"] >= 0
    assert 1 <= facts["pool"]["non_empty"] <= 3 and 0.0 < facts["pool"]["largest_share"] <= 1.0
    assert facts["training"]["non_empty"] >= 1
    assert facts["without_clusters"] == "uncertainty"
    assert 0 <= facts["changed_by_clusters"] <= facts["new_videos"] == config.round_budget.videos
    assert (
        "cluster" in first["seconds"] and "clusters" not in second
    )  # the last round selects nothing
    clusters = DeepClusters.load(tmp_path / "run" / "round0" / "clusters.npz")
    pool = json.loads((tmp_path / "run" / "round0" / "clusters.json").read_text())
    following = state_of(tmp_path / "run", 0, "next_state.json")
    assert set(following.videos) <= set(clusters.members) and set(pool) == set(clusters.members)
    for name in state_of(tmp_path / "run", 0, "state.json").videos:  # not the pool's nearest
        assert 0 <= clusters.members[name] < 3
    assert facts["pool"] == occupancy(pool, 3)


def test_seed_k_of_every_strategy_is_paired(tmp_path, smoke_config) -> None:
    """The paired differences of the book need seed k of every strategy to share the initial
    selection, the initial weights and the data order: round 0 of two strategies that train
    alike (no cluster loss) is then identical, weights and metrics included."""
    torch.set_num_threads(1)
    runs = {}
    for strategy in ("random", "equidistant", "claus"):
        config = smoke_config("paired", strategy=strategy, rounds=0)
        Experiment(config, tmp_path / "g" / strategy / "seed0", progress=False).run_all()
        runs[strategy] = tmp_path / "g" / strategy / "seed0" / "round0"
    states = {s: (folder / "state.json").read_text() for s, folder in runs.items()}
    assert (
        states["random"] == states["equidistant"] == states["claus"]
    )  # the same initial selection
    metrics = {s: json.loads((folder / "metrics.json").read_text()) for s, folder in runs.items()}
    assert metrics["random"]["train_loss"] == metrics["equidistant"]["train_loss"]
    assert metrics["random"]["metrics"] == metrics["equidistant"]["metrics"]
    weights = {
        s: torch.load(folder / "checkpoint.pt", weights_only=True)["state_dict"]
        for s, folder in runs.items()
    }
    assert all(
        torch.equal(weights["random"][k], weights["equidistant"][k]) for k in weights["random"]
    )
    # CLAUS's round 0 trains without the cluster loss (no clusters are fitted yet): the same
    assert all(torch.equal(weights["random"][k], weights["claus"][k]) for k in weights["random"])
    # the test-set resampling uses the v-mAP rule the evaluation stored
    noise = resampled_test_intervals(tmp_path, [("random", "g", "random")])
    videos = json.loads((runs["random"] / "evaluation.json").read_text())["videos"]
    ious = np.array([np.nan if v["iou"] is None else v["iou"] for v in videos], dtype=float)
    for threshold in (0.1, 0.5):
        recomputed = vmap_from_videos(
            ious, np.array([v["label"] for v in videos]), threshold=threshold
        )
        assert recomputed == pytest.approx(
            metrics["random"]["metrics"][f"v-mAP@{threshold}"], abs=1e-9
        )
    rounds = collect_rounds(tmp_path)
    assert sorted(rounds["strategy"]) == ["claus", "equidistant", "random"] and set(
        rounds["round"]
    ) == {0}
    initial = AnnotationState.from_json(states["random"])
    assert rounds["frames"].tolist() == [initial.num_frames()] * 3
    assert (rounds["train (s)"] > 0).all() and (
        rounds["test videos"] == noise["test videos"].iloc[0]
    ).all()
    other_seed = smoke_config("paired", strategy="random", rounds=0, seed=1)
    Experiment(other_seed, tmp_path / "seed1", progress=False).run_all()
    assert (tmp_path / "seed1" / "round0" / "state.json").read_text() != states["random"]


def test_cosine_schedule_and_ema_weights_train_and_change_the_result(
    tmp_path, smoke_config
) -> None:
    torch.set_num_threads(1)
    weights = {}
    for name, changes in (("plain", {}), ("cosine", {"train.lr_schedule": "cosine"}),
                          ("ema", {"train.ema_decay": 0.5})):  # fmt: skip
        config = smoke_config("levers", strategy="random", rounds=0, **changes)
        Experiment(config, tmp_path / name, progress=False).run_all()
        metrics = json.loads((tmp_path / name / "round0" / "metrics.json").read_text())
        assert all(np.isfinite(metrics["train_loss"]))
        weights[name] = torch.load(tmp_path / name / "round0" / "checkpoint.pt", weights_only=True)[
            "state_dict"
        ]
    for lever in ("cosine", "ema"):
        assert not all(
            torch.equal(weights["plain"][k], weights[lever][k]) for k in weights["plain"]
        ), lever


def test_a_run_folder_in_use_is_refused_and_left_alone(tmp_path, smoke_config) -> None:
    config = smoke_config("e2e", rounds=0)
    run = RunDir(tmp_path / "run")
    run.bind(config.to_dict())
    with (
        run.lock(),
        pytest.raises(StoreError, match=f"in use by another claus process \\(pid {os.getpid()}\\)"),
    ):
        Experiment(config, tmp_path / "run", progress=False).run_all()
    assert not (tmp_path / "run" / "round0").exists()


def test_a_garbled_file_of_a_finished_round_is_caught_on_reuse_status_and_export(
    tmp_path, smoke_config
) -> None:
    from claus_core.export import export_round

    config, run = finished_run(tmp_path, smoke_config)
    checkpoint = run / "round0" / "checkpoint.pt"
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(
        64
    )  # 64 garbled bytes: torch.load would accept them
    checkpoint.write_bytes(bytes(data))
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != "log.txt"}
    with pytest.raises(
        StoreError,
        match=r"round0/checkpoint.pt: changed or corrupt.*delete .*round0 and every later round folder of .*, then run `claus resume",
    ):
        Experiment(config, run, progress=False).run_all()
    with pytest.raises(StoreError, match="checkpoint.pt: changed or corrupt"):
        load_round_metrics(run)
    with pytest.raises(StoreError, match="checkpoint.pt: changed or corrupt"):
        export_round(run, 0, "csv", tmp_path / "out", make_sources(config)[0].pool)
    (run / "round1" / "metrics.json").unlink()
    with pytest.raises(
        StoreError, match="round1/metrics.json: missing, though round 1 finished with it"
    ):
        RunDir(run).verify_round(1)
    assert all(
        p.read_bytes() == b for p, b in before.items() if p.exists()
    )  # nothing else was touched


def test_store_files_of_the_wrong_shape_are_named_on_resume_and_status(
    tmp_path, smoke_config
) -> None:
    config, run = finished_run(tmp_path, smoke_config)
    (run / "round1" / "round.json").unlink()  # round 1 is redone from round 0's next state
    state = json.loads((run / "round0" / "next_state.json").read_text())
    state["videos"].append("Nowhere/v_nothing")
    state["frames"]["Nowhere/v_nothing"] = [0]
    (run / "round0" / "next_state.json").write_text(json.dumps(state))
    RunDir(run).finish_round(
        0, json.loads((run / "round0" / "round.json").read_text())["hash"]
    )  # checksums agree
    with pytest.raises(StoreError, match=r"round0/next_state.json: .*'Nowhere/v_nothing', not in"):
        Experiment(config, run, progress=False).run_all()
    (run / "round0" / "metrics.json").write_text("{}")
    RunDir(run).finish_round(0, json.loads((run / "round0" / "round.json").read_text())["hash"])
    with pytest.raises(StoreError, match=r"round0/metrics.json: has no 'round'"):
        load_round_metrics(run)


def test_a_real_video_run_on_the_mini_set(tmp_path, smoke_config) -> None:
    """dataset ucf101_24_mini: decoded real frames, its own split, one selection round."""
    config = smoke_config("mini_real", dataset="ucf101_24_mini", **{"cluster.k": 3})
    summaries = Experiment(config, tmp_path / "run", progress=False).run_all()
    assert [s.round for s in summaries] == [0, 1]
    state = state_of(tmp_path / "run", 1)
    train, _test = make_sources(config)
    assert len(train.pool) == 11 and set(state.videos) <= set(train.pool.names)
    assert summaries[1].videos > summaries[0].videos


def test_a_bounded_source_keeps_the_most_recently_read_videos() -> None:
    """Real videos are cached up to a byte bound (UCF-101-24's train set is 85 GiB decoded)."""
    import numpy as np

    from claus_core.engine.sources import CachedSource

    class Counting:
        pool = None

        def __init__(self) -> None:
            self.reads: list[str] = []

        def frames(self, name: str) -> np.ndarray:
            self.reads.append(name)
            return np.zeros((10, 4, 5, 3), dtype=np.uint8)  # [frame, H, W, 3]: 600 bytes

    source = Counting()
    cache = CachedSource(source, max_bytes=1300)  # two videos fit, not three
    for name in ("a", "b", "a", "c", "a", "b"):
        cache.frames(name)
    assert source.reads == ["a", "b", "c", "b"]  # "b" was least recently read when "c" came
    assert cache.cached_bytes == 1200
    tiny = CachedSource(Counting(), max_bytes=1)
    assert (
        tiny.frames("a").shape == (10, 4, 5, 3) and tiny.cached_bytes == 600
    )  # the last one stays
