#!/usr/bin/env bash
# One short check of the paper preset on a CUDA GPU (issue 8, item 4): shapes, forward and
# forward+backward time, MC-dropout scoring (shared encoder vs T full passes), peak memory.
# Usage: benchmarks/gpu_check.sh [--cpu] [--json out.json] [other gpu_check.py options]
#   --cpu   reduced run (tiny preset, 2 clips) on the CPU, for machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -x .venv/bin/python ]]; then PYTHON=${PYTHON:-.venv/bin/python}; else PYTHON=${PYTHON:-python3}; fi
if [[ " $* " != *" --cpu "* ]]; then
    "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA GPU visible to torch; run with --cpu for the reduced CPU check")'
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
exec timeout 290 "$PYTHON" benchmarks/gpu_check.py "$@"
