"""Experiment and study configs: round trips and errors that name the field."""

from __future__ import annotations

import pytest

from claus_core.config import ConfigError, ExperimentConfig, load_study


def test_experiment_config_round_trips_through_a_dict() -> None:
    config = ExperimentConfig(strategy="random", seed=3)
    assert ExperimentConfig.from_dict(config.to_dict()) == config


def test_replace_by_dotted_path() -> None:
    config = ExperimentConfig().replace(**{"selection.cluster_limit": 1.0, "train.epochs": 2})
    assert config.selection.cluster_limit == 1.0 and config.train.epochs == 2


def test_unknown_field_is_named_by_its_path() -> None:
    with pytest.raises(ConfigError, match=r"selection: unknown fields \['clusterlimit'\]"):
        ExperimentConfig.from_dict({"selection": {"clusterlimit": 0.5}})


def test_unknown_strategy_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"strategy: unknown strategy 'claws'.*'claus'"):
        ExperimentConfig(strategy="claws")


def test_bad_value_names_the_component() -> None:
    with pytest.raises(ConfigError, match="round_budget: Budget.videos must be >= 0"):
        ExperimentConfig.from_dict({"round_budget": {"videos": -1, "frame_cost": 3}})


def test_study_expands_groups_and_validates_every_run(tmp_path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(
        "name: s\nbase: {rounds: 1}\ngroups:\n"
        "  - {name: table5, strategies: [claus, random], seeds: [0, 1]}\n"
        "  - {name: loss, strategies: [claus], seeds: [0], overrides: {loss.variant: frame}}\n"
    )
    runs = load_study(path).experiments()
    assert [(r.name, r.strategy, r.seed) for r in runs] == [
        ("table5", "claus", 0),
        ("table5", "claus", 1),
        ("table5", "random", 0),
        ("table5", "random", 1),
        ("loss", "claus", 0),
    ]
    assert runs[-1].loss.variant == "frame"
    path.write_text("name: s\ngroups:\n  - {name: g, strategies: [nope]}\n")
    with pytest.raises(
        ConfigError, match=r"study.yaml: group 'g': strategy: unknown strategy 'nope'"
    ):
        load_study(path)


def test_missing_and_malformed_files(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_study(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1,\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_study(bad)


def test_added_fields_leave_old_hashes_alone_until_set() -> None:
    """lr_schedule and ema_decay were added after runs existed: at their defaults they are not
    written, so those runs keep their config hash; once set they are written and read back."""
    from claus_core.config import ExperimentConfig, TrainConfig

    plain = ExperimentConfig().to_dict()
    assert "lr_schedule" not in plain["train"] and "ema_decay" not in plain["train"]
    tuned = ExperimentConfig(train=TrainConfig(lr_schedule="cosine", ema_decay=0.99))
    data = tuned.to_dict()
    assert data["train"]["lr_schedule"] == "cosine" and data["train"]["ema_decay"] == 0.99
    assert ExperimentConfig.from_dict(data) == tuned
    with pytest.raises(ValueError, match="lr_schedule must be"):
        TrainConfig(lr_schedule="step")
    with pytest.raises(ValueError, match="ema_decay must be None or lie strictly between 0 and 1"):
        TrainConfig(ema_decay=1.0)


@pytest.mark.parametrize("name", ["../../x", "/abs", "a/b", "..", ".hidden", ""])
def test_a_group_or_study_name_that_would_leave_the_run_root_is_refused(
    tmp_path, name: str
) -> None:
    group = tmp_path / "group.yaml"
    group.write_text(
        f"name: s\ngroups:\n  - {{name: {name!r}, strategies: [random], seeds: [0]}}\n"
    )
    with pytest.raises(ConfigError, match=r"group .*name: .* is not a folder name"):
        load_study(group)
    study = tmp_path / "study.yaml"
    study.write_text(
        f"name: {name!r}\ngroups:\n  - {{name: g, strategies: [random], seeds: [0]}}\n"
    )
    with pytest.raises(ConfigError, match=r"study.yaml: name: .* is not a folder name"):
        load_study(study)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "group.yaml",
        "study.yaml",
    ]  # nothing written


def test_a_strategy_that_needs_clusters_without_the_cluster_loss_is_refused_at_load() -> None:
    with pytest.raises(
        ConfigError, match=r"strategy: 'claus' needs deep clusters.*train.cluster_loss: true"
    ):
        ExperimentConfig.from_dict({"strategy": "claus", "train": {"cluster_loss": False}})
    for name in ("uncertainty", "random", "sample"):  # no clusters, or optional ones
        ExperimentConfig.from_dict({"strategy": name, "train": {"cluster_loss": False}})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"train": {"epochs": "two"}}, r"train.epochs: expected an integer, got 'two'"),
        ({"train": {"epochs": 1.5}}, r"train.epochs: expected an integer, got 1.5"),
        ({"train": {"warm_start": "no"}}, r"train.warm_start: expected true or false, got 'no'"),
        (
            {"train": {"device": "tpu"}},
            r"train: device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'",
        ),
        ({"train": {"learning_rate": True}}, r"train.learning_rate: expected a number, got True"),
        ({"initial_budget": {"videos": 0, "frame_cost": 10}}, r"initial_budget: round 0 trains on"),
        ({"seed": "0"}, r"seed: expected an integer, got '0'"),
        ({"seed": -1}, r"seed: must be >= 0"),
    ],
)
def test_config_types_are_checked_at_load_naming_the_field(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ExperimentConfig.from_dict(changes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "groups:\n  - {name: g, strategies: [random], seeds: ['0']}\n",
            r"groups\[0\].seeds: expected an integer, got '0'",
        ),
        (
            "base: [1, 2]\ngroups:\n  - {name: g, strategies: [random]}\n",
            r"base: expected a mapping",
        ),
        ("groups: []\n", r"groups: expected a non-empty list"),
        ("groups:\n  - {name: g, strategies: []}\n", r"group 'g': strategies: empty"),
        ("groups:\n  - {name: g, strategies: [random], seeds: []}\n", r"group 'g': seeds: empty"),
        (
            "groups:\n  - {name: g, strategies: [random], seeds: [0, 0]}\n",
            r"group 'g': seeds: \[0, 0\] names one",
        ),
        (
            "groups:\n  - {name: g, strategies: [random]}\n  - {name: g, strategies: [claus]}\n",
            r"groups: the group names",
        ),
    ],
)
def test_study_files_that_would_do_nothing_or_crash_later_are_refused(
    tmp_path, text: str, message: str
) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(f"name: s\n{text}")
    with pytest.raises(ConfigError, match=message):
        load_study(path)


@pytest.mark.parametrize("flag", ["--threads", "--jobs", "--nproc"])
def test_cli_counts_must_be_positive(tmp_path, capsys, flag: str) -> None:
    from claus_core.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(tmp_path / "x.yaml"), flag, "0"])
    assert exit_info.value.code == 2
    assert f"{flag}: expected a whole number >= 1, got 0" in capsys.readouterr().err
