"""A fingerprint of two smoke rounds of CLAUS (issue 25): the losses, every checkpoint tensor,
the pool's scores, the clusters and the next state. Moving code must not change a number: the
fixture was written before the round engine was split, and must match after.

Float results depend on the CPU's kernels, and not only on torch's CPU capability: an AMD EPYC
and an Intel Xeon with AMX, both "AVX512", train the same round to losses 8.29 and 12.37. So the
fixture holds one fingerprint per CPU (model name, torch's capability, the vector flags), and the
test is skipped, naming the CPU, on a machine it has none for. ``python
tests/engine/test_round_fingerprint.py`` adds this machine's (or rewrites it, only when a change
is *meant* to move the numbers).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from claus_core.cpu import cpu_description

FIXTURE = Path(__file__).parents[1] / "fixtures" / "round_fingerprint.json"


def cpu_signature() -> dict:
    """What decides the float kernels: the CPU's model name, torch's capability, its flags."""
    model, flags = cpu_description()
    return {"model": model, "capability": torch.backends.cpu.get_cpu_capability(), "flags": flags}


def _digest(array: np.ndarray, decimals: int = 5) -> str:
    rounded = np.round(np.asarray(array, dtype=np.float64), decimals) + 0.0  # no -0.0
    return hashlib.sha256(rounded.tobytes()).hexdigest()[:16]


def fingerprint(folder: Path) -> dict:
    """Two rounds of ``claus`` on the smoke config, read back from their run folder."""
    from claus_core.files import read_npz

    prints = {}
    for r in (0, 1):
        round_dir = folder / f"round{r}"
        metrics = json.loads((round_dir / "metrics.json").read_text())
        state = torch.load(round_dir / "checkpoint.pt", weights_only=True)["state_dict"]
        prints[f"round{r}"] = {
            "train_loss": [round(v, 5) for v in metrics["train_loss"]],
            "metrics": {k: round(v, 5) for k, v in metrics["metrics"].items()},
            "checkpoint": {k: _digest(v.float().numpy()) for k, v in sorted(state.items())},
        }
        if r == 0:
            scores = read_npz(round_dir / "scores.npz")
            prints["round0"] |= {
                "scores": {k: _digest(v) for k, v in sorted(scores.items())},
                "clusters": json.loads((round_dir / "clusters.json").read_text()),
                "next_state": json.loads((round_dir / "next_state.json").read_text()),
            }
    return prints


def run(folder: Path, smoke_config) -> dict:
    from claus_core.engine.experiment import Experiment

    torch.set_num_threads(1)
    Experiment(smoke_config("fingerprint", strategy="claus"), folder, progress=False).run_all()
    return {"cpu": cpu_signature(), "rounds": fingerprint(folder)}


def test_two_smoke_rounds_match_the_fingerprint(tmp_path: Path, smoke_config) -> None:
    machines = json.loads(FIXTURE.read_text())["machines"]
    expected = next((m for m in machines if m["cpu"] == cpu_signature()), None)
    if expected is None:
        pytest.skip(f"no fingerprint for this CPU ({cpu_signature()}); the fixture has "
                    f"{[m['cpu']['model'] for m in machines]}")  # fmt: skip
    assert run(tmp_path / "run", smoke_config) == expected


if __name__ == "__main__":
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from conftest import _smoke_config

    with tempfile.TemporaryDirectory() as folder:
        prints = run(Path(folder) / "run", _smoke_config)
    machines = json.loads(FIXTURE.read_text())["machines"] if FIXTURE.exists() else []
    machines = [m for m in machines if m["cpu"] != prints["cpu"]] + [prints]
    FIXTURE.write_text(json.dumps({"machines": machines}, indent=1, sort_keys=True) + "\n")
