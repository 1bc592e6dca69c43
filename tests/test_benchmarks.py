"""The benchmarks run: selection agrees with its plain-loop reference, the round prints every
stage (no timing checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark(script: str, *args: str) -> str:
    """stdout of ``benchmarks/<script> args``, which must exit 0."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_selection_benchmark_selects_like_the_plain_loop() -> None:
    """One repeat of every setting: the benchmark asserts identical selections itself."""
    stdout = run_benchmark("bench_selection.py", "--repeats", "1")
    assert stdout.count("identical selections") == 4
    assert "pool: 2284 videos, 395868 frames" in stdout
    assert "target: one selection over the 2284-video pool in at most 0.5 s" in stdout


def test_round_benchmark_prints_every_stage_and_the_cpu() -> None:
    """One round of the smoke study's ucf_main / claus / seed 0, capped at AVX2 as on a CPU
    without AVX-512: every stage is printed with its rate beside the matrix-product rate."""
    stdout = run_benchmark(
        "bench_round.py", "--config", str(ROOT / "configs" / "smoke_study.yaml"), "--isa", "avx2"
    )
    assert stdout.startswith("CPU: ")
    assert "kernels: AVX2 (--isa avx2)" in stdout
    assert "float32 2048 x 2048 matrix product:" in stdout
    for stage in ("render", "train", "evaluate", "score", "select", "round"):
        assert any(line.startswith(stage) for line in stdout.splitlines()), stage
    assert "rounds per CPU-minute:" in stdout


def test_labeling_memory_benchmark_runs_every_command_on_a_short_clip() -> None:
    """Two seconds of 720p: init, transcode, both selects and the import run, each measured."""
    stdout = run_benchmark("bench_label_memory.py", "--sizes", "720p", "--seconds", "2")
    assert stdout.startswith("CPU: ")
    (row,) = json.loads(stdout.splitlines()[-1])
    assert (row["size"], row["frames"]) == ("720p", 50)
    for command in ("init", "transcode", "select0", "import", "select1"):
        peak_mb, seconds = row[command]
        assert peak_mb > 0 and seconds > 0
