"""The ``claus`` command: run experiments, inspect and resume runs, export selections, data.

::

    claus run CONFIG.yaml [--root runs]     one experiment, or a sweep (strategies x seeds)
    claus status RUN_DIR                    finished rounds, cost and f-mAP / v-mAP per round
    claus resume RUN_DIR                    finish an interrupted run with its saved config
    claus run|resume ... --nproc N          the same on N processes (torchrun, see distributed.py)
    claus export RUN_DIR --round R --format cvat|labelstudio|csv [--out DIR]
    claus data stats                         data set statistics of the shipped annotations
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from claus_core.config import ConfigError, ExperimentConfig, load_study
from claus_core.data.types import DataError

logger = logging.getLogger("claus_core.cli")
THREADS_HELP = (
    "torch CPU threads (default 1: on a 2-core machine shared with other work, 2 threads were "
    "measured up to 20x slower than 1)"
)
NPROC_HELP = (
    "processes (default 1): N > 1 reruns this command under `python -m torch.distributed.run "
    "--standalone --nproc_per_node N` (one process per GPU; gloo on CPU)"
)


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _launch(args: argparse.Namespace, cli_args: list[str], configs: list[ExperimentConfig]) -> int:
    """Rerun ``claus <cli_args>`` on ``args.nproc`` processes through torch.distributed.run."""
    from claus_core import distributed
    from claus_core.loop import make_sources

    if distributed.launch_env() is not None:
        raise ValueError("--nproc: this process was already started by torchrun; drop --nproc")
    for config in configs:
        pool_size = len(make_sources(config)[0].pool)
        where = f"--nproc {args.nproc} ({config.name}/{config.strategy}/seed{config.seed})"
        distributed.check_world_size(args.nproc, pool_size, where=where)
    flags = ["--threads", str(args.threads)] + (["--quiet"] if args.quiet else [])
    command = distributed.launch_command(
        (["-v"] if args.verbose else []) + cli_args + flags, args.nproc
    )
    logger.info("running %s", " ".join(command))
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    returncode = subprocess.run(command, env=env, check=False).returncode
    if returncode != 0:
        sys.stderr.write(
            f"claus: error: the {args.nproc}-process run failed (torchrun exit code {returncode}; "
            "the messages above name the rank that failed and why). Finished rounds are kept; "
            "an interrupted round has no round.json and is repeated by the same command or by "
            "`claus resume RUN_DIR`\n"
        )
        return 1
    return 0


def _run(args: argparse.Namespace) -> int:
    from claus_core import distributed
    from claus_core.loop import run_study

    study = load_study(args.config)
    if args.nproc != 1:
        if args.jobs != 1:
            raise ValueError(
                "--jobs and --nproc cannot be combined: choose one way to use the cores"
            )
        return _launch(args, ["run", args.config, "--root", args.root], study.experiments())
    _set_threads(args.threads)
    if args.jobs != 1:
        from claus_core.sweep import run_parallel

        root = Path(args.root) / study.name
        for folder in run_parallel(
            study, root, jobs=args.jobs, threads=args.threads, progress=not args.quiet
        ):
            sys.stdout.write(f"{folder}\n")
        return 0
    with distributed.process_group():
        try:
            folders = run_study(study, Path(args.root) / study.name, progress=not args.quiet)
        except distributed.DistributedError as err:
            sys.stderr.write(f"claus: error: {err}\n")
            return 1
        if distributed.is_main():
            for folder in folders:
                sys.stdout.write(f"{folder}\n")
    return 0


def _status(args: argparse.Namespace) -> int:
    from claus_core.loop import load_round_metrics

    rows = load_round_metrics(Path(args.run_dir))
    if not rows:
        sys.stdout.write(f"{args.run_dir}: no finished round\n")
        return 1
    sys.stdout.write("round  videos  frames    cost  f-mAP@0.5  v-mAP@0.5\n")
    for m in rows:
        sys.stdout.write(
            f"{m['round']:>5}  {m['videos']:>6}  {m['frames']:>6}  {m['cost']:>6}  "
            f"{m['metrics'].get('f-mAP@0.5', float('nan')):>9.3f}  "
            f"{m['metrics'].get('v-mAP@0.5', float('nan')):>9.3f}\n"
        )
    return 0


def _resume(args: argparse.Namespace) -> int:
    from claus_core import distributed
    from claus_core.loop import Experiment
    from claus_core.store import RunDir, read_json

    run = RunDir(Path(args.run_dir))
    if not run.config_path.exists():
        raise ConfigError(f"{run.config_path}: missing; {args.run_dir} is not a run directory")
    config = ExperimentConfig.from_dict(read_json(run.config_path))
    if args.nproc != 1:
        return _launch(args, ["resume", args.run_dir], [config])
    _set_threads(args.threads)
    with distributed.process_group():
        try:
            Experiment(config, run.root, progress=not args.quiet).run_all()
        except distributed.DistributedError as err:
            sys.stderr.write(f"claus: error: {err}\n")
            return 1
        if not distributed.is_main():
            return 0
    return _status(argparse.Namespace(run_dir=args.run_dir))


def _export(args: argparse.Namespace) -> int:
    from claus_core.export import export_round
    from claus_core.loop import make_sources
    from claus_core.store import RunDir, read_json

    run = RunDir(Path(args.run_dir))
    config = ExperimentConfig.from_dict(read_json(run.config_path))
    pool = make_sources(config)[0].pool
    out = Path(args.out or Path(args.run_dir) / "export")
    for path in export_round(run.root, args.round, args.format, out, pool, fps=args.fps):
        sys.stdout.write(f"{path}\n")
    return 0


def _data(args: argparse.Namespace) -> int:
    from claus_core.data.jhmdb21 import load_jhmdb21
    from claus_core.data.statistics import split_summary
    from claus_core.data.ucf101_24 import load_ucf101_24

    stats = {}
    for name, loader in (("ucf101_24", load_ucf101_24), ("jhmdb21", load_jhmdb21)):
        for split in ("train", "test"):
            summary = split_summary(loader(split=split))
            stats[f"{name}/{split}"] = {
                k: summary[k] for k in ("videos", "frames", "boxes (= full cost)")
            }
    sys.stdout.write(json.dumps(stats, indent=1) + "\n")
    return 0


def _positive(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="claus", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one experiment or a sweep from a YAML config")
    run.add_argument("config", help="experiment or study YAML (see configs/)")
    run.add_argument("--root", default="runs", help="run store root (default: runs)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--threads", type=_positive, default=1, help=THREADS_HELP)
    run.add_argument(
        "--jobs", type=_positive, default=1, help="experiments run in parallel processes"
    )
    run.add_argument("--nproc", type=_positive, default=1, help=NPROC_HELP)
    run.set_defaults(func=_run)

    status = sub.add_parser("status", help="finished rounds of a run directory")
    status.add_argument("run_dir")
    status.set_defaults(func=_status)

    resume = sub.add_parser("resume", help="finish an interrupted run with its saved config")
    resume.add_argument("run_dir")
    resume.add_argument("--quiet", action="store_true")
    resume.add_argument("--threads", type=_positive, default=1, help=THREADS_HELP)
    resume.add_argument("--nproc", type=_positive, default=1, help=NPROC_HELP)
    resume.set_defaults(func=_resume)

    export = sub.add_parser("export", help="export the frames a round annotated, for annotators")
    export.add_argument("run_dir")
    export.add_argument(
        "--round", type=int, required=True, help="round index (0: initial selection)"
    )
    export.add_argument("--format", choices=["cvat", "labelstudio", "csv"], required=True)
    export.add_argument("--out", help="output folder (default: RUN_DIR/export)")
    export.add_argument("--fps", type=float, default=25.0, help="video frame rate for Label Studio")
    export.set_defaults(func=_export)

    data = sub.add_parser("data", help="data set statistics of the shipped annotations")
    data.add_argument("action", choices=["stats"])
    data.set_defaults(func=_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for (
        handler
    ) in logging.getLogger().handlers:  # each run's log.txt gets INFO; the terminal `level`
        handler.setLevel(level)
    try:
        return int(args.func(args))
    except (ConfigError, DataError, ValueError) as err:
        sys.stderr.write(f"claus: error: {err}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
