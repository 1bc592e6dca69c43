"""Pool scoring: one encoder pass + T dropout heads vs T full passes (issue 5, item 6b).

Algorithm 1 (line 4) scores every pool frame from T = 10 MC-dropout samples. Everything before
the first dropout (I3D and the Conv3d_2c / Conv3d_1a skip branches) is shared by the samples,
so ``model.head(model.encode(clips), n_samples=T)`` replaces T full passes. With h the head's
share of one pass's multiply-adds (``claus_core.model.macs``), the speed-up is bounded by
``T / (1 + (T - 1) h)``.

For each preset this prints h, the bound, the measured speed-up and its fraction of the bound
(one row per head batching: all T samples in one batch, or ``--samples-per-batch`` samples at
a time, which on a CPU keeps more of the decoder in cache), the head's share of the measured
time with the bound it implies, and the largest differences between the two ways (the same
dropout masks: both draw them from a generator with the same seed, in the documented order) in
the mask logits and in the per-frame uncertainties (``claus_core.uncertainty.frame_uncertainty``, threshold 0.4). Then,
for the shared-encoder scoring, the extra ratio that bf16 autocast and ``channels_last_3d``
bring on this CPU, each separately, with the largest per-frame uncertainty difference each
causes. The sharing comparison runs in two memory formats: the model's own (``default``: on a
CPU the detector lays its decoder's inputs out ``channels_last_3d``, where the transposed
convolutions run several times faster) and ``channels_last_3d`` for the whole model and the
clips. The models have random weights with a foreground prior of 0.5, so that the compared
uncertainties are not all 0. Times are minima over repeats,
measured in this one run; nothing is asserted.

    .venv/bin/python benchmarks/bench_scoring.py [--threads N] [--paper-clips 1]
        [--samples-per-batch all 2] [--precision-presets tiny paper]
        [--sharing-formats default channels_last_3d]
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace

import torch
from torch import nn

from claus_core.model.config import DetectorConfig
from claus_core.model.detector import CapsuleDetector
from claus_core.model.macs import count_macs
from claus_core.uncertainty import frame_uncertainty

THRESHOLD = 0.4
SEED = 0


def random_clips(config: DetectorConfig, batch: int, seed: int) -> torch.Tensor:
    size = config.input_size
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, config.clip_length, size, size, generator=generator)


def shared_scoring(
    model: CapsuleDetector,
    clips: torch.Tensor,
    n_samples: int,
    *,
    samples_per_batch: int | None = None,
    context: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> torch.Tensor:
    """Mask logits [S, B, T, H, W] from one encoding and S batched dropout heads."""
    with torch.no_grad(), context():
        features = model.encode(clips)
        out = model.head(
            features,
            n_samples,
            generator=torch.Generator().manual_seed(SEED),
            samples_per_batch=samples_per_batch,
        )
    return out.mask_logits.float()


def full_passes(model: CapsuleDetector, clips: torch.Tensor, n_samples: int) -> torch.Tensor:
    """The same masks from S full forward passes sharing one generator."""
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        passes = [model(clips, generator=generator, dropout=True) for _ in range(n_samples)]
    return torch.stack([p.mask_logits for p in passes]).float()


def timed(fn: Callable[[], torch.Tensor]) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def uncertainty(logits: torch.Tensor) -> torch.Tensor:  # [B, T]
    return frame_uncertainty(torch.sigmoid(logits), threshold=THRESHOLD)


def channels_last_copy(model: CapsuleDetector) -> CapsuleDetector:
    """A copy whose 3D convolution weights are channels_last_3d (the 2D/capsule ones stay)."""
    converted = copy.deepcopy(model)
    for module in converted.modules():
        if isinstance(module, nn.Conv3d | nn.ConvTranspose3d):
            module.to(memory_format=torch.channels_last_3d)
    return converted


def time_share_of_head(model: CapsuleDetector, clips: torch.Tensor) -> float:
    """The head's share of one full pass in measured time (not multiply-adds)."""
    with torch.no_grad():
        encode_time, features = timed(lambda: model.encode(clips))
        head_time, _ = timed(lambda: model.head(features, 1, dropout=True).mask_logits)
    return head_time / (encode_time + head_time)


def compare_sharing(
    name: str, model: CapsuleDetector, clips: torch.Tensor, args, memory_format: str
) -> None:
    """One row per head batching in ``args.samples_per_batch``, against one full-pass baseline,
    model and clips in ``memory_format`` ("default": as built; both ways alike)."""
    if memory_format == "channels_last_3d":
        model, clips = (
            channels_last_copy(model),
            clips.contiguous(memory_format=torch.channels_last_3d),
        )
    macs = count_macs(model.config)
    bound = macs.scoring_speedup_bound(args.samples)
    settings = args.samples_per_batch
    shared_times: dict[int | None, list[float]] = {k: [] for k in settings}
    shared: dict[int | None, torch.Tensor] = {}
    full_times, time_shares = [], []
    for _ in range(args.repeats[name]):  # interleaved, so all see the same machine load
        t, full = timed(lambda: full_passes(model, clips, args.samples))
        full_times.append(t)
        for k in settings:
            t, shared[k] = timed(
                lambda k=k: shared_scoring(model, clips, args.samples, samples_per_batch=k)
            )
            shared_times[k].append(t)
        time_shares.append(time_share_of_head(model, clips))
    h_time = sorted(time_shares)[len(time_shares) // 2]
    time_bound = args.samples / (1 + (args.samples - 1) * h_time)
    for k in settings:
        speedup = min(full_times) / min(shared_times[k])
        per_clip = min(shared_times[k]) / clips.shape[0]
        logit_diff = (shared[k] - full).abs().max().item()
        u_diff = (uncertainty(shared[k]) - uncertainty(full)).abs().max().item()
        label = "all" if k is None else str(k)
        print(
            f"{name:<6} {memory_format:<16} {clips.shape[0]:>5} {label:>5} {macs.head_share:>6.3f} {bound:>6.3f} "
            f"{speedup:>8.3f} {speedup / bound:>8.1%} {h_time:>6.3f} {time_bound:>8.3f} "
            f"{per_clip:>7.3f} {logit_diff:>10.2e} {u_diff:>9.2e}"
        )


def compare_variants(name: str, model: CapsuleDetector, clips: torch.Tensor, args) -> None:
    def bf16() -> AbstractContextManager[object]:
        return torch.autocast("cpu", dtype=torch.bfloat16)

    cl_model = channels_last_copy(model)
    cl_clips = clips.contiguous(memory_format=torch.channels_last_3d)
    variants = {
        "bf16 autocast": lambda: shared_scoring(model, clips, args.samples, context=bf16),
        "channels_last_3d": lambda: shared_scoring(cl_model, cl_clips, args.samples),
    }
    for label, run in variants.items():
        base_times, variant_times = [], []
        for _ in range(args.repeats[name]):
            t, base = timed(lambda: shared_scoring(model, clips, args.samples))
            base_times.append(t)
            t, variant = timed(run)
            variant_times.append(t)
        ratio = min(base_times) / min(variant_times)
        reference = uncertainty(base)
        u_diff = (uncertainty(variant) - reference).abs().max().item()
        print(f"{name:<6} {label:<17} {ratio:>12.3f} {u_diff:>12.2e} {reference.abs().max():>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--samples", type=int, default=10, help="T, MC-dropout samples")
    parser.add_argument("--tiny-clips", type=int, default=4)
    parser.add_argument("--paper-clips", type=int, default=1)
    parser.add_argument("--tiny-repeats", type=int, default=5)
    parser.add_argument("--paper-repeats", type=int, default=2)
    parser.add_argument("--presets", nargs="+", default=["tiny", "paper"])
    parser.add_argument(
        "--samples-per-batch",
        nargs="+",
        default=["all", "2"],
        help="head batches to compare: 'all' (the S samples at once) or a number of samples",
    )
    parser.add_argument("--precision-presets", nargs="*", default=["tiny"])
    parser.add_argument(
        "--sharing-formats",
        nargs="+",
        default=["default", "channels_last_3d"],
        choices=["default", "channels_last_3d"],
        help="memory formats in which to compare shared-encoder scoring with full passes",
    )
    args = parser.parse_args()
    args.repeats = {"tiny": args.tiny_repeats, "paper": args.paper_repeats}
    args.samples_per_batch = [None if v == "all" else int(v) for v in args.samples_per_batch]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # random weights: a foreground prior of 0.5 puts the mask probabilities around the 0.4
    # threshold, so the per-frame uncertainties compared below are not all 0 (with the default
    # prior 0.1 no pixel of an untrained model is foreground and every uncertainty is 0)
    configs = {
        "tiny": replace(DetectorConfig.tiny(), foreground_prior=0.5),
        "paper": replace(DetectorConfig.paper(), foreground_prior=0.5),
    }
    clip_counts = {"tiny": args.tiny_clips, "paper": args.paper_clips}
    models = {}
    inputs = {}
    for name in dict.fromkeys(args.presets + args.precision_presets):
        models[name] = CapsuleDetector(configs[name]).eval()
        inputs[name] = random_clips(configs[name], clip_counts[name], seed=1)
        shared_scoring(models[name], inputs[name][:1], 1)  # warm-up

    print(f"torch {torch.__version__}, {args.threads} threads, T = {args.samples}")
    print("\nshared encoder (encode once + T batched heads) vs T full passes, same masks")
    print(
        "S/bat: samples per head batch; h: the head's share of the multiply-adds; h(t), "
        "bound(t): the same from measured encode / head times"
    )
    print(
        f"{'preset':<6} {'memory format':<16} {'clips':>5} {'S/bat':>5} {'h':>6} {'bound':>6} {'speedup':>8} "
        f"{'of bound':>8} {'h(t)':>6} {'bound(t)':>8} {'s/clip':>7} {'max dlogit':>10} "
        f"{'max du':>9}"
    )
    for name in args.presets:
        for memory_format in args.sharing_formats:
            compare_sharing(name, models[name], inputs[name], args, memory_format)

    if args.precision_presets:
        print("\nextra ratio on the shared-encoder scoring (fp32 time / variant time)")
        print(f"{'preset':<6} {'variant':<17} {'speed ratio':>12} {'max du':>12} {'max u':>8}")
        for name in args.precision_presets:
            compare_variants(name, models[name], inputs[name], args)


if __name__ == "__main__":
    main()
