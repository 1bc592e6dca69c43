"""Which CPU a number comes from: its model name and the vector-instruction flags that decide
the float kernels (the benchmarks print them beside every time; the round fingerprint keys its
expected values on them, since two CPUs round floats differently)."""

from __future__ import annotations

import platform
from pathlib import Path

VECTOR_FLAGS = (
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512_bf16",
    "avx512_vnni",
    "amx_bf16",
    "amx_tile",
)


def cpu_description() -> tuple[str, list[str]]:
    """The CPU's model name and which of :data:`VECTOR_FLAGS` it has (from ``/proc/cpuinfo``;
    elsewhere ``platform.processor()`` and no flags)."""
    model, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    return model, [f for f in VECTOR_FLAGS if f in flags]
