"""One short check of the paper preset on a CUDA GPU (issue 8, item 4; Table 11, Section 7.1).

On random input: the output shapes, forward and forward + backward time of a training batch
(8 clips of 8 x 224 x 224, Section 7.1), MC-dropout scoring time of T = 10 samples with the
shared encoder against T full passes (and whether both give the same outputs under the same
dropout masks), and the peak GPU memory of each step; printed as one table (and optionally
written as JSON). Well under 5 minutes on one modern GPU.

``--cpu`` runs the same steps on the CPU with the tiny preset and 2 clips, so the script can
be checked on a machine without a GPU:

    benchmarks/gpu_check.sh            # paper preset on cuda
    benchmarks/gpu_check.sh --cpu      # reduced: tiny preset on cpu
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
from bench_scoring import channels_last_copy  # benchmarks/, this script's folder

from claus_core.model.config import DetectorConfig
from claus_core.model.detector import CapsuleDetector
from claus_core.model.macs import count_macs
from claus_core.uncertainty import frame_uncertainty


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(
    device: torch.device,
    fn: Callable[[], object],
    repeats: int,
) -> tuple[float, float]:
    """(minimum seconds over ``repeats`` after one warm-up, peak memory in GiB or NaN on CPU)."""
    fn()
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    if device.type != "cuda":
        return min(times), float("nan")
    return min(times), torch.cuda.max_memory_allocated(device) / 2**30


def shared_probabilities(
    model: CapsuleDetector,
    clips: torch.Tensor,
    samples: int,
    *,
    bf16: bool = False,
) -> torch.Tensor:  # [S, B, T, H, W]
    """Foreground probabilities of ``samples`` MC-dropout draws, encoder run once."""
    with torch.no_grad(), torch.autocast(clips.device.type, dtype=torch.bfloat16, enabled=bf16):
        generator = torch.Generator(clips.device).manual_seed(1)
        logits = model.head(model.encode(clips), samples, generator=generator).mask_logits
    return logits.float().sigmoid()


def variant_rows(
    model: CapsuleDetector,
    clips: torch.Tensor,
    samples: int,
    device: torch.device,
    repeats: int,
    baseline_seconds: float,
) -> list[tuple[str, str]]:
    """Speed-up of bf16 autocast and of channels_last_3d over fp32 shared-encoder scoring, each
    with the largest change it causes in the foreground probabilities and in the per-frame
    uncertainties (0 everywhere when no pixel of a random-weight model passes the threshold)."""
    reference = shared_probabilities(model, clips, samples)

    def changes(name: str, probabilities: torch.Tensor) -> list[tuple[str, str]]:
        probability = (probabilities - reference).abs().max().item()
        uncertainty = frame_uncertainty(probabilities) - frame_uncertainty(reference)
        return [
            (f"{name} max |probability change|", f"{probability:.2e}"),
            (f"{name} max |uncertainty change|", f"{uncertainty.abs().max().item():.2e}"),
        ]

    seconds, _ = measure(
        device, lambda: shared_probabilities(model, clips, samples, bf16=True), repeats
    )
    rows = [("scoring bf16 autocast speed-up", f"{baseline_seconds / seconds:.2f}")]
    rows += changes("bf16", shared_probabilities(model, clips, samples, bf16=True))
    last = channels_last_copy(model)
    last_clips = clips.contiguous(memory_format=torch.channels_last_3d)
    seconds, _ = measure(device, lambda: shared_probabilities(last, last_clips, samples), repeats)
    rows.append(("scoring channels_last_3d speed-up", f"{baseline_seconds / seconds:.2f}"))
    rows += changes("channels_last_3d", shared_probabilities(last, last_clips, samples))
    return rows


def tiny_training_rows(device: torch.device, repeats: int) -> list[tuple[str, str]]:
    """Forward + backward + Adam step of the tiny preset (the default study's model), 8 clips."""
    config = DetectorConfig.tiny()
    model = CapsuleDetector(config).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    size = config.input_size
    clips = torch.rand(8, 3, config.clip_length, size, size, device=device)
    labels = torch.arange(8, device=device) % config.num_classes

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        result = model(clips, labels=labels)
        (result.mask_logits.sigmoid().mean() + result.class_scores.mean()).backward()
        optimizer.step()

    seconds, _ = measure(device, step, max(repeats, 5))
    return [("tiny preset train step s/batch of 8", f"{seconds:.4f}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="tiny preset, 2 clips, on the CPU")
    parser.add_argument("--batch", type=int, default=None, help="clips per batch (default 8)")
    parser.add_argument("--samples", type=int, default=10, help="T, MC-dropout samples")
    parser.add_argument("--repeats", type=int, default=None, help="default 3 (cuda), 1 (cpu)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()

    repeats = args.repeats or (1 if args.cpu else 3)
    if args.cpu:
        device, config, batch = torch.device("cpu"), DetectorConfig.tiny(), args.batch or 2
    else:
        if not torch.cuda.is_available():
            raise SystemExit("no CUDA device visible; use --cpu for the reduced CPU run")
        device, config, batch = torch.device("cuda"), DetectorConfig.paper(), args.batch or 8
        torch.backends.cudnn.benchmark = True
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    preset = "tiny" if args.cpu else "paper"
    torch.manual_seed(0)
    model = CapsuleDetector(config).to(device)
    size = config.input_size
    clips = torch.rand(batch, 3, config.clip_length, size, size, device=device)
    labels = torch.arange(batch, device=device) % config.num_classes
    rows: list[tuple[str, str]] = [
        ("device", name),
        ("torch", torch.__version__),
        ("preset", preset),
        ("parameters", f"{sum(p.numel() for p in model.parameters()):,}"),
        ("batch (clips)", str(batch)),
        ("MC samples T", str(args.samples)),
    ]

    model.eval()
    with torch.no_grad():
        features = model.encode(clips)
        out = model.head(features, args.samples, generator=torch.Generator(device).manual_seed(0))
    for field in ("mask_logits", "class_scores", "latent", "capsule_activations"):
        rows.append((f"shape {field} [S, B, ...]", str(list(getattr(out, field).shape))))
    for field in ("mixed_4f", "skip_2c", "skip_1a"):
        rows.append((f"shape encode().{field}", str(list(getattr(features, field).shape))))

    def forward() -> None:
        with torch.no_grad():
            model(clips)

    seconds, peak = measure(device, forward, repeats)
    rows += [("forward (eval) s/batch", f"{seconds:.3f}"), ("forward peak GiB", f"{peak:.2f}")]

    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        result = model(clips, labels=labels)
        loss = result.mask_logits.sigmoid().mean() + result.class_scores.mean()
        loss.backward()
        optimizer.step()

    seconds, peak = measure(device, train_step, repeats)
    rows += [
        ("forward+backward+step s/batch", f"{seconds:.3f}"),
        ("forward+backward peak GiB", f"{peak:.2f}"),
    ]

    model.eval()

    def shared() -> torch.Tensor:
        with torch.no_grad():
            generator = torch.Generator(device).manual_seed(1)
            return model.head(model.encode(clips), args.samples, generator=generator).mask_logits

    def full() -> torch.Tensor:
        with torch.no_grad():
            generator = torch.Generator(device).manual_seed(1)
            passes = [
                model(clips, generator=generator, dropout=True).mask_logits
                for _ in range(args.samples)
            ]
            return torch.stack(passes)

    shared_seconds, shared_peak = measure(device, shared, repeats)
    full_seconds, full_peak = measure(device, full, repeats)
    difference = (shared() - full()).abs().max().item()
    bound = count_macs(config).scoring_speedup_bound(args.samples)
    rows += [
        ("scoring shared encoder s/batch", f"{shared_seconds:.3f}"),
        ("scoring shared encoder peak GiB", f"{shared_peak:.2f}"),
        (f"scoring {args.samples} full passes s/batch", f"{full_seconds:.3f}"),
        (f"scoring {args.samples} full passes peak GiB", f"{full_peak:.2f}"),
        ("scoring speed-up (MAC bound)", f"{full_seconds / shared_seconds:.2f} ({bound:.2f})"),
        ("max |logit difference|, same masks", f"{difference:.2e}"),
    ]
    rows += variant_rows(model, clips, args.samples, device, repeats, shared_seconds)
    rows += tiny_training_rows(device, repeats)

    width = max(len(key) for key, _ in rows)
    print("\n".join(f"{key:<{width}}  {value}" for key, value in rows))
    if args.json is not None:
        args.json.write_text(json.dumps(dict(rows), indent=2) + "\n")


if __name__ == "__main__":
    main()
