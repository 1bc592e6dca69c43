"""Scale-out under ``torchrun``: one process per GPU (or CPU share), one result (issue 8).

What is split over the processes ("ranks") of one run, and what stays on rank 0:

- training (supplementary Section 7.3): the model is wrapped in
  :class:`~torch.nn.parallel.DistributedDataParallel`; each epoch's shuffled list of training
  clips is split over the ranks like :class:`~torch.utils.data.DistributedSampler` does
  (:func:`rank_indices`), so each rank runs about 1/N of the steps; the deep-clustering
  centroids (Section 7.2) are updated on every rank from the latents of all ranks
  (:func:`all_gather_rows`), so they stay identical;
- pool scoring (Algorithm 1, lines 1-6): each rank scores its shard of the videos
  (:func:`shard`, :func:`score_sharded`) and rank 0 gathers the per-video results; a video's
  dropout masks come from ``claus_core.uncertainty.video_seed(seed, round, video)``, so the
  scores do not depend on the number of processes;
- rank 0 only: evaluation, clustering of the pool, selection and every write to the run store;
  the next :class:`~claus_core.data.types.AnnotationState` is broadcast to the other ranks
  (:func:`broadcast_from_main`).

Processes are started by ``torchrun`` (``torchrun --nproc_per_node N -m claus_core.cli run
CONFIG``), or by ``claus run CONFIG --nproc N``, which runs exactly that through
``python -m torch.distributed.run`` (:func:`launch_command`); nothing here spawns processes
itself. The backend is chosen automatically: ``nccl`` when CUDA is available, ``gloo`` on CPU.
In one plain process every helper is a no-op (rank 0 of 1).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from claus_core.data.types import FrameSource
from claus_core.uncertainty import ScoringConfig, score_pool

logger = logging.getLogger(__name__)

LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
# Rank 0 evaluates and selects while the other ranks wait in a collective: the wait may last
# as long as one evaluation of the test split, far beyond torch's 10-minute default (a rank that
# dies is still noticed at once: torchrun stops the others when one process exits).
DEFAULT_TIMEOUT = timedelta(hours=2)

Value = TypeVar("Value")


class DistributedError(RuntimeError):
    """A multi-process run that cannot go on; the message names the rank, round and run."""


@dataclass(frozen=True)
class LaunchEnv:
    """Where this process sits in a ``torchrun`` launch (its environment variables)."""

    rank: int
    world_size: int
    local_rank: int


def launch_env(environ: Mapping[str, str] | None = None) -> LaunchEnv | None:
    """The torchrun variables ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``; None when not launched.

    A partial or malformed set raises ValueError naming the variables.
    """
    environ = os.environ if environ is None else environ
    present = [name for name in LAUNCH_VARIABLES if name in environ]
    if not present:
        return None
    if len(present) != len(LAUNCH_VARIABLES):
        missing = sorted(set(LAUNCH_VARIABLES) - set(present))
        raise ValueError(f"torchrun environment incomplete: {present} set but {missing} missing")
    try:
        rank, world, local = (int(environ[name]) for name in LAUNCH_VARIABLES)
    except ValueError:
        values = {name: environ[name] for name in LAUNCH_VARIABLES}
        raise ValueError(f"torchrun environment: not integers: {values}") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ValueError(
            f"torchrun environment: RANK={rank}, WORLD_SIZE={world}, LOCAL_RANK={local}"
        )
    return LaunchEnv(rank=rank, world_size=world, local_rank=local)


def choose_backend(*, cuda: bool | None = None) -> str:
    """``"nccl"`` when CUDA is available (or ``cuda=True``), else ``"gloo"``."""
    if cuda is None:
        cuda = torch.cuda.is_available()
    return "nccl" if cuda else "gloo"


def init(
    *, timeout: timedelta = DEFAULT_TIMEOUT, environ: Mapping[str, str] | None = None
) -> LaunchEnv | None:
    """Join the process group of a torchrun launch (None, and nothing done, outside one).

    With CUDA, each process uses GPU ``LOCAL_RANK`` (``torch.cuda.set_device``), so the
    engine's ``device="cuda"`` means this process's GPU.
    """
    env = launch_env(environ)
    if env is None or dist.is_initialized():
        return env
    backend = choose_backend()
    if backend == "nccl":
        torch.cuda.set_device(env.local_rank)
    dist.init_process_group(backend, timeout=timeout)
    logger.info("rank %d of %d joined the %s process group", env.rank, env.world_size, backend)
    return env


def shutdown() -> None:
    """Leave the process group (no-op when none)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def process_group(*, timeout: timedelta = DEFAULT_TIMEOUT) -> Iterator[LaunchEnv | None]:
    """``init()`` on entry, ``shutdown()`` on exit (also on error)."""
    env = init(timeout=timeout)
    try:
        yield env
    finally:
        shutdown()


def is_distributed() -> bool:
    """True inside a process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on rank 0 (and in a single process): the rank that evaluates, selects and writes."""
    return rank() == 0


def check_world_size(world: int, pool_size: int, *, where: str) -> None:
    """ValueError when more processes than pool videos are asked for."""
    if world < 1:
        raise ValueError(f"{where}: the number of processes must be >= 1, got {world}")
    if world > pool_size:
        raise ValueError(
            f"{where}: {world} processes for a pool of {pool_size} videos; use at most "
            f"{pool_size} (each process scores a shard of the pool)"
        )


def shard(names: Sequence[str], rank: int, world: int) -> list[str]:
    """The videos rank ``rank`` of ``world`` scores: every ``world``-th name from ``rank``.

    The shards of ranks ``0..world-1`` partition ``names``; round robin keeps their sizes
    within one video of each other and mixes long and short videos when the pool is sorted.
    """
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"shard: need 0 <= rank < world, got rank {rank}, world {world}")
    return list(names[rank::world])


def rank_indices(order: np.ndarray, rank: int, world: int) -> np.ndarray:  # [ceil(N / world)]
    """This rank's part of one epoch's shuffled indices ``order`` ``[N]``, as DistributedSampler.

    ``order`` (the same on every rank) is padded with its own first entries to a multiple of
    ``world``, then rank ``r`` takes positions ``r, r + world, ...``; every rank gets
    ``ceil(N / world)`` indices, so all ranks run the same number of steps. With ``world = 1``
    this is ``order`` itself.
    """
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"rank_indices: need 0 <= rank < world, got rank {rank}, world {world}")
    order = np.asarray(order)
    if order.size == 0:
        return order
    total = int(np.ceil(order.size / world)) * world
    padded = np.resize(order, total)  # repeats order from its start
    return padded[rank:total:world]


def barrier() -> None:
    """Wait for every rank (no-op in one process)."""
    if is_distributed():
        dist.barrier()


def broadcast_from_main(value: Value | None) -> Value:
    """Rank 0's ``value`` on every rank (other ranks pass None); ``value`` itself in one process."""
    if not is_distributed():
        return value  # type: ignore[return-value]
    box = [value if is_main() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]  # type: ignore[return-value]


def gather_scores(local: dict[str, Value]) -> dict[str, Value]:
    """Merge every rank's ``{video: result}`` on rank 0 (ranks in order); ``{}`` on the others.

    A video scored by two ranks raises :class:`DistributedError` (the shards overlap).
    """
    if not is_distributed():
        return dict(local)
    parts: list[dict[str, Value]] | None = [{} for _ in range(world_size())] if is_main() else None
    dist.gather_object(local, parts, dst=0)
    if parts is None:
        return {}
    merged: dict[str, Value] = {}
    for source_rank, part in enumerate(parts):
        twice = sorted(set(part) & set(merged))
        if twice:
            raise DistributedError(
                f"rank {source_rank} returned videos already scored: {twice[:5]}"
            )
        merged.update(part)
    return merged


def all_gather_rows(rows: torch.Tensor) -> torch.Tensor:  # [world * B, ...]
    """Every rank's ``rows`` ``[B, ...]`` (same shape on all ranks), concatenated in rank order."""
    if not is_distributed():
        return rows
    rows = rows.contiguous()
    parts = [torch.empty_like(rows) for _ in range(world_size())]
    dist.all_gather(parts, rows)
    return torch.cat(parts)


def all_gather_objects(values: Sequence[Value]) -> list[Value]:
    """Every rank's ``values`` (picklable), concatenated in rank order (``values`` in one process)."""
    if not is_distributed():
        return list(values)
    parts: list[list[Value] | None] = [None] * world_size()
    dist.all_gather_object(parts, list(values))
    return [value for part in parts for value in part or []]


def mean_over_ranks(value: float) -> float:
    """The mean of a per-rank number over all ranks (``value`` in one process)."""
    if not is_distributed():
        return value
    device = (
        torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    )
    total = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return float(total.item()) / world_size()


def wrap_model(model: nn.Module) -> nn.Module:
    """``model`` in DistributedDataParallel when distributed, else ``model`` itself.

    The wrapper broadcasts rank 0's weights and averages gradients in ``backward``; keyword
    arguments of ``forward`` (``labels``, ``generator``) pass through.
    """
    if not is_distributed():
        return model
    device = next(model.parameters()).device
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def score_sharded(
    model: nn.Module,
    source: FrameSource,
    names: Sequence[str],
    *,
    config: ScoringConfig,
    seed: int,
    round_index: int,
    progress: bool = True,
) -> dict[str, dict[str, np.ndarray]]:
    """:func:`~claus_core.uncertainty.score_pool` of this rank's shard, gathered on rank 0.

    Rank 0 gets every video of ``names``, in that order (the same arrays as one process
    scoring all of them); the other ranks get ``{}``.
    """
    mine = shard(names, rank(), world_size())
    local = score_pool(
        model, source, mine, config=config, seed=seed, round_index=round_index, progress=progress
    )
    merged = gather_scores(local)
    if not is_main():
        return {}
    missing = [name for name in names if name not in merged]
    if missing:
        raise DistributedError(f"round {round_index}: videos not scored by any rank: {missing[:5]}")
    if is_distributed():
        logger.info(
            "round %d: gathered the scores of %d videos from %d ranks",
            round_index,
            len(merged),
            world_size(),
        )
    return {name: merged[name] for name in names}


@contextmanager
def round_guard(run_root: Path, round_index: int) -> Iterator[None]:
    """Name the rank, round and run when a round fails in a multi-process run.

    A failed collective (another rank died, or lost contact) becomes a
    :class:`DistributedError`; other errors are logged and re-raised as they are. The round's
    ``round.json`` is not written, so ``claus resume RUN_DIR`` repeats that round.
    """
    try:
        yield
    except Exception as err:
        if not is_distributed() or isinstance(err, DistributedError):
            raise
        where = (
            f"rank {rank()} of {world_size()}: round {round_index} of {run_root} failed; the round "
            f"is not marked finished (no round.json), `claus resume {run_root}` repeats it"
        )
        if isinstance(err, RuntimeError):
            raise DistributedError(f"{where} ({type(err).__name__}: {err})") from err
        logger.error("%s (%s: %s)", where, type(err).__name__, err)
        raise


def torchrun_command(args: Sequence[str], nproc: int, *, python: str = sys.executable) -> list[str]:
    """The single-node ``torch.distributed.run`` command that starts ``args`` on ``nproc`` processes."""
    if nproc < 1:
        raise ValueError(f"--nproc must be >= 1, got {nproc}")
    return [
        python,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(nproc),
        *args,
    ]


def launch_command(
    cli_args: Sequence[str], nproc: int, *, python: str = sys.executable
) -> list[str]:
    """The single-node ``torch.distributed.run`` command for ``claus <cli_args>`` on ``nproc``."""
    return torchrun_command(["-m", "claus_core.cli", *cli_args], nproc, python=python)


__all__ = [
    "DEFAULT_TIMEOUT",
    "DistributedError",
    "LaunchEnv",
    "all_gather_rows",
    "barrier",
    "broadcast_from_main",
    "check_world_size",
    "choose_backend",
    "gather_scores",
    "init",
    "is_distributed",
    "is_main",
    "launch_command",
    "launch_env",
    "mean_over_ranks",
    "process_group",
    "rank",
    "rank_indices",
    "round_guard",
    "score_sharded",
    "shard",
    "shutdown",
    "wrap_model",
]
