"""Checkpoints: pretrained pytorch-i3d encoders, and our own detector files (Section 7.1).

``load_i3d_checkpoint`` reads a state dict in the layout of the public PyTorch I3D port
(pytorch-i3d's ``rgb_imagenet.pt`` / ``rgb_charades.pt``: keys such as
``Conv3d_1a_7x7.conv3d.weight``, ``Mixed_3b.b1b.bn.running_var``, ``logits.conv3d.bias``) into
the detector's ``I3DEncoder`` and reports what did not fit:

- ``missing``: encoder parameters or buffers the checkpoint lacks (BatchNorm's
  ``num_batches_tracked`` counters are not reported: the port's files predate them);
- ``unexpected``: checkpoint keys that belong nowhere;
- ``beyond_encoder``: keys of the layers after ``Mixed_4f`` (``MaxPool3d_5a``, ``Mixed_5b``,
  ``Mixed_5c``, ``logits``), expected in a full I3D and ignored;
- ``shape_mismatches``: keys present on both sides with different shapes (e.g. a checkpoint of
  another width multiplier).

``strict=True`` raises ValueError listing every problem; ``strict=False`` warns with the same
list and loads what fits. A leading ``module.`` (DataParallel) is stripped from every key.

``save_detector`` / ``load_detector`` write and read ``{"format", "config", "state_dict",
"extra"}`` with ``torch.save``; loading uses ``weights_only=True`` (no arbitrary code from a
file) and rebuilds the model from the config stored in the file.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from claus_core.data.types import DataError
from claus_core.files import atomic_write
from claus_core.model.config import DetectorConfig
from claus_core.model.detector import CapsuleDetector
from claus_core.model.i3d import I3DEncoder

DETECTOR_FORMAT = "claus_detector/1"
BEYOND_ENCODER_PREFIXES = ("MaxPool3d_5a_2x2.", "Mixed_5b.", "Mixed_5c.", "logits.")
LISTED_KEYS = 20  # keys named per category in an error message

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class I3DLoadReport:
    """What ``load_i3d_checkpoint`` loaded and what it could not."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    beyond_encoder: list[str] = field(default_factory=list)
    shape_mismatches: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(
        default_factory=list
    )  # (key, checkpoint shape, model shape)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.shape_mismatches)

    def problems(self) -> str:
        """One line per problem category, each listing (up to ``LISTED_KEYS``) keys."""
        lines = []
        for name, keys in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            (
                "shape mismatch (key: checkpoint vs model)",
                [f"{k}: {list(a)} vs {list(b)}" for k, a, b in self.shape_mismatches],
            ),
        ):
            if keys:
                more = f" ... and {len(keys) - LISTED_KEYS} more" if len(keys) > LISTED_KEYS else ""
                lines.append(f"{len(keys)} {name}: {', '.join(keys[:LISTED_KEYS])}{more}")
        return "\n".join(lines)


def _read_state_dict(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Tensor]:
    if isinstance(source, Mapping):
        raw: Any = source
        name = "the given state dict"
    else:
        name = str(source)
        raw = _torch_load(Path(source))
        if isinstance(raw, Mapping) and isinstance(raw.get("state_dict"), Mapping):
            raw = raw["state_dict"]
    if not isinstance(raw, Mapping):
        raise DataError(f"{name}: expected a state dict (a mapping of names to tensors)")
    state: dict[str, Tensor] = {}
    for key, value in raw.items():
        if not isinstance(value, Tensor):
            raise DataError(f"{name}: entry {key!r} is a {type(value).__name__}, not a tensor")
        state[key.removeprefix("module.")] = value
    return state


def load_i3d_checkpoint(
    model_or_encoder: CapsuleDetector | I3DEncoder,
    path_or_state_dict: str | os.PathLike[str] | Mapping[str, Any],
    *,
    strict: bool = True,
) -> I3DLoadReport:
    """Load pytorch-i3d weights into the encoder; see the module docstring for the report."""
    encoder = (
        model_or_encoder.encoder
        if isinstance(model_or_encoder, CapsuleDetector)
        else model_or_encoder
    )
    if not isinstance(encoder, I3DEncoder):
        raise ValueError(
            f"expected a CapsuleDetector or an I3DEncoder, got {type(model_or_encoder).__name__}"
        )
    checkpoint = _read_state_dict(path_or_state_dict)
    target = encoder.state_dict()
    loadable: dict[str, Tensor] = {}
    unexpected, beyond, mismatches = [], [], []
    for key, value in checkpoint.items():
        if key in target:
            if tuple(value.shape) == tuple(target[key].shape):
                loadable[key] = value
            else:
                mismatches.append((key, tuple(value.shape), tuple(target[key].shape)))
        elif key.startswith(BEYOND_ENCODER_PREFIXES):
            beyond.append(key)
        else:
            unexpected.append(key)
    missing = [
        key for key in target if key not in checkpoint and not key.endswith("num_batches_tracked")
    ]
    report = I3DLoadReport(
        loaded=sorted(loadable),
        missing=missing,
        unexpected=unexpected,
        beyond_encoder=beyond,
        shape_mismatches=mismatches,
    )
    source = path_or_state_dict if not isinstance(path_or_state_dict, Mapping) else "state dict"
    if not report.ok:
        message = f"I3D checkpoint {source} does not match the encoder:\n{report.problems()}"
        if strict:
            raise ValueError(message)
        warnings.warn(message, stacklevel=2)
    encoder.load_state_dict(loadable, strict=False)
    logger.info(
        "I3D checkpoint %s: loaded %d tensors, ignored %d beyond Mixed_4f",
        source,
        len(report.loaded),
        len(report.beyond_encoder),
    )
    return report


# ---- detector checkpoints ------------------------------------------------------------------
def _torch_load(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, ...
        raise DataError(
            f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {exc})"
        ) from exc


def save_detector(
    path: str | os.PathLike[str],
    model: CapsuleDetector,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write the model's config and weights (and ``extra``: plain data or tensors) atomically."""
    path = Path(path)
    payload = {
        "format": DETECTOR_FORMAT,
        "config": model.config.to_dict(),
        "state_dict": model.state_dict(),
        "extra": dict(extra or {}),
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp))  # names the file, and a full disk


def load_detector(
    path: str | os.PathLike[str],
    *,
    map_location: str | torch.device = "cpu",
) -> tuple[CapsuleDetector, dict[str, Any]]:
    """Rebuild a detector from ``save_detector``'s file: returns (model in eval mode, extra)."""
    path = Path(path)
    payload = _torch_load(path)
    if not isinstance(payload, dict) or payload.get("format") != DETECTOR_FORMAT:
        raise DataError(f"{path}: not a detector checkpoint (no format {DETECTOR_FORMAT!r})")
    try:
        config = DetectorConfig.from_dict(payload["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: bad detector config ({exc})") from exc
    model = CapsuleDetector(config)
    try:
        model.load_state_dict(payload["state_dict"])
    except (KeyError, RuntimeError) as exc:
        raise DataError(f"{path}: weights do not match its config ({exc})") from exc
    model.to(map_location)
    model.eval()
    return model, payload.get("extra", {})
