"""Scale-out: sharding, the torchrun environment, and runs on 2 CPU processes (gloo).

The slow tests start real process groups with ``python -m torch.distributed.run --standalone``:
pool scores with 2 processes equal those of 1, a 2-process experiment writes the run store
once, and a rank that dies mid-round leaves the previous round intact for ``resume``.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch.utils.data import DistributedSampler

from claus_core import cli, distributed
from claus_core.engine.experiment import Experiment, detector_for
from claus_core.engine.sources import make_sources
from claus_core.model.factory import new_detector
from claus_core.uncertainty import score_pool

REPO = Path(__file__).resolve().parents[1]
TORCHRUN_TIMEOUT_S = 240


def torchrun(args: list[str], nproc: int) -> subprocess.CompletedProcess[str]:
    command = distributed.torchrun_command(args, nproc)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=TORCHRUN_TIMEOUT_S,
                          check=False)  # fmt: skip


# ---- one process: sharding, environment, command ----------------------------------------


@pytest.mark.parametrize("world", [1, 2, 3, 7])
def test_shards_partition_the_pool_in_balanced_parts(world: int) -> None:
    names = [f"v{i:02d}" for i in range(20)]
    shards = [distributed.shard(names, r, world) for r in range(world)]
    assert sorted(sum(shards, [])) == names
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert shards == [distributed.shard(names, r, world) for r in range(world)]  # deterministic


@pytest.mark.parametrize(("rank", "world"), [(0, 0), (2, 2), (-1, 2)])
def test_a_bad_rank_is_refused(rank: int, world: int) -> None:
    with pytest.raises(ValueError, match="rank"):
        distributed.shard(["a", "b"], rank, world)


@pytest.mark.parametrize(("size", "world"), [(10, 1), (10, 2), (10, 3), (7, 4), (3, 5)])
def test_rank_indices_match_distributed_sampler(size: int, world: int) -> None:
    order = np.random.default_rng(size * 10 + world).permutation(size)
    for rank in range(world):
        sampler = DistributedSampler(range(size), num_replicas=world, rank=rank, shuffle=False)
        expected = order[np.fromiter(iter(sampler), dtype=np.int64)]
        np.testing.assert_array_equal(distributed.rank_indices(order, rank, world), expected)


def test_launch_env_reads_torchrun_variables() -> None:
    assert distributed.launch_env({}) is None
    env = distributed.launch_env({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert env == distributed.LaunchEnv(rank=1, world_size=4, local_rank=1)
    with pytest.raises(ValueError, match="LOCAL_RANK"):
        distributed.launch_env({"RANK": "0", "WORLD_SIZE": "2"})
    with pytest.raises(ValueError, match="not integers"):
        distributed.launch_env({"RANK": "x", "WORLD_SIZE": "2", "LOCAL_RANK": "0"})
    with pytest.raises(ValueError, match="RANK=2"):
        distributed.launch_env({"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0"})


def test_backend_follows_cuda() -> None:
    assert distributed.choose_backend(cuda=True) == "nccl"
    assert distributed.choose_backend(cuda=False) == "gloo"


def test_one_process_helpers_are_identities() -> None:
    assert not distributed.is_distributed()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    scores = {"a": np.arange(3)}
    assert distributed.gather_scores(scores) == scores
    assert distributed.broadcast_from_main("state") == "state"
    rows = torch.ones(2, 3)
    assert distributed.all_gather_rows(rows) is rows
    assert distributed.mean_over_ranks(1.5) == 1.5
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap_model(model) is model


def test_launch_command_runs_the_cli_under_torch_distributed_run() -> None:
    command = distributed.launch_command(["run", "c.yaml"], 3, python="py")
    assert command == [
        "py",
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "3",
        "-m",
        "claus_core.cli",
        "run",
        "c.yaml",
    ]
    with pytest.raises(ValueError, match="--nproc must be >= 1"):
        distributed.launch_command(["run", "c.yaml"], 0)


def test_nproc_larger_than_the_pool_is_a_clear_error(tmp_path, capsys, smoke_config) -> None:
    config = smoke_config("dist")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    pool_size = len(make_sources(config)[0].pool)
    code = cli.main(
        ["run", str(path), "--root", str(tmp_path / "runs"), "--nproc", str(pool_size + 1)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert f"{pool_size + 1} processes for a pool of {pool_size} videos" in err
    assert not (tmp_path / "runs").exists()


# ---- several processes (gloo) ------------------------------------------------------------

SCORING_WORKER = """
    import sys
    from dataclasses import replace
    import numpy as np
    import torch
    from claus_core import distributed
    from claus_core.config import ExperimentConfig
    from claus_core.engine.experiment import detector_for
    from claus_core.model.factory import new_detector
    from claus_core.engine.sources import make_sources

    torch.set_num_threads(1)
    config = ExperimentConfig.from_dict(__import__("json").loads(open(sys.argv[1]).read()))
    source = make_sources(config)[0]
    detector = detector_for(config, source.pool.num_classes)
    scoring = replace(config.scoring, size=(detector.input_size, detector.input_size))
    model = new_detector(detector, config.seed)
    with distributed.process_group():
        scored = distributed.score_sharded(
            model, source, source.pool.names, config=scoring, seed=config.seed, round_index=3,
            progress=False,
        )
        assert (len(scored) == len(source.pool)) == distributed.is_main()
        if distributed.is_main():
            np.savez(sys.argv[2], **{f"{k}/{n}": v for n, s in scored.items() for k, v in s.items()})
"""


@pytest.mark.slow
def test_pool_scores_are_identical_with_one_and_two_processes(tmp_path, smoke_config) -> None:
    torch.set_num_threads(1)
    config = smoke_config("dist")
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    (tmp_path / "worker.py").write_text(textwrap.dedent(SCORING_WORKER))
    done = torchrun(
        [str(tmp_path / "worker.py"), str(tmp_path / "config.json"), str(tmp_path / "scores.npz")],
        nproc=2,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    source = make_sources(config)[0]
    detector = detector_for(config, source.pool.num_classes)
    scoring = replace(config.scoring, size=(detector.input_size, detector.input_size))
    single = score_pool(
        new_detector(detector, config.seed),
        source,
        source.pool.names,
        config=scoring,
        seed=config.seed,
        round_index=3,
        progress=False,
    )
    with np.load(tmp_path / "scores.npz") as two:
        assert set(two.files) == {f"{k}/{n}" for n, s in single.items() for k in s}
        for name, per_kind in single.items():
            for kind, values in per_kind.items():
                np.testing.assert_array_equal(
                    two[f"{kind}/{name}"], values, err_msg=f"{kind}/{name}"
                )


@pytest.mark.slow
def test_a_two_process_run_writes_the_run_store_once(tmp_path, smoke_config) -> None:
    config = smoke_config("dist")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    done = torchrun(
        ["-m", "claus_core.cli", "run", str(path), "--root", str(tmp_path / "runs"), "--quiet"],
        nproc=2,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "runs" / "dist" / "dist" / "claus" / "seed0"
    assert done.stdout.split() == [str(run)]  # printed by rank 0 only
    log = (run / "log.txt").read_text()
    for r in (0, 1):
        marker = json.loads((run / f"round{r}" / "round.json").read_text())
        on_disk = sorted(p.name for p in (run / f"round{r}").iterdir())
        assert on_disk == sorted([*marker["files"], "round.json"])  # nothing written after it
        assert log.count(f"round {r}: cost") == 1
    assert "gathered the scores of 48 videos from 2 ranks" in log
    second = json.loads((run / "round1" / "state.json").read_text())
    assert len(second["videos"]) > config.initial_budget.videos  # rank 0's selection was used
    again = Experiment(config, run, progress=False).run_all()  # one process reuses both rounds
    assert [s.round for s in again] == [0, 1]


DYING_WORKER = """
    import json
    import os
    import sys
    from pathlib import Path
    import torch
    from claus_core import distributed
    from claus_core.engine import experiment as loop
    from claus_core.config import ExperimentConfig

    train_round = loop.train_round

    def dies_in_round_1(*args, round_index, **kwargs):
        if round_index == 1 and distributed.rank() == 1:
            os._exit(3)
        return train_round(*args, round_index=round_index, **kwargs)

    loop.train_round = dies_in_round_1
    torch.set_num_threads(1)
    config = ExperimentConfig.from_dict(json.loads(Path(sys.argv[1]).read_text()))
    with distributed.process_group():
        loop.Experiment(config, Path(sys.argv[2]), progress=False).run_all()
"""


@pytest.mark.slow
def test_a_rank_that_dies_leaves_the_previous_round_for_resume(tmp_path, smoke_config) -> None:
    config = smoke_config("dist", strategy="random")
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    (tmp_path / "worker.py").write_text(textwrap.dedent(DYING_WORKER))
    run = tmp_path / "run"
    done = torchrun([str(tmp_path / "worker.py"), str(tmp_path / "config.json"), str(run)], nproc=2)
    assert done.returncode != 0
    assert (run / "round0" / "round.json").exists()
    assert not (run / "round1" / "round.json").exists()
    round0 = {p.name: p.read_bytes() for p in (run / "round0").iterdir()}

    torch.set_num_threads(1)
    summaries = Experiment(config, run, progress=False).run_all()  # what `claus resume` does
    assert [s.round for s in summaries] == [0, 1]
    assert {p.name: p.read_bytes() for p in (run / "round0").iterdir()} == round0
    assert (run / "round1" / "round.json").exists()
