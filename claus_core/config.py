"""Experiment and study configs: one frozen dataclass per component, composed, YAML in and out.

An :class:`ExperimentConfig` is one active-learning run (one strategy, one seed): the data, the
detector preset, and the configs of training, loss, scoring, clustering, selection and
evaluation. A :class:`StudyConfig` is a sweep: a base experiment plus named groups of
strategies x seeds x overrides. Every config converts to a plain dict (``to_dict``) that the
run store saves beside each result, and back (``from_dict``), with unknown or malformed fields
reported by their dotted path (``selection.cluster_limit: ...``).

Presets (``profile``): ``"smoke"`` (seconds, tests and CI) and ``"default"`` (the book's study).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from claus_core.clustering import ClusterConfig
from claus_core.cost import CostModel
from claus_core.data.synthetic import SynthConfig
from claus_core.evaluation import EvaluationConfig
from claus_core.losses import LossConfig
from claus_core.model.factory import PRESETS
from claus_core.selection import STRATEGIES, Budget, SelectionConfig
from claus_core.uncertainty import ScoringConfig

DATASETS = ("synth_ucf24", "synth_jhmdb21", "ucf101_24", "ucf101_24_mini", "jhmdb21")


class ConfigError(ValueError):
    """A config file or dict that cannot be used; the message names the field."""


_FOLDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_folder_name(field_name: str, value: object) -> None:
    """A name that becomes one folder of the run store (study, group): letters, digits, ``_``,
    ``.``, ``-``, starting with a letter or digit, so that it cannot leave ``--root``."""
    if not isinstance(value, str) or not _FOLDER_NAME.match(value):
        raise ConfigError(
            f"{field_name}: {value!r} is not a folder name (letters, digits, '_', '.', '-', starting with a "
            "letter or digit; it names a folder of the run store and may not leave it)"
        )


@dataclass(frozen=True)
class TrainConfig:
    """Training of one round (supplementary Section 7.3: Adam, lr 5e-4, 20 epochs, batch 8).

    ``clips_per_video``: clips drawn from each labeled video per epoch; ``skip_rates``: the frame
    skip of a clip, drawn per clip (Section 7.1: 1 and 2). ``warm_start``: start from the previous
    round's weights (Section 7.3). ``cluster_loss``: add the deep-clustering loss (Section 7.2).
    ``lr_schedule``: ``"constant"`` (the paper's) or ``"cosine"`` (from ``learning_rate`` to 0
    over each round); ``ema_decay``: evaluate, score and warm-start from an exponential moving
    average of the weights with this decay per step, warmed up as ``min(decay, (1+t)/(10+t))``
    at step t so that a short round is not dominated by its starting weights (None: the last
    weights). The last two are departures from the paper, levers against seed-to-seed variance.
    """

    epochs: int = 20
    learning_rate: float = 5e-4
    batch_size: int = 8
    clips_per_video: int = 2
    skip_rates: tuple[int, ...] = (1, 2)
    warm_start: bool = True
    cluster_loss: bool = True
    classification_weight: float = 1.0
    localization_weight: float = 1.0
    device: str = "auto"
    # levers against training variance (issue 13); added later, so hash-neutral at their defaults
    lr_schedule: Literal["constant", "cosine"] = field(default="constant", metadata={"added": True})
    ema_decay: float | None = field(default=None, metadata={"added": True})

    def __post_init__(self) -> None:
        object.__setattr__(self, "skip_rates", tuple(int(s) for s in self.skip_rates))
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(
                f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}"
            )
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(
                f"ema_decay must be None or lie strictly between 0 and 1, got {self.ema_decay}"
            )
        for name in ("epochs", "batch_size", "clips_per_video"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.skip_rates or min(self.skip_rates) < 1:
            raise ValueError(f"skip_rates must be positive integers, got {self.skip_rates}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", self.device):
            raise ValueError(
                f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {self.device!r}"
            )


@dataclass(frozen=True)
class DetectorChoice:
    """``detector:`` of an experiment: a preset name (``tiny``, ``paper``), or a mapping that adds
    pretrained encoder weights (Section 7.3: the I3D encoder starts from pytorch-i3d's weights)::

        detector: paper
        detector: {preset: paper, encoder_weights: weights/rgb_charades.pt}

    ``encoder_weights`` is a pytorch-i3d state dict (``rgb_imagenet.pt``, ``rgb_charades.pt``, a
    Kinetics file of the same layout) loaded into the encoder up to ``Mixed_4f`` before round 0,
    every key checked for its shape (:func:`claus_core.model.checkpoint.load_i3d_checkpoint`).
    Without weights a config saves the preset name alone, as before this field existed, so the
    hashes of earlier runs are unchanged.
    """

    preset: str = "tiny"
    encoder_weights: str | None = None

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ConfigError(f"detector: preset must be one of {PRESETS}, got {self.preset!r}")
        if self.encoder_weights is not None and (
            not isinstance(self.encoder_weights, str) or not self.encoder_weights
        ):
            raise ConfigError(
                f"detector.encoder_weights: expected a file path, got {self.encoder_weights!r}"
            )

    def to_plain_value(self) -> str | dict[str, str]:
        if self.encoder_weights is None:
            return self.preset
        return {"preset": self.preset, "encoder_weights": self.encoder_weights}

    @classmethod
    def from_plain_value(cls, raw: Any, path: str) -> DetectorChoice:
        if isinstance(raw, str):
            return cls(preset=raw)
        if isinstance(raw, dict):
            if "preset" not in raw:
                raise ConfigError(f"{path}: the mapping form needs preset: tiny or paper")
            return from_plain(cls, raw, path=path)
        raise ConfigError(
            f"{path}: expected a preset name {PRESETS} or a mapping "
            f"{{preset: ..., encoder_weights: PATH}}, got {raw!r}"
        )


def check_device(device: str) -> None:
    """Refuse a ``train.device`` this machine cannot run, saying what to install or check.

    ``cuda`` on a torch built without CUDA, on a machine without a visible GPU, or naming a GPU
    it lacks; ``mps`` without Apple's Metal backend. ``auto`` and ``cpu`` always pass.
    """
    import torch

    if device in ("auto", "cpu"):
        return
    if device.startswith("cuda"):
        if torch.version.cuda is None:
            raise ConfigError(
                f"train.device: {device!r}, but this torch {torch.__version__} is built without CUDA; "
                "install a CUDA build into the venv (README, 'Real data on a GPU'): "
                ".venv/bin/pip install --force-reinstall torch==2.13.0 --index-url "
                "https://download.pytorch.org/whl/<cu tag of your driver, from pytorch.org> "
                "(PyPI's own Linux x86_64 wheel is a CUDA build); or use train.device: auto"
            )
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            raise ConfigError(
                f"train.device: {device!r}, but torch sees {count} CUDA GPU(s) "
                "(check nvidia-smi and CUDA_VISIBLE_DEVICES, or use train.device: auto)"
            )
    elif device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            "train.device: 'mps', but Apple's Metal backend is not available here (it needs macOS "
            "on Apple silicon and torch's macOS build); use train.device: auto"
        )


def weights_path(weights: str) -> Path:
    """``detector.encoder_weights`` as a path (``~`` expanded; relative to the working
    directory, like ``videos_dir``)."""
    try:
        return Path(weights).expanduser()
    except RuntimeError as err:  # "~user" of no user, or no home directory
        raise ConfigError(f"detector.encoder_weights: {weights}: {err}") from None


def check_runnable(config: ExperimentConfig) -> None:
    """What a config needs from this machine before a run folder is made: its device, and its
    encoder weights file."""
    check_device(config.train.device)
    weights = config.detector.encoder_weights
    if weights is not None and not weights_path(weights).is_file():
        raise ConfigError(f"detector.encoder_weights: {weights}: no such file")


@dataclass(frozen=True)
class ExperimentConfig:
    """One active-learning run: initial random selection + ``rounds`` selection rounds.

    Budgets are per round: ``round_budget.videos`` new videos (B_v) and
    ``round_budget.frame_cost`` boxes (B_f), Section 5.1. ``fully_supervised`` trains once on
    every label of the train split (the 100 % rows of Tables 6 and 7) and selects nothing.
    """

    name: str = "experiment"
    dataset: Literal["synth_ucf24", "synth_jhmdb21", "ucf101_24", "ucf101_24_mini", "jhmdb21"] = (
        "synth_ucf24"
    )
    synth: SynthConfig = field(default_factory=SynthConfig)
    videos_dir: str | None = None
    detector: DetectorChoice = field(default_factory=DetectorChoice)  # or a preset name
    strategy: str = "claus"
    seed: int = 0
    rounds: int = 4
    initial_budget: Budget = field(default_factory=lambda: Budget(videos=12, frame_cost=40))
    round_budget: Budget = field(default_factory=lambda: Budget(videos=12, frame_cost=40))
    fully_supervised: bool = False
    train: TrainConfig = field(default_factory=TrainConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)

    def __post_init__(self) -> None:
        check_folder_name("name", self.name)
        if self.dataset not in DATASETS:
            raise ConfigError(f"dataset: must be one of {DATASETS}, got {self.dataset!r}")
        if isinstance(self.detector, str):  # ExperimentConfig(detector="paper")
            object.__setattr__(self, "detector", DetectorChoice(preset=self.detector))
        if self.strategy not in STRATEGIES:
            raise ConfigError(
                f"strategy: unknown strategy {self.strategy!r}; known: {sorted(STRATEGIES)}"
            )
        if self.rounds < 0:
            raise ConfigError(f"rounds: must be >= 0, got {self.rounds}")
        if self.seed < 0:
            raise ConfigError(
                f"seed: must be >= 0 (it names the run folder seed<k>), got {self.seed}"
            )
        if (
            not self.fully_supervised
            and min(self.initial_budget.videos, self.initial_budget.frame_cost) < 1
        ):
            raise ConfigError(
                f"initial_budget: round 0 trains on the initial selection, so it needs at least one video "
                f"and one box, got {self.initial_budget}"
            )
        if STRATEGIES[self.strategy].clusters == "required" and not self.train.cluster_loss:
            raise ConfigError(
                f"strategy: {self.strategy!r} needs deep clusters, which a run keeps only with the cluster "
                "loss; set train.cluster_loss: true, or choose a strategy that does not need them "
                f"({sorted(n for n, s in STRATEGIES.items() if s.clusters != 'required')})"
            )

    @property
    def num_rounds(self) -> int:
        """Rounds the run trains: round 0 and ``rounds`` more, or one when fully supervised."""
        return 1 if self.fully_supervised else self.rounds + 1

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        return from_plain(cls, data)

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with dotted-path changes: ``config.replace(**{"selection.cluster_limit": 1})``."""
        data = self.to_dict()
        for path, value in changes.items():
            set_path(data, path, value)
        return ExperimentConfig.from_dict(data)


@dataclass(frozen=True)
class SweepGroup:
    """A named group of runs: every strategy x seed, with dotted-path overrides of the base."""

    name: str
    strategies: tuple[str, ...]
    seeds: tuple[int, ...] = (0, 1, 2)
    overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("strategies", "seeds"):
            values = getattr(self, name)
            if not values:
                raise ConfigError(
                    f"group {self.name!r}: {name}: empty, so the group would run nothing"
                )
            if len(set(values)) != len(values):
                raise ConfigError(
                    f"group {self.name!r}: {name}: {list(values)} names one more than once"
                )


@dataclass(frozen=True)
class StudyConfig:
    """A study: a base experiment and the groups of runs that vary it."""

    name: str
    base: dict[str, Any]
    groups: tuple[SweepGroup, ...]

    def experiments(self) -> list[ExperimentConfig]:
        """Every run of the study, each a full ExperimentConfig (``name`` = the group's name)."""
        runs = []
        for group in self.groups:
            for strategy in group.strategies:
                for seed in group.seeds:
                    data = _deep_copy(self.base)
                    for path, value in group.overrides.items():
                        set_path(data, path, value)
                    data.update(name=group.name, strategy=strategy, seed=seed)
                    try:
                        runs.append(ExperimentConfig.from_dict(data))
                    except ConfigError as err:
                        raise ConfigError(f"group {group.name!r}: {err}") from err
        return runs


def load_study(path: str | Path) -> StudyConfig:
    """Read a study YAML (``name``, ``base``, ``groups``); errors name the file and field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        if "groups" not in data:
            experiment = ExperimentConfig.from_dict(data)
            check_runnable(experiment)
            return StudyConfig(
                name=experiment.name,
                base=experiment.to_dict(),
                groups=(SweepGroup(experiment.name, (experiment.strategy,), (experiment.seed,)),),
            )
        unknown = sorted(set(data) - {"name", "base", "groups"})
        if unknown:
            raise ConfigError(f"unknown top-level fields {unknown}")
        if not isinstance(data.get("base") or {}, dict):
            raise ConfigError(
                f"base: expected a mapping of experiment fields, got {data['base']!r}"
            )
        if not isinstance(data["groups"], list) or not data["groups"]:
            raise ConfigError(
                f"groups: expected a non-empty list of groups, got {data['groups']!r}"
            )
        groups = tuple(
            from_plain(SweepGroup, g, path=f"groups[{i}]") for i, g in enumerate(data["groups"])
        )
        names = [g.name for g in groups]
        if len(set(names)) != len(names):
            raise ConfigError(
                f"groups: the group names {names} repeat one; each names a folder of the run store"
            )
        check_folder_name("name", data.get("name", path.stem))
        study = StudyConfig(
            name=str(data.get("name", path.stem)), base=data.get("base") or {}, groups=groups
        )
        for experiment in study.experiments():  # every run valid now, not halfway through
            try:
                check_runnable(experiment)
            except ConfigError as err:
                raise ConfigError(f"group {experiment.name!r}: {err}") from err
        return study
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err


# ---- plain-dict conversion ----------------------------------------------------------------


def to_plain(value: Any) -> Any:
    """Dataclasses -> dicts, tuples -> lists, recursively (JSON/YAML-compatible).

    A field declared with ``metadata={"added": True}`` is left out while it holds its default:
    fields added to a config after runs were made with it leave those runs' hashes (and so their
    reuse) unchanged until a config sets them.
    """
    if hasattr(value, "to_plain_value") and not isinstance(value, type):
        return value.to_plain_value()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.metadata.get("added") and getattr(value, f.name) == f.default)
        }
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value


def from_plain(cls: type, data: Any, *, path: str = "") -> Any:
    """Build dataclass ``cls`` from a plain dict, recursively; errors name the dotted field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path or cls.__name__}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        where = f"{path}: " if path else ""
        raise ConfigError(f"{where}unknown fields {unknown} (known: {sorted(known)})")
    values = {}
    for name, raw in data.items():
        values[name] = _convert(hints[name], raw, f"{path}.{name}" if path else name)
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path or cls.__name__}: {err}") from err


def _convert(hint: Any, raw: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and hasattr(hint, "from_plain_value"):
        return hint.from_plain_value(raw, path)
    if dataclasses.is_dataclass(hint):
        return from_plain(hint, raw, path=path)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if raw is None:
            return None
        return _convert(options[0], raw, path) if len(options) == 1 else raw
    if origin is tuple:
        if not isinstance(raw, list | tuple):
            raise ConfigError(f"{path}: expected a list, got {raw!r}")
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(_convert(item, v, path) for v in raw)
    if hint is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    expected = _PLAIN_TYPES.get(hint)
    if expected is not None and (
        not isinstance(raw, expected[0]) or (hint is not bool and isinstance(raw, bool))
    ):
        raise ConfigError(f"{path}: expected {expected[1]}, got {raw!r}")
    return raw


_PLAIN_TYPES: dict[Any, tuple[type | tuple[type, ...], str]] = {
    int: (int, "an integer"),
    float: (float, "a number"),
    bool: (bool, "true or false"),
    str: (str, "a string"),
}


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``data["a"]["b"] = value`` for ``path = "a.b"`` (creating nested dicts)."""
    keys = path.split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{path}: {key} is not a mapping")
    node[keys[-1]] = value


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


__all__ = [
    "ConfigError",
    "CostModel",
    "DetectorChoice",
    "ExperimentConfig",
    "StudyConfig",
    "SweepGroup",
    "TrainConfig",
    "load_study",
]
