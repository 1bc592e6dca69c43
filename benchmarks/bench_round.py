"""One active-learning round of the default study, stage by stage, against this CPU's limit (issue 23).

The round is ``ucf_main`` / ``claus`` / seed 0 of ``configs/default_study.yaml``, round 0: the
initial selection, training from scratch (round 0 trains without the cluster loss), evaluation
on the test split, MC-dropout scoring of the pool, k-means on the training videos' scored clip
latents (issue 24) and CLAUS's selection. Each stage runs as the study runs it (``claus run --jobs 2`` gives every worker one
thread; ``--threads`` changes that). Per stage this prints the wall and CPU seconds, the
multiply-adds the detector did (``claus_core.model.macs``: a training step counts 3 forward
passes, the usual estimate of forward + backward), and the achieved float32 rate beside this
CPU's measured rate for one 2048 x 2048 float32 matrix product on the same threads: the
physical limit the book can quote. Nothing is asserted.

It prints the CPU model and its instruction-set flags. ``--isa avx2`` re-runs itself with
oneDNN, ATen and MKL capped at AVX2 (``ONEDNN_MAX_CPU_ISA``, ``ATEN_CPU_CAPABILITY``,
``MKL_ENABLE_INSTRUCTIONS``): on a CPU with AVX-512 this shows what a CPU with AVX2 only (no
AVX-512, no bfloat16 instructions) does with the same kernels.

    .venv/bin/python benchmarks/bench_round.py [--isa native|avx2] [--threads 1]
        [--precision float32|bfloat16] [--config configs/default_study.yaml]

To set two versions of the code side by side, run this script from a checkout of each, one
after the other in the same session (its imports are the library's public functions).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from claus_core.cpu import VECTOR_FLAGS, cpu_description  # no torch: ISA caps come first

ROOT = Path(__file__).resolve().parents[1]
ISA_CAPS = {
    "avx2": {
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    }
}


def matmul_gflops(repeats: int = 5, size: int = 2048) -> float:
    """Best float32 rate of one ``size x size`` matrix product, in GFLOP/s (2 per multiply-add)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    a = torch.rand(size, size, generator=generator)
    b = torch.rand(size, size, generator=generator)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best / 1e9


@dataclass
class Stage:
    name: str
    wall: float
    cpu: float
    macs: float  # multiply-adds of the detector in this stage (0: none counted)


def timed(name: str, macs: float, fn: Callable[[], Any]) -> tuple[Stage, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return Stage(name, time.perf_counter() - wall, time.process_time() - cpu, macs), result


def run_round(config_path: Path, precision: str) -> list[Stage]:
    """Round 0 of ucf_main / claus / seed 0, one stage at a time."""
    import numpy as np

    from claus_core.clustering import fit_clusters
    from claus_core.config import load_study
    from claus_core.data.clips import sliding_clips
    from claus_core.engine.experiment import Experiment
    from claus_core.engine.sources import make_sources
    from claus_core.engine.training import train_round
    from claus_core.evaluation import evaluate_detector
    from claus_core.model.factory import new_detector
    from claus_core.model.macs import count_macs
    from claus_core.score_table import ScoreTable
    from claus_core.selection import STRATEGIES, SelectionContext, initial_selection
    from claus_core.uncertainty import score_pool

    study = load_study(config_path)
    (config,) = [
        c for c in study.experiments() if (c.name, c.strategy, c.seed) == ("ucf_main", "claus", 0)
    ]
    config = config.replace(**{"scoring.precision": precision})
    stages = []

    def render() -> None:
        train_source, test_source = make_sources(config)
        for source in (train_source, test_source):
            for name in source.pool.names:
                source.frames(name)

    stages.append(timed("render", 0, render)[0])
    with tempfile.TemporaryDirectory() as folder:
        experiment = Experiment(config, Path(folder) / "run", progress=False)
    pool, train_source, test_source = (
        experiment.pool,
        experiment.train_source,
        experiment.test_source,
    )
    macs = count_macs(experiment.detector)
    clip = experiment.detector.clip_length

    def clips_of(source: Any, names: Any) -> int:
        return sum(len(sliding_clips(len(source.frames(n)), clip)) for n in names)

    state = initial_selection(
        pool,
        config.initial_budget,
        np.random.default_rng([config.seed, 0, 0]),
        config=config.selection,
    ).state
    model = new_detector(experiment.detector, config.seed)

    def train() -> None:  # round 0 trains without the cluster loss: no clusters are fitted yet
        train_round(
            model, train_source, state, config, clusters=None, round_index=0, progress=False
        )

    trained_clips = config.train.epochs * config.train.clips_per_video * len(state.videos)
    stages.append(timed("train", 3 * trained_clips * macs.total, train)[0])
    test_clips = clips_of(test_source, test_source.pool.names)
    stage, _ = timed(
        "evaluate",
        test_clips * macs.total,
        lambda: evaluate_detector(model, test_source, config=experiment.evaluation, progress=False),
    )
    stages.append(stage)
    pool_clips = clips_of(train_source, pool.names)
    stage, scored = timed(
        "score",
        pool_clips * (macs.encoder + config.scoring.n_samples * macs.head),
        lambda: score_pool(
            model,
            train_source,
            pool.names,
            config=experiment.scoring,
            seed=config.seed,
            progress=False,
        ),
    )
    stages.append(stage)

    def cluster() -> Any:  # on the scored clips' latents, as the loop does
        latents = {n: scored[n]["clip_latents"] for n in state.videos}
        return fit_clusters(latents, replace(config.cluster, seed=config.seed), round_index=0)[0]

    stage, clusters = timed("cluster", 0, cluster)
    stages.append(stage)

    def select() -> Any:
        scores = {
            kind: ScoreTable.from_arrays([(n, scored[n][kind]) for n in pool.names], what=kind)
            for kind in ("uncertainty", "entropy")
        }
        assignments = clusters.assign_videos({n: s["clip_latents"] for n, s in scored.items()})
        context = SelectionContext(pool, state, scores=scores, clusters=assignments, round_index=0)
        rng = np.random.default_rng([config.seed, 0, 2])
        return STRATEGIES[config.strategy](context, config.round_budget, config.selection, rng)

    stages.append(timed("select", 0, select)[0])
    return stages


def report(stages: list[Stage], gflops: float) -> None:
    print(f"{'stage':<10}{'wall s':>9}{'CPU s':>9}{'GMAC':>9}{'GFLOP/s':>10}{'of matmul':>11}")
    for s in stages:
        rate = 2 * s.macs / s.cpu / 1e9 if s.macs else float("nan")
        share = f"{100 * rate / gflops:.1f} %" if s.macs else "-"
        shown = f"{rate:.1f}" if s.macs else "-"
        print(f"{s.name:<10}{s.wall:9.2f}{s.cpu:9.2f}{s.macs / 1e9:9.1f}{shown:>10}{share:>11}")
    round_stages = [s for s in stages if s.name != "render"]
    wall = sum(s.wall for s in round_stages)
    cpu = sum(s.cpu for s in round_stages)
    print(f"{'round':<10}{wall:9.2f}{cpu:9.2f}   (render is once per worker, not per round)")
    print(f"rounds per CPU-minute: {60 / cpu:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--isa", choices=["native", *ISA_CAPS], default="native")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (a study worker: 1)")
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "default_study.yaml")
    parser.add_argument(
        "--glibc-defaults",
        action="store_true",
        help="keep glibc's malloc thresholds (claus sets them: claus_core.allocator)",
    )
    args = parser.parse_args(argv)
    caps = ISA_CAPS.get(args.isa, {})
    if any(os.environ.get(k) != v for k, v in caps.items()):  # the caps act only at start-up
        env = {**os.environ, **caps}
        return subprocess.call([sys.executable, __file__, *sys.argv[1:]], env=env)

    import torch

    import claus_core

    torch.set_num_threads(args.threads)
    thresholds = "glibc's defaults"
    if not args.glibc_defaults:
        from claus_core.allocator import reuse_freed_memory

        thresholds = "claus_core.allocator's" if reuse_freed_memory() else "unchanged (no glibc)"

    model, flags = cpu_description()
    print(f"CPU: {model}; flags: {' '.join(flags) or 'none of ' + ', '.join(VECTOR_FLAGS)}")
    print(
        f"torch {torch.__version__}, kernels: {torch.backends.cpu.get_cpu_capability()} "
        f"(--isa {args.isa}), {torch.get_num_threads()} thread(s), precision {args.precision}; "
        f"claus_core from {Path(claus_core.__file__).parent}; malloc thresholds: {thresholds}"
    )
    gflops = matmul_gflops()
    print(f"float32 2048 x 2048 matrix product: {gflops:.1f} GFLOP/s")
    report(run_round(args.config, args.precision), gflops)
    return 0


if __name__ == "__main__":
    sys.exit(main())
