"""Size and speed of the capsule detector on this CPU (issue 4; supplementary Table 11).

Prints, from one run: parameter counts of the paper and tiny presets (encoder = I3D + the two
encoder skip branches, head = capsules + decoder), multiply-adds per clip, the tiny preset's
forward + backward time per clip (batch 8, training mode) and the paper preset's forward time
per clip (eval mode, no gradient). Times are the minimum over repeats (the machine is shared);
nothing is asserted.

    .venv/bin/python benchmarks/bench_model.py [--threads N] [--paper-clips 1] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from claus_core.model.config import DetectorConfig
from claus_core.model.detector import CapsuleDetector
from claus_core.model.macs import count_macs

ENCODER_PARTS = ("encoder", "skip_2c", "skip_1a")


def parameter_counts(model: CapsuleDetector) -> tuple[int, int]:
    """(encoder, head) parameter counts."""
    encoder = sum(
        p.numel() for name, p in model.named_parameters() if name.startswith(ENCODER_PARTS)
    )
    return encoder, sum(p.numel() for p in model.parameters()) - encoder


def min_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def random_clips(config: DetectorConfig, batch: int, seed: int) -> torch.Tensor:
    size = config.input_size
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, config.clip_length, size, size, generator=generator)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=5, help="tiny preset timing repeats")
    parser.add_argument("--paper-clips", type=int, default=1)
    parser.add_argument("--paper-repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} threads")

    print(
        f"\n{'preset':<7} {'params':>12} {'encoder':>12} {'head':>12} {'GMAC/clip':>10} "
        f"{'head share':>10}"
    )
    models = {}
    for name, config in (("paper", DetectorConfig.paper()), ("tiny", DetectorConfig.tiny())):
        models[name] = CapsuleDetector(config)
        encoder, head = parameter_counts(models[name])
        macs = count_macs(config)
        print(
            f"{name:<7} {encoder + head:>12,} {encoder:>12,} {head:>12,} "
            f"{macs.total / 1e9:>10.3f} {macs.head_share:>10.3f}"
        )

    tiny = models["tiny"].train()
    batch = random_clips(tiny.config, 8, seed=1)
    generator = torch.Generator().manual_seed(0)

    def tiny_step() -> None:
        tiny.zero_grad(set_to_none=True)
        out = tiny(batch, generator=generator)
        (out.mask_logits.float().sigmoid().mean() + out.class_scores.mean()).backward()

    tiny_step()  # warm-up (oneDNN primitive creation)
    seconds = min_time(tiny_step, args.repeats)
    print(
        f"\ntiny forward+backward, batch 8: {seconds:.3f} s per batch, "
        f"{seconds / 8 * 1e3:.1f} ms per clip"
    )

    paper = models["paper"].eval()
    clips = random_clips(paper.config, args.paper_clips, seed=2)

    def paper_forward() -> None:
        with torch.no_grad():
            paper(clips)

    seconds = min_time(paper_forward, args.paper_repeats)
    macs = count_macs(paper.config).total * args.paper_clips
    print(
        f"paper forward, {args.paper_clips} clip(s): {seconds / args.paper_clips:.2f} s per clip "
        f"({macs / seconds / 1e9:.1f} GMAC/s)"
    )


if __name__ == "__main__":
    main()
