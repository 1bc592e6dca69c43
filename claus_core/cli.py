"""The ``claus`` command: run experiments, inspect and resume runs, export selections, data.

::

    claus run CONFIG.yaml [--root runs]     one experiment, or a sweep (strategies x seeds)
    claus status RUN_DIR|STUDY_DIR          finished rounds, cost and f-mAP / v-mAP per round
    claus report STUDY_DIR [--metric v-mAP@0.5] [--out DIR]
                                            learning curves and paired comparisons of a study
    claus resume RUN_DIR                    finish an interrupted run with its saved config
    claus run|resume ... --nproc N          the same on N processes (torchrun, see distributed.py)
    claus export RUN_DIR|PROJECT --round R --format cvat|labelstudio|csv [--out DIR]
    claus data stats                         data set statistics of the shipped annotations

    claus label init PROJECT --videos DIR --classes FILE [--detector tiny|paper] [--tool ...]
    claus label select PROJECT --videos N --frames M [--strategy claus]
    claus label import PROJECT --round R FILE... [--format ...] [--replace]
    claus label status PROJECT
    claus label transcode PROJECT           H.264 copies in PROJECT/media for the browser
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from claus_core.allocator import reuse_freed_memory
from claus_core.config import ConfigError, ExperimentConfig, load_study
from claus_core.data.types import DataError
from claus_core.labeling.rounds import IMPORT_FORMATS

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
    from claus_core.engine.sources import make_sources

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
    from claus_core.engine.experiment import run_study

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


def _study_status(root: Path) -> int:
    """``claus status`` on a study folder: rounds finished per run, and what to resume."""
    from claus_core.files import read_json
    from claus_core.store import study_runs

    runs = list(study_runs(root))
    if not runs:
        sys.stdout.write(f"{root}: no run folder (a study's <group>/<strategy>/seed<k>/)\n")
        return 1
    unfinished = []
    sys.stdout.write("group                 strategy        seed  rounds finished\n")
    for key, run in runs:
        try:
            expected = ExperimentConfig.from_dict(read_json(run.config_path, dict)).num_rounds
        except ConfigError as err:
            raise ConfigError(f"{run.config_path}: {err}") from err
        done = len(run.finished_rounds())
        sys.stdout.write(
            f"{key.experiment:<21} {key.strategy:<15} {key.seed:>4}  {done} of {expected}\n"
        )
        if done < expected:
            unfinished.append(run.root)
    sys.stdout.write(f"{len(runs)} runs, {len(runs) - len(unfinished)} finished\n")
    for folder in unfinished:
        sys.stdout.write(f"unfinished: claus resume {folder}\n")
    sys.stdout.write(f"per run: claus status {runs[0][1].root}\n")
    return 0


def _status(args: argparse.Namespace) -> int:
    from claus_core.engine.experiment import load_round_metrics
    from claus_core.labeling import LabelProject

    folder = Path(args.run_dir)
    if LabelProject.is_project(folder):
        sys.stdout.write(f"{folder}: a labeling project; `claus label status {folder}` shows it\n")
        return 1
    if not (folder / "config.json").exists() and folder.is_dir():
        return _study_status(folder)
    rows = load_round_metrics(folder)
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


def _report(args: argparse.Namespace) -> int:
    from claus_core.study_report import MissingRunsError, write_report

    root = Path(args.study_dir)
    out = Path(args.out) if args.out else root / "report"
    try:
        report = write_report(root, out, metric=args.metric)
    except MissingRunsError as err:
        sys.stderr.write(f"claus: error: {err}\n")
        return 1
    sys.stdout.write(report.text())
    sys.stdout.write(f"written: {out / 'report.json'}\n")
    return 0


def _resume(args: argparse.Namespace) -> int:
    from claus_core import distributed
    from claus_core.engine.experiment import Experiment
    from claus_core.files import read_json
    from claus_core.store import RunDir

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
    from claus_core.labeling import LabelProject

    if LabelProject.is_project(args.run_dir):
        from claus_core.labeling import export_round

        project = LabelProject(args.run_dir)
        out = Path(args.out or project.round_dir(args.round) / "export")
        paths = export_round(
            project, args.round, args.format, out, include_boxes=args.boxes,
            video_url_prefix=args.video_url_prefix, cumulative=args.cumulative,
        )  # fmt: skip
    else:
        from claus_core.engine.sources import make_sources
        from claus_core.export import DEFAULT_VIDEO_URL_PREFIX
        from claus_core.export import export_round as export_run_round
        from claus_core.files import read_json
        from claus_core.store import RunDir

        run = RunDir(Path(args.run_dir))
        config = ExperimentConfig.from_dict(read_json(run.config_path))
        pool = make_sources(config)[0].pool
        out = Path(args.out or Path(args.run_dir) / "export")
        prefix = (
            DEFAULT_VIDEO_URL_PREFIX if args.video_url_prefix is None else args.video_url_prefix
        )
        paths = export_run_round(
            run.root, args.round, args.format, out, pool, fps=args.fps, include_boxes=args.boxes,
            cumulative=args.cumulative, video_url_prefix=prefix,
        )  # fmt: skip
    for path in paths:
        sys.stdout.write(f"{path}\n")
    return 0


def _yaml_mapping(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read the config ({err})") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of LabelingConfig fields")
    if "classes" in data:
        raise ConfigError(f"{path}: classes come from --classes, not from the config")
    return data


def _label(args: argparse.Namespace) -> int:
    from claus_core import labeling
    from claus_core.labeling.project import LabelingConfig

    if args.action == "init":
        classes = labeling.read_classes(Path(args.classes))
        settings = {} if args.config is None else _yaml_mapping(Path(args.config))
        for name in ("detector", "tool", "seed", "holdout", "strategy"):
            if getattr(args, name) is not None:
                settings[name] = getattr(args, name)
        try:
            config = LabelingConfig.from_dict({**settings, "classes": list(classes)})
        except ConfigError as err:
            raise ConfigError(f"{args.config or 'claus label init'}: {err}") from err
        chose_k = isinstance(settings.get("cluster"), dict) and "k" in settings["cluster"]
        project = labeling.LabelProject.create(
            args.project, args.videos, config, fit_clusters=not chose_k
        )
        sys.stdout.write(
            f"{project.root}: {len(project.videos)} videos, {len(classes)} classes, "
            f"K = {project.config.cluster.k} clusters\n"
        )
        for skipped in project.skipped:
            sys.stdout.write(f"skipped {skipped['file']}: {skipped['reason']}\n")
        sys.stdout.write(
            f"next: claus label transcode {project.root} (browsers play H.264), then "
            f"claus label select {project.root} --videos N --frames M (round 0)\n"
        )
        return 0
    project = labeling.LabelProject(args.project)
    if args.action == "serve":
        from claus_core.labeling.backend import ServeConfig, serve

        for handler in logging.getLogger().handlers:  # a server says what it does
            handler.setLevel(min(handler.level, logging.INFO))
        logging.getLogger("claus_core").setLevel(logging.INFO)

        def ready(url: str) -> None:
            sys.stdout.write(
                f"{project.root}: Label Studio ML backend on {url} (Ctrl-C stops it). In Label "
                f"Studio: project Settings > Model > Connect Model, URL {url}\n"
            )
            sys.stdout.flush()

        serve(project.root, ServeConfig(
            host=args.host, port=args.port, videos=args.videos, frames=args.frames,
            train_after=args.train_after, label_studio_url=args.label_studio_url,
        ), ready=ready)  # fmt: skip
        return 0
    if args.action == "select":
        _set_threads(args.threads)
        index = labeling.select_round(
            project, videos=args.videos, frames=args.frames, strategy=args.strategy,
            progress=not args.quiet,
        )  # fmt: skip
        asked = project.asked(index)
        sys.stdout.write(
            f"round {index}: {sum(map(len, asked.values()))} frames of {len(asked)} videos; "
            f"tasks in {project.round_dir(index) / 'export'}\n"
        )
        for note in project.request(index).get("notes") or []:  # e.g. a budget left unspent
            sys.stdout.write(f"note: {note}\n")
        sys.stdout.write(
            f"next: annotate them in {project.config.tool}, export, then claus label import "
            f"{project.root} --round {index} FILE\n"
        )
        return 0
    if args.action == "import":
        imported = labeling.import_round(
            project,
            args.round,
            [Path(f) for f in args.files],
            fmt=args.format,
            replace=args.replace,
        )
        for warning in imported.warnings:
            sys.stdout.write(f"warning: {warning}\n")
        frames = sum(len(v.annotated) for v in imported.videos.values())
        sys.stdout.write(
            f"round {args.round}: {len(imported.videos)} videos, {frames} frames annotated, "
            f"{imported.cost()} boxes ({imported.format})\n"
        )
        if args.round == project.rounds()[-1]:
            sys.stdout.write(
                f"next: claus label select {project.root} --videos N --frames M (round "
                f"{args.round + 1}: trains on every import so far)\n"
            )
        return 0
    if args.action == "transcode":
        from claus_core.labeling.transcode import transcode_video

        written = 0
        for name in project.videos:
            target = project.media_path(name)
            if target.exists() and not args.force:
                continue
            count = transcode_video(project.video_path(name), target, fps=project.videos[name].fps)
            logger.info("%s: %d frames", target, count)
            written += 1
        sys.stdout.write(
            f"{project.root / 'media'}: {written} H.264 copies written (decoded frame counts "
            f"checked), {len(project.videos) - written} already there\n"
        )
        if not project.rounds():
            sys.stdout.write(
                f"next: claus label select {project.root} --videos N --frames M (round 0)\n"
            )
        return 0
    rows = project.status()
    if not rows:
        sys.stdout.write(f"{project.root}: {len(project.videos)} videos, no round yet\n")
        return 0
    columns = list(rows[0])
    sys.stdout.write("  ".join(columns) + "\n")
    for row in rows:
        cells = [
            f"{row[c]:>{len(c)}.3f}" if isinstance(row[c], float) else f"{row[c]:>{len(c)}}"
            for c in columns
        ]
        sys.stdout.write("  ".join(cells) + "\n")
    last = project.rounds()[-1]
    if project.annotations(last) is None:
        sys.stdout.write(
            f"round {last} awaits its import: claus label import {project.root} --round {last} "
            "FILE\n"
        )
    else:
        sys.stdout.write(
            f"round {last} is imported: claus label select {project.root} --videos N --frames M "
            f"makes round {last + 1}\n"
        )
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


def _whole_number(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``least``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number >= {least}, got {text!r}"
            ) from None
        if value < least:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {least}, got {value}")
        return value

    return parse


_positive, _non_negative = _whole_number(1), _whole_number(0)


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

    status = sub.add_parser("status", help="finished rounds of a run directory or a study folder")
    status.add_argument("run_dir", help="a run directory, or a study folder (runs/<study>)")
    status.set_defaults(func=_status)

    report = sub.add_parser(
        "report", help="a study's learning curves (PNG, SVG) and every pair of strategies compared"
    )
    report.add_argument("study_dir", help="a study folder: runs/<study> (claus run --root runs)")
    report.add_argument(
        "--metric", default="v-mAP@0.5", help="<metric>@<threshold> (default: v-mAP@0.5)"
    )
    report.add_argument("--out", help="output folder (default: STUDY_DIR/report)")
    report.set_defaults(func=_report)

    resume = sub.add_parser("resume", help="finish an interrupted run with its saved config")
    resume.add_argument("run_dir")
    resume.add_argument("--quiet", action="store_true")
    resume.add_argument("--threads", type=_positive, default=1, help=THREADS_HELP)
    resume.add_argument("--nproc", type=_positive, default=1, help=NPROC_HELP)
    resume.set_defaults(func=_resume)

    export = sub.add_parser(
        "export", help="export the frames a round asked for, for annotators (a run or a project)"
    )
    export.add_argument("run_dir", help="a run directory or a labeling project")
    export.add_argument(
        "--round", type=int, required=True, help="round index (0: initial selection)"
    )
    export.add_argument("--format", choices=["cvat", "labelstudio", "csv"], required=True)
    export.add_argument(
        "--out", help="output folder (default: RUN_DIR/export, PROJECT/round<R>/export)"
    )
    export.add_argument(
        "--fps",
        type=float,
        default=25.0,
        help="a run's video frame rate (a project uses each video's)",
    )
    export.add_argument(
        "--boxes",
        action="store_true",
        help="boxes as pre-annotations: a run's ground truth, a project round's model predictions",
    )
    export.add_argument(
        "--cumulative", action="store_true", help="every frame asked up to this round"
    )
    export.add_argument(
        "--video-url-prefix",
        help="Label Studio video URL prefix (default: the project's, or /data/local-files/?d=)",
    )
    export.set_defaults(func=_export)

    label = sub.add_parser("label", help="label your own videos with CLAUS (Label Studio or CVAT)")
    actions = label.add_subparsers(dest="action", required=True)
    init = actions.add_parser("init", help="scan and probe a folder of videos into a new project")
    init.add_argument("project")
    init.add_argument(
        "--videos", required=True, help="folder of .avi / .mp4 videos (nested or flat)"
    )
    init.add_argument("--classes", required=True, help="text file: one action class per line")
    init.add_argument(
        "--config", help="YAML of LabelingConfig fields (train, loss, scoring, selection, ...)"
    )
    init.add_argument("--detector", choices=["tiny", "paper"], help="default: tiny")
    init.add_argument("--tool", choices=["labelstudio", "cvat"], help="default: labelstudio")
    init.add_argument("--seed", type=int, help="default: 0")
    init.add_argument(
        "--holdout", type=int, help="labeled videos held out to validate each model (default 0)"
    )
    init.add_argument("--strategy", help="selection strategy of rounds >= 1 (default: claus)")
    select = actions.add_parser(
        "select", help="train on the annotations so far and ask for the next round"
    )
    select.add_argument("project")
    select.add_argument("--videos", type=int, required=True, help="new videos this round (B_v)")
    select.add_argument("--frames", type=int, required=True, help="frames this round (B_f)")
    select.add_argument("--strategy", help="override the project's strategy for this round")
    select.add_argument("--threads", type=_positive, default=1, help=THREADS_HELP)
    select.add_argument("--quiet", action="store_true", help="no progress bars")
    importer = actions.add_parser("import", help="read a round's annotations exported by the tool")
    importer.add_argument("project")
    importer.add_argument("--round", type=int, required=True)
    importer.add_argument(
        "files", nargs="+", help="Label Studio JSON / JSON_MIN, or CVAT XML files"
    )
    importer.add_argument("--format", choices=list(IMPORT_FORMATS), help="default: detected")
    importer.add_argument(
        "--replace", action="store_true", help="replace the round's earlier import"
    )
    status = actions.add_parser(
        "status", help="rounds, frames asked and annotated, cost, validation"
    )
    status.add_argument("project")
    transcode = actions.add_parser(
        "transcode", help="H.264 MP4 copies in PROJECT/media for browsers"
    )
    transcode.add_argument("project")
    transcode.add_argument("--force", action="store_true", help="redo existing copies")
    serve = actions.add_parser(
        "serve", help="a Label Studio ML backend: predictions, and a round on Start Training"
    )
    serve.add_argument("project")
    serve.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1 (this machine)")
    serve.add_argument("--port", type=int, default=9090, help="default: 9090")
    serve.add_argument("--videos", type=_positive, help="new videos a round (default: as the last)")
    serve.add_argument("--frames", type=_positive, help="frames a round (default: as the last)")
    serve.add_argument(
        "--train-after", type=_non_negative, default=0,
        help="also run a round after this many new annotations (default 0: on Start Training)",
    )  # fmt: skip
    serve.add_argument(
        "--label-studio-url", help="Label Studio's address (default: the one it sends to /setup)"
    )
    label.set_defaults(func=_label)

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
    reuse_freed_memory()
    try:
        return int(args.func(args))
    except (ConfigError, DataError, ValueError) as err:
        sys.stderr.write(f"claus: error: {err}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
