"""Malformed inputs, generated (hypothesis): configs, study files, annotation states, run-store
files and annotation pickles either load or raise the project's own error naming what is wrong,
never another exception (issue 16, item 6). ``make fuzz`` adds coverage-guided fuzzing of the
restricted unpickler (``fuzz/fuzz_safe_pickle.py``); its findings are tests in
``tests/data/test_safe_pickle.py``."""

from __future__ import annotations

import io
import itertools
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claus_core.config import ConfigError, ExperimentConfig, load_study, set_path
from claus_core.data.safe_pickle import safe_load
from claus_core.data.types import AnnotationState, DataError
from claus_core.files import StoreError, read_json, read_keys, write_json
from claus_core.store import RunDir

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "name", "dataset", "strategy", "seed", "rounds", "detector", "fully_supervised", "videos_dir",
    "initial_budget", "initial_budget.videos", "round_budget.frame_cost", "train", "train.epochs",
    "train.learning_rate", "train.warm_start", "train.skip_rates", "train.device", "train.lr_schedule",
    "train.ema_decay", "loss.variant", "loss.sigma", "scoring.n_samples", "cluster.k", "selection.mode",
    "selection.cluster_limit", "selection.window", "selection.sigma", "selection.cost_model.per_box",
    "synth.frame_size", "synth.moving_classes", "evaluation.thresholds", "evaluation.ap",
]  # fmt: skip
EXAMPLES = itertools.count()  # one fresh run folder per generated example
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(field=st.sampled_from(FIELDS), value=JSON)
def test_a_config_with_any_value_in_any_field_loads_or_names_the_field(
    field: str, value: object
) -> None:
    data = ExperimentConfig().to_dict()
    set_path(data, field, value)
    try:
        ExperimentConfig.from_dict(data)
    except ConfigError as err:
        assert (
            field.split(".")[0] in str(err)
            or "strategy" in str(err)
            or "initial_budget" in str(err)
        )


@SETTINGS
@given(
    document=st.dictionaries(st.sampled_from(["name", "base", "groups", "extra"]), JSON, max_size=4)
)
def test_a_study_file_of_any_shape_loads_or_raises_a_config_error(
    tmp_path: Path, document: dict
) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        load_study(path)
    except ConfigError as err:
        assert "study.yaml" in str(err)


@SETTINGS
@given(value=JSON)
def test_an_annotation_state_of_any_json_loads_or_raises_a_data_error(value: object) -> None:
    try:
        AnnotationState.from_json(json.dumps(value), source="state.json")
    except DataError as err:
        assert "state.json" in str(err)


@SETTINGS
@given(
    content=st.binary(max_size=64) | JSON.map(lambda v: json.dumps(v).encode()),
    name=st.sampled_from(["round.json", "metrics.json", "config.json"]),
)
def test_run_store_files_of_any_bytes_are_read_or_named(
    tmp_path: Path, content: bytes, name: str
) -> None:
    run = RunDir(tmp_path / f"run{next(EXAMPLES)}")
    run.bind({"a": 1})
    run.round_dir(0).mkdir(exist_ok=True)
    write_json(run.round_dir(0) / "metrics.json", {"round": 0})
    run.finish_round(0, "h")
    target = run.config_path if name == "config.json" else run.round_dir(0) / name
    target.write_bytes(content)
    for read in (lambda: read_json(target), lambda: read_keys(target, "round"), lambda: run.finished(0, "h"),
                 lambda: run.verify_round(0), lambda: run.bind({"a": 1})):  # fmt: skip
        try:
            read()
        except StoreError as err:
            assert str(run.root) in str(err)


PICKLABLE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.binary(max_size=8) | st.text(max_size=8)
    | st.builds(lambda n, t: np.arange(n).astype(t), st.integers(0, 6), st.sampled_from(["<i4", ">f8", "u1", "?", "S3", "c8"])),
    lambda children: st.lists(children, max_size=3) | st.tuples(children, children)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=10,
)  # fmt: skip


@SETTINGS
@given(
    value=PICKLABLE,
    protocol=st.integers(0, pickle.HIGHEST_PROTOCOL),
    cut=st.integers(0, 400),
    flip=st.integers(0, 255),
)
def test_pickles_cut_or_flipped_anywhere_load_or_raise_a_data_error(
    value: object, protocol: int, cut: int, flip: int
) -> None:
    data = bytearray(pickle.dumps(value, protocol=protocol))
    if cut < len(data):
        data[cut] ^= flip  # one byte changed; with flip 0, the intact pickle
    try:
        safe_load(io.BytesIO(bytes(data)))
    except DataError:
        pass


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
@SETTINGS
@given(value=PICKLABLE)
def test_intact_pickles_load_as_pickle_loads_them(value: object, protocol: int) -> None:
    data = pickle.dumps(value, protocol=protocol)
    assert pickle.dumps(safe_load(io.BytesIO(data)), protocol=protocol) == pickle.dumps(
        pickle.loads(data), protocol=protocol
    )
