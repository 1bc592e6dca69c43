"""Run the experiments of a study in parallel worker processes (``claus run --jobs N``).

Experiments are independent (each writes its own run folder), so a study with E experiments
runs on N processes of ``threads`` torch threads each. On a 2-core CPU, 2 single-threaded
processes keep both cores busy without the thread contention measured in the model benchmarks.
Each worker runs :class:`claus_core.engine.experiment.Experiment` exactly as a single process would, so the
results do not depend on N.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm.auto import tqdm

from claus_core.config import ExperimentConfig, StudyConfig

logger = logging.getLogger(__name__)


def _run_one(config: dict, folder: str, threads: int, root: str) -> str:
    import torch

    from claus_core.allocator import reuse_freed_memory
    from claus_core.engine.experiment import Experiment
    from claus_core.store import TrainedRounds

    torch.set_num_threads(threads)
    reuse_freed_memory()
    Experiment(
        ExperimentConfig.from_dict(config),
        Path(folder),
        progress=False,
        trained=TrainedRounds(Path(root)),
    ).run_all()
    return folder


def run_parallel(
    study: StudyConfig, root: Path, *, jobs: int, threads: int = 1, progress: bool = True
) -> list[Path]:
    """Run every experiment of ``study`` under ``root`` on ``jobs`` processes; returns the folders."""
    from claus_core.engine.experiment import run_dir_for

    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    experiments = study.experiments()
    folders = [run_dir_for(root, config) for config in experiments]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {
            pool.submit(_run_one, config.to_dict(), str(folder), threads, str(root)): folder
            for config, folder in zip(experiments, folders, strict=True)
        }
        bar = tqdm(total=len(futures), desc=f"study {study.name}", unit="run", disable=not progress)
        for future in as_completed(futures):
            future.result()
            logger.info("finished %s", futures[future])
            bar.update(1)
        bar.close()
    return folders
