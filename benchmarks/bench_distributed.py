"""Pool scoring on 1 vs N processes under torchrun (issue 8; Algorithm 1, lines 1-6).

Runs ``claus_core.distributed.score_sharded`` (each rank scores its shard of the videos with
MC dropout, rank 0 gathers) once with 1 process and once with ``--nproc`` processes, each
launched by ``python -m torch.distributed.run --standalone`` (gloo on CPU, nccl with CUDA),
one torch thread per process. Frames are rendered before the clock starts; the time is the
wall time from a barrier before scoring to a barrier after the gather. Prints, per launch, the
scoring time, the speed-up over 1 process, each rank's peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, the whole process: Python, torch, the model
and its share of the pool's frames), and whether the gathered scores equal the 1-process ones
bit for bit. One run, nothing asserted; on a shared machine the ratio moves with the load.

    .venv/bin/python benchmarks/bench_distributed.py [--nproc 2] [--videos 24] [--samples 10]
        [--synth default|smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from claus_core import distributed
from claus_core.config import ExperimentConfig
from claus_core.data.synthetic import SynthConfig
from claus_core.engine.experiment import detector_for
from claus_core.engine.sources import make_sources
from claus_core.model.factory import new_detector
from claus_core.uncertainty import ScoringConfig

SEED = 0


def worker(args: argparse.Namespace) -> None:
    """One rank: score this rank's shard, gather; rank 0 writes timings and scores to --out."""
    torch.set_num_threads(1)
    synth = SynthConfig.default() if args.synth == "default" else SynthConfig.smoke()
    config = ExperimentConfig(synth=synth, scoring=ScoringConfig(n_samples=args.samples))
    source = make_sources(config)[0]
    names = source.pool.names[: args.videos]
    detector = detector_for(config, source.pool.num_classes)
    scoring = replace(config.scoring, size=(detector.input_size, detector.input_size))
    model = new_detector(detector, SEED)
    with distributed.process_group():
        for name in distributed.shard(names, distributed.rank(), distributed.world_size()):
            source.frames(name)  # rendered (decoded) before the clock starts
        distributed.barrier()
        start = time.perf_counter()
        scored = distributed.score_sharded(
            model, source, names, config=scoring, seed=SEED, round_index=0, progress=False
        )
        distributed.barrier()
        seconds = time.perf_counter() - start
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        ranks = distributed.gather_scores(
            {str(distributed.rank()): {"seconds": seconds, "peak_mib": peak_mib}}
        )
        if distributed.is_main():
            out = Path(args.out)
            (out / "ranks.json").write_text(json.dumps(ranks))
            np.savez(
                out / "scores.npz",
                **{f"{k}/{n}": v for n, s in scored.items() for k, v in s.items()},
            )


def launch(
    args: argparse.Namespace, nproc: int, out: Path
) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    out.mkdir(parents=True)
    worker = [str(Path(__file__).resolve()), "--worker", "--out", str(out), "--videos", str(args.videos),
              "--samples", str(args.samples), "--synth", args.synth]  # fmt: skip
    command = distributed.torchrun_command(worker, nproc)
    subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    with np.load(out / "scores.npz") as data:
        scores = {key: data[key] for key in data.files}
    return json.loads((out / "ranks.json").read_text()), scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nproc", type=int, default=2, help="processes of the second launch")
    parser.add_argument("--videos", type=int, default=24, help="pool videos scored")
    parser.add_argument("--samples", type=int, default=10, help="MC-dropout samples T")
    parser.add_argument("--synth", choices=["default", "smoke"], default="default")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        runs = {n: launch(args, n, Path(tmp) / f"n{n}") for n in (1, args.nproc)}
    base_seconds = max(r["seconds"] for r in runs[1][0].values())
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, backend {distributed.choose_backend()}, "
        f"synth {args.synth}, {args.videos} videos, T = {args.samples}, 1 thread per process"
    )
    print(
        f"{'procs':>5} {'scoring s':>10} {'speed-up':>9} {'identical':>9}  peak RSS per rank (MiB)"
    )
    for nproc, (ranks, scores) in runs.items():
        seconds = max(r["seconds"] for r in ranks.values())
        same = scores.keys() == runs[1][1].keys() and all(
            np.array_equal(v, runs[1][1][k]) for k, v in scores.items()
        )
        memory = ", ".join(f"{ranks[str(r)]['peak_mib']:.0f}" for r in range(nproc))
        print(
            f"{nproc:>5} {seconds:>10.2f} {base_seconds / seconds:>9.2f} {str(same):>9}  {memory}"
        )


if __name__ == "__main__":
    sys.exit(main())
