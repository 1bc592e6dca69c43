"""The detector's one config (supplementary Section 7.1 and Table 11).

``DetectorConfig.paper()`` is Table 11 exactly: an 8 x 224 x 224 clip, the I3D encoder up to
``Mixed_4f`` (832 channels at 1 x 28 x 28), 32 primary capsule types (4 x 4 pose + activation:
20 x 20 x 544 after a 9 x 9 valid convolution), 24 convolutional capsule types that are also the
class capsules (20 x 20 x 408), a 408-d ``Latent_feats`` vector, the 20 x 20 x 384 poses into a
decoder of four 3D transposed convolutions with three 128-channel concatenations, and an
8 x 224 x 224 x 1 output.

``DetectorConfig.tiny()`` is the same network, narrower and on smaller frames, so that a whole
active-learning study (several rounds x strategies x 3 seeds, a few hundred short clips per
round) runs on a 2-core CPU (see its docstring for the numbers).

The config is saved inside every detector checkpoint (``to_dict`` / ``from_dict``), nanoGPT
style: a checkpoint rebuilds its own model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

# The encoder halves H and W three times (Conv3d_1a, MaxPool3d_2a, MaxPool3d_3a) and the time
# axis three times (Conv3d_1a, Conv3d_2c, MaxPool3d_4a, Table 11); the decoder's three stride-2
# transposed convolutions undo exactly that, so the clip must be 8 frames and H = W a multiple
# of 8.
ENCODER_STRIDE = 8
CLIP_LENGTH = 8


@dataclass(frozen=True)
class DetectorConfig:
    """Every size of the capsule detector; ``paper()`` and ``tiny()`` are the two presets.

    The convolutional capsules have one type per class: their activations, averaged over the
    capsule grid, are Table 11's ``Class_caps`` (as in the authors' released model), and their
    poses are the decoder's input. ``foreground_prior`` is not in Table 11: ``Conv3d_out``'s
    bias starts at ``log(p / (1 - p))`` so that every pixel first predicts foreground with
    probability p (the prior-probability initialization of RetinaNet, Lin et al. 2017); actors
    cover about a tenth of a frame, and from PyTorch's default near-zero bias a from-scratch
    detector sometimes collapsed to all-background on SynthUCF24 (``scripts/learnability.py``).
    Derived sizes (``latent_dim``, ``capsule_grid``, ...) are properties, so a config cannot
    contradict itself.
    """

    num_classes: int = 24
    clip_length: int = CLIP_LENGTH  # T: frames per clip
    input_size: int = 224  # H = W of the clip
    i3d_width: float = 1.0  # multiplier on every I3D channel count (1.0: Mixed_4f has 832)
    primary_capsules: int = 32  # primary capsule types per grid position
    primary_kernel: int = 9  # valid conv on the Mixed_4f map: 28 -> 20 at the paper preset
    pose_size: int = 4  # a capsule's pose is a pose_size x pose_size matrix
    skip_channels: int = 64  # each skip branch; Concat_k = ConvTr_k channels + skip_channels
    decoder_channels: tuple[int, int, int, int] = (64, 64, 64, 128)  # ConvTr_1 .. ConvTr_4
    dropout: float = 0.5  # channel dropout on Mixed_4f and before Conv3d_out (MC dropout)
    routing_iterations: int = 3  # EM routing iterations (Hinton et al. 2018)
    routing_inverse_temperature: float = 1.0  # lambda in a = sigmoid(lambda (beta_a - cost))
    mask_poses_by_class: bool = False  # VideoCapsuleNet masking; off as in the authors' release
    batch_norm_momentum: float = 0.01  # I3D batch norms (the pytorch-i3d port's value)
    foreground_prior: float = 0.1  # Conv3d_out's bias starts at its log-odds (see below)

    def __post_init__(self) -> None:
        object.__setattr__(self, "decoder_channels", tuple(self.decoder_channels))
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")
        if self.clip_length != CLIP_LENGTH:
            raise ValueError(
                f"clip_length must be {CLIP_LENGTH}: the encoder reduces time 8 -> 1 and the "
                f"decoder's three stride-2 transposed convolutions restore 8 frames; "
                f"got {self.clip_length}"
            )
        if self.input_size < ENCODER_STRIDE or self.input_size % ENCODER_STRIDE:
            raise ValueError(
                f"input_size must be a positive multiple of {ENCODER_STRIDE}, got {self.input_size}"
            )
        if not 1 <= self.primary_kernel <= self.feature_size:
            raise ValueError(
                f"primary_kernel must be in [1, input_size / 8 = {self.feature_size}], "
                f"got {self.primary_kernel}"
            )
        if self.i3d_width <= 0:
            raise ValueError(f"i3d_width must be > 0, got {self.i3d_width}")
        if not 0.0 < self.batch_norm_momentum <= 1.0:
            raise ValueError(
                f"batch_norm_momentum must be in (0, 1], got {self.batch_norm_momentum}"
            )
        if not 0.0 < self.foreground_prior < 1.0:
            raise ValueError(f"foreground_prior must be in (0, 1), got {self.foreground_prior}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        for name in ("primary_capsules", "pose_size", "skip_channels", "routing_iterations"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if len(self.decoder_channels) != 4 or min(self.decoder_channels) < 1:
            raise ValueError(
                f"decoder_channels must be 4 positive widths (ConvTr_1..4), "
                f"got {self.decoder_channels}"
            )

    # ---- derived sizes -------------------------------------------------------------------
    @property
    def feature_size(self) -> int:
        """H = W of the Mixed_4f map (28 at the paper preset)."""
        return self.input_size // ENCODER_STRIDE

    @property
    def capsule_grid(self) -> int:
        """H = W of the capsule grids (20 at the paper preset)."""
        return self.feature_size - self.primary_kernel + 1

    @property
    def pose_dim(self) -> int:
        """Entries of one pose matrix (16)."""
        return self.pose_size * self.pose_size

    @property
    def capsule_dim(self) -> int:
        """Pose entries plus the activation (17)."""
        return self.pose_dim + 1

    @property
    def conv_capsules(self) -> int:
        """Convolutional (= class) capsule types: one per class."""
        return self.num_classes

    @property
    def latent_dim(self) -> int:
        """Size of ``Latent_feats``: conv-capsule poses and activations pooled (408)."""
        return self.conv_capsules * self.capsule_dim

    # ---- presets -------------------------------------------------------------------------
    @classmethod
    def paper(cls, num_classes: int = 24) -> DetectorConfig:
        """Table 11 of the supplementary: 8 x 224 x 224 in, 408-d latent, 8 x 224 x 224 out."""
        return cls(num_classes=num_classes)

    @classmethod
    def tiny(cls, num_classes: int = 24) -> DetectorConfig:
        """The same network for a 2-core CPU study.

        8 x 64 x 64 clips (an actor box of UCF-101-24, 320 x 240 frames, resized to 64 x 64 is
        still 10-30 pixels tall, enough for a frame-level mask), I3D at 1/8 width (Mixed_4f: 104
        channels at 1 x 8 x 8), 8 primary capsule types from a 3 x 3 valid convolution (6 x 6
        grid), 8-channel skips and a 16-channel decoder: 0.36 M parameters, 126 M multiply-adds
        per clip, and forward + backward of a batch of 8 clips in about 0.2 s on 2 idle CPU cores
        (``benchmarks/bench_model.py``). At 112 x 112 the same widths cost 3.3x the
        multiply-adds (415 M per clip), which the study's budget does not afford.

        Two training choices differ from the paper preset, both measured on SynthUCF24 from
        scratch (``scripts/learnability.py``): one EM-routing iteration (with three, the spread
        loss did not fall in 80 steps on 96 clips and training accuracy stayed at chance; with
        one it fell from 2.8 to 0.4), and batch-norm momentum 0.1 (at the port's 0.01 the
        running statistics of a from-scratch encoder lag the trained weights, and eval-mode
        accuracy stayed at chance while train-mode accuracy rose).
        """
        return cls(
            num_classes=num_classes,
            input_size=64,
            i3d_width=0.125,
            primary_capsules=8,
            primary_kernel=3,
            skip_channels=8,
            decoder_channels=(16, 16, 16, 16),
            routing_iterations=1,
            batch_norm_momentum=0.1,
        )

    # ---- (de)serialization ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict (tuples become lists)."""
        out = asdict(self)
        out["decoder_channels"] = list(self.decoder_channels)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorConfig:
        """Inverse of ``to_dict``; unknown keys raise ValueError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown DetectorConfig fields: {unknown}")
        values = dict(data)
        if "decoder_channels" in values:
            values["decoder_channels"] = tuple(int(c) for c in values["decoder_channels"])
        return cls(**values)
