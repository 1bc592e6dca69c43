"""CapsuleDetector: Table 11 shapes, presets, bad input, EM routing, MC dropout, MAC counts, and
the CPU arithmetic that computes the same values another way."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from claus_core.model.capsules import CapsuleGrid, ConvCapsules, em_routing
from claus_core.model.config import DetectorConfig
from claus_core.model.detector import (
    CapsuleDetector,
    DetectorOutput,
    EncodedClip,
    OneChannelConv3d,
    _scale_channels,
)
from claus_core.model.i3d import MaxPool3dSamePadding, Unit3D, pad_same
from claus_core.model.macs import count_macs


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small tensors: one intra-op thread avoids OpenMP stalls when the 2 cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny() -> CapsuleDetector:
    torch.manual_seed(0)
    return CapsuleDetector(DetectorConfig.tiny(num_classes=5)).eval()


def clips(batch: int, config: DetectorConfig, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    size = config.input_size
    return torch.rand(batch, 3, config.clip_length, size, size, generator=g)


# ---- Table 11 --------------------------------------------------------------------------------
TABLE_11 = {  # name -> output D x H x W x C (Table 11 of the supplementary)
    "Conv3d_1a_7x7": (4, 112, 112, 64),
    "MaxPool3d_2a_3x3": (4, 56, 56, 64),
    "Conv3d_2b_1x1": (4, 56, 56, 64),
    "Conv3d_2c_3x3": (2, 56, 56, 192),
    "MaxPool3d_3a_3x3": (2, 28, 28, 192),
    "Mixed_3b": (2, 28, 28, 256),
    "Mixed_3c": (2, 28, 28, 480),
    "MaxPool3d_4a_3x3": (1, 28, 28, 480),
    "Mixed_4b": (1, 28, 28, 512),
    "Mixed_4c": (1, 28, 28, 512),
    "Mixed_4d": (1, 28, 28, 512),
    "Mixed_4e": (1, 28, 28, 528),
    "Mixed_4f": (1, 28, 28, 832),
    "ConvTr_1": (1, 28, 28, 64),
    "Concat_1": (1, 28, 28, 128),
    "ConvTr_2": (2, 56, 56, 64),
    "Concat_2": (2, 56, 56, 128),
    "ConvTr_3": (4, 112, 112, 64),
    "Concat_3": (4, 112, 112, 128),
    "ConvTr_4": (8, 224, 224, 128),
    "Conv3d_out": (8, 224, 224, 1),
}


def dhwc(x: torch.Tensor) -> tuple[int, ...]:
    """[1, C, D, H, W] -> (D, H, W, C)."""
    return (*x.shape[2:], x.shape[1])


@pytest.mark.slow
def test_paper_preset_has_every_output_shape_of_table_11() -> None:
    config = DetectorConfig.paper()
    assert (config.latent_dim, config.capsule_grid, config.clip_length) == (408, 20, 8)
    model = CapsuleDetector(config).eval()
    seen: dict[str, tuple[int, ...]] = {}

    def record(name: str, use_input: bool = False):
        def hook(module, inputs, output):
            seen[name] = dhwc(inputs[0] if use_input else output)

        return hook

    for name in list(TABLE_11)[:13]:
        getattr(model.encoder, name).register_forward_hook(record(name))
    model.conv_tr_1.register_forward_hook(record("Poses", use_input=True))
    for k in (1, 2, 3, 4):
        getattr(model, f"conv_tr_{k}").register_forward_hook(
            lambda m, i, o, k=k: seen.update({f"ConvTr_{k}": dhwc(torch.relu(o))})
        )
    for k in (2, 3, 4):  # Concat_k is the input of ConvTr_{k+1}
        getattr(model, f"conv_tr_{k}").register_forward_hook(
            lambda m, i, o, k=k: seen.update({f"Concat_{k - 1}": dhwc(i[0])})
        )
    model.conv3d_out.register_forward_hook(record("Conv3d_out"))
    model.primary_caps.conv.register_forward_hook(
        lambda m, i, o: seen.update({"Primary_caps": (*o.shape[2:], o.shape[1])})
    )

    def conv_caps_hook(module, inputs, output: CapsuleGrid) -> None:
        n, types, pose, g, _ = output.poses.shape
        seen["Conv_caps"] = (g, g, types * (pose + 1))

    model.conv_caps.register_forward_hook(conv_caps_hook)
    with torch.no_grad():
        out = model(clips(1, config))

    for name, shape in TABLE_11.items():
        assert seen[name] == shape, name
    assert seen["Primary_caps"] == (20, 20, 544)
    assert seen["Conv_caps"] == (20, 20, 408)
    assert seen["Poses"] == (1, 20, 20, 384)
    assert out.latent.shape == (1, 408)
    assert out.class_scores.shape == (1, 24)
    assert out.mask_logits.shape == (1, 8, 224, 224)
    assert torch.isfinite(out.mask_logits).all()


# ---- presets and shapes ----------------------------------------------------------------------
def test_tiny_preset_shapes_and_ranges(tiny: CapsuleDetector) -> None:
    config = tiny.config
    x = clips(2, config)
    with torch.no_grad():
        features = tiny.encode(x)
        out = tiny.head(features, 3, generator=torch.Generator().manual_seed(1))
        single = tiny(x)
    assert isinstance(features, EncodedClip)
    g = config.capsule_grid
    assert features.mixed_4f.shape == (2, 104, 1, 8, 8)
    assert features.skip_2c.shape == (2, config.skip_channels, 2, 16, 16)
    assert features.skip_1a.shape == (2, config.skip_channels, 4, 32, 32)
    assert out.mask_logits.shape == (3, 2, 8, 64, 64)
    assert out.class_scores.shape == (3, 2, 5)
    assert out.latent.shape == (3, 2, 5 * 17)
    assert out.capsule_activations.shape == (3, 2, 5, g, g)
    assert single.mask_logits.shape == (2, 8, 64, 64)
    assert single.latent.shape == (2, config.latent_dim)
    for scores in (out.class_scores, single.class_scores):
        assert scores.min() >= 0 and scores.max() <= 1
    # the latent's activation entries are the class scores
    assert torch.allclose(single.latent.reshape(2, 5, 17)[..., -1], single.class_scores)


def test_tiny_forward_backward_gives_finite_gradients() -> None:
    torch.manual_seed(0)
    model = CapsuleDetector(DetectorConfig.tiny(num_classes=3)).train()
    out = model(clips(2, model.config), generator=torch.Generator().manual_seed(0))
    loss = out.mask_logits.sigmoid().mean() + out.class_scores.sum() + out.latent.square().mean()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.conv_caps.transform.grad.abs().sum() > 0
    assert model.encoder.Conv3d_1a_7x7.conv3d.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "shape",
    [(1, 1, 8, 64, 64), (1, 3, 4, 64, 64), (1, 3, 8, 64, 32), (3, 8, 64, 64), (1, 3, 8, 56, 56)],
)
def test_bad_clip_shapes_name_the_expected_shape(tiny: CapsuleDetector, shape) -> None:
    with pytest.raises(ValueError, match=r"\[B, 3, 8, 64, 64\]"):
        tiny(torch.zeros(shape))
    with pytest.raises(ValueError, match=r"\[B, 3, 8, 64, 64\]"):
        tiny.encode(torch.zeros(shape))


def test_bad_dtype_and_labels(tiny: CapsuleDetector) -> None:
    with pytest.raises(ValueError, match="float"):
        tiny(torch.zeros(1, 3, 8, 64, 64, dtype=torch.uint8))
    features = tiny.encode(clips(2, tiny.config))
    with pytest.raises(ValueError, match="labels"):
        tiny.head(features, labels=torch.tensor([0]))
    with pytest.raises(ValueError, match="labels"):
        tiny.head(features, labels=torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="n_samples"):
        tiny.head(features, 0)


@pytest.mark.parametrize(
    "changes",
    [
        {"clip_length": 16},
        {"input_size": 60},
        {"primary_kernel": 9},
        {"dropout": 1.0},
        {"decoder_channels": (8, 8, 8)},
        {"num_classes": 0},
        {"i3d_width": 0.0},
    ],
)
def test_config_rejects_inconsistent_sizes(changes) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(DetectorConfig.tiny(), **changes)


def test_config_round_trips_through_json() -> None:
    for config in (DetectorConfig.paper(num_classes=21), DetectorConfig.tiny()):
        data = json.loads(json.dumps(config.to_dict()))
        assert DetectorConfig.from_dict(data) == config
    with pytest.raises(ValueError, match="bogus"):
        DetectorConfig.from_dict({**DetectorConfig.tiny().to_dict(), "bogus": 1})


def test_paper_preset_is_table_11_sizes() -> None:
    config = DetectorConfig.paper()
    assert (config.input_size, config.clip_length, config.feature_size) == (224, 8, 28)
    assert config.primary_capsules * config.capsule_dim == 544
    assert config.conv_capsules * config.capsule_dim == 408
    assert config.conv_capsules * config.pose_dim == 384
    assert config.skip_channels + config.decoder_channels[0] == 128


# ---- EM routing ------------------------------------------------------------------------------
def test_em_routing_is_finite_for_zero_inputs() -> None:
    votes = torch.zeros(6, 5, 8, 16, requires_grad=True)
    acts = torch.zeros(6, 8, requires_grad=True)
    beta_u = torch.zeros(5, requires_grad=True)
    beta_a = torch.zeros(5, requires_grad=True)
    poses, activations = em_routing(votes, acts, beta_u, beta_a, iterations=3)
    assert torch.isfinite(poses).all() and torch.isfinite(activations).all()
    (poses.sum() + activations.sum()).backward()
    for tensor in (votes, acts, beta_u, beta_a):
        assert torch.isfinite(tensor.grad).all()
    layer = ConvCapsules(4, 3, pose_size=4)
    grid = CapsuleGrid(poses=torch.zeros(2, 4, 16, 5, 5), activations=torch.zeros(2, 4, 5, 5))
    out = layer(grid)
    assert out.poses.shape == (2, 3, 16, 5, 5) and out.activations.shape == (2, 3, 5, 5)
    assert torch.isfinite(out.poses).all() and torch.isfinite(out.activations).all()


def test_em_routing_activates_the_capsule_whose_votes_agree() -> None:
    g = torch.Generator().manual_seed(0)
    agree = torch.ones(1, 1, 10, 16) + 0.01 * torch.randn(1, 1, 10, 16, generator=g)
    disagree = 3.0 * torch.randn(1, 1, 10, 16, generator=g)
    votes = torch.cat([agree, disagree], dim=1)  # [1, 2, 10, 16]
    poses, activations = em_routing(
        votes, torch.ones(1, 10), torch.zeros(2), torch.zeros(2), iterations=3
    )
    assert activations[0, 0] > 0.5 > activations[0, 1]
    assert torch.allclose(poses[0, 0], agree.mean(dim=2)[0, 0], atol=0.05)


def textbook_em_routing(votes, a_in, beta_u, beta_a, iterations, inverse_temperature):
    """Procedure 1 of Hinton et al. (2018), element by element, with the module's guards."""
    eps, floor = 1e-6, 1e-4
    n, c, b, h = votes.shape
    r = torch.full((n, c, b), 1.0 / c, dtype=votes.dtype)
    for it in range(iterations):
        rw = r * a_in[:, None, :]
        mass = rw.sum(-1)
        coeff = rw / (mass[..., None] + eps)
        mu = (coeff[..., None] * votes).sum(2)
        var = (coeff[..., None] * (votes - mu[:, :, None]) ** 2).sum(2) + floor
        cost = ((beta_u[:, None] + 0.5 * torch.log(var)) * mass[..., None]).sum(-1)
        mean_cost = cost.mean(-1, keepdim=True)
        std_cost = torch.sqrt(((cost - mean_cost) ** 2).mean(-1, keepdim=True) + eps)
        a = torch.sigmoid(inverse_temperature * (beta_a + (mean_cost - cost) / (std_cost + eps)))
        if it < iterations - 1:
            gauss = -(
                (votes - mu[:, :, None]) ** 2 / (2 * var[:, :, None])
                + 0.5 * torch.log(2 * math.pi * var[:, :, None])
            ).sum(-1)
            r = torch.softmax(torch.log(a + eps)[..., None] + gauss, dim=1)
    return mu, a


def test_em_routing_matches_the_textbook_procedure() -> None:
    g = torch.Generator().manual_seed(1)
    votes = torch.randn(7, 5, 6, 16, generator=g, dtype=torch.float64)
    a_in = torch.rand(7, 6, generator=g, dtype=torch.float64)
    beta_u = torch.randn(5, generator=g, dtype=torch.float64)
    beta_a = torch.randn(5, generator=g, dtype=torch.float64)
    for iterations in (1, 3):
        ours = em_routing(
            votes, a_in, beta_u, beta_a, iterations=iterations, inverse_temperature=0.7
        )
        expected = textbook_em_routing(votes, a_in, beta_u, beta_a, iterations, 0.7)
        for got, want in zip(ours, expected, strict=True):
            assert torch.allclose(got, want, atol=1e-10)


def test_em_routing_runs_in_float32_under_autocast() -> None:
    layer = ConvCapsules(4, 3, pose_size=4)
    grid = CapsuleGrid(poses=torch.randn(1, 4, 16, 3, 3), activations=torch.rand(1, 4, 3, 3))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(grid)
    assert out.poses.dtype == torch.float32
    assert torch.allclose(out.poses, layer(grid).poses)


# ---- MC dropout ------------------------------------------------------------------------------
def test_head_sampling_equals_full_passes_with_the_same_masks(tiny: CapsuleDetector) -> None:
    x = clips(2, tiny.config, seed=3)
    samples = 4
    with torch.no_grad():
        batched = tiny.head(tiny.encode(x), samples, generator=torch.Generator().manual_seed(7))
        shared = torch.Generator().manual_seed(7)
        passes = [tiny(x, generator=shared, dropout=True) for _ in range(samples)]
    for field in ("mask_logits", "class_scores", "latent", "capsule_activations"):
        full = torch.stack([getattr(p, field) for p in passes])
        assert torch.allclose(getattr(batched, field), full, atol=1e-5, rtol=1e-5), field
    # and the samples really differ from each other (dropout is on)
    assert not torch.allclose(batched.mask_logits[0], batched.mask_logits[1])


def test_samples_per_batch_does_not_change_the_outputs(tiny: CapsuleDetector) -> None:
    x = clips(2, tiny.config, seed=4)
    with torch.no_grad():
        features = tiny.encode(x)
        whole = tiny.head(features, 5, generator=torch.Generator().manual_seed(3))
        split = tiny.head(
            features, 5, generator=torch.Generator().manual_seed(3), samples_per_batch=2
        )
    for field in ("mask_logits", "class_scores", "latent", "capsule_activations"):
        assert torch.allclose(getattr(whole, field), getattr(split, field), atol=1e-5), field
    with pytest.raises(ValueError, match="samples_per_batch"):
        tiny.head(features, 2, samples_per_batch=0)


def test_dropout_is_off_in_eval_for_one_sample_and_reproducible(tiny: CapsuleDetector) -> None:
    x = clips(1, tiny.config, seed=5)
    with torch.no_grad():
        first, second = tiny(x), tiny(x)
        assert torch.equal(first.mask_logits, second.mask_logits)
        features = tiny.encode(x)
        a = tiny.head(features, 3, generator=torch.Generator().manual_seed(11))
        b = tiny.head(features, 3, generator=torch.Generator().manual_seed(11))
        c = tiny.head(features, 3, generator=torch.Generator().manual_seed(12))
        off = tiny.head(features, 3, dropout=False)
    assert torch.equal(a.mask_logits, b.mask_logits)
    assert not torch.allclose(a.mask_logits, c.mask_logits)
    assert torch.allclose(off.mask_logits[0], off.mask_logits[2])
    assert torch.allclose(off.mask_logits[0], first.mask_logits, atol=1e-5)


def test_batch_norm_stays_in_eval_mode_while_sampling(tiny: CapsuleDetector) -> None:
    before = tiny.encoder.Conv3d_1a_7x7.bn.running_mean.clone()
    with torch.no_grad():
        tiny.head(tiny.encode(clips(2, tiny.config)), 2)
    assert torch.equal(before, tiny.encoder.Conv3d_1a_7x7.bn.running_mean)


def test_pose_masking_keeps_only_the_chosen_class() -> None:
    torch.manual_seed(0)
    config = dataclasses.replace(DetectorConfig.tiny(num_classes=4), mask_poses_by_class=True)
    model = CapsuleDetector(config)
    decoder_inputs: list[torch.Tensor] = []
    model.conv_tr_1.register_forward_hook(lambda m, i, o: decoder_inputs.append(i[0]))
    x = clips(2, config)
    with pytest.raises(ValueError, match="labels"):
        model(x)  # training without ground truth
    model(x, labels=torch.tensor([2, 0]), generator=torch.Generator().manual_seed(0))
    per_class = decoder_inputs[-1].reshape(2, 4, 16, -1).abs().sum(dim=(2, 3))  # [B, class]
    assert (per_class[0, [0, 1, 3]] == 0).all() and per_class[0, 2] > 0
    assert (per_class[1, 1:] == 0).all() and per_class[1, 0] > 0
    model.eval()
    with torch.no_grad():
        out = model(x)
    per_class = decoder_inputs[-1].reshape(2, 4, 16, -1).abs().sum(dim=(2, 3))
    predicted = out.class_scores.argmax(dim=-1)
    for b in range(2):
        assert (per_class[b] > 0).nonzero().flatten().tolist() == [int(predicted[b])]


def test_detector_output_sample_drops_the_sample_axis() -> None:
    out = DetectorOutput(
        mask_logits=torch.zeros(2, 3, 8, 4, 4),
        class_scores=torch.zeros(2, 3, 5),
        latent=torch.zeros(2, 3, 85),
        capsule_activations=torch.zeros(2, 3, 5, 2, 2),
    )
    assert out.sample(1).mask_logits.shape == (3, 8, 4, 4)


# ---- multiply-adds ---------------------------------------------------------------------------
def test_macs_count_layers_by_hand_and_split_into_parts() -> None:
    report = count_macs(DetectorConfig.paper())
    assert report.per_module["primary_caps.conv"] == 20 * 20 * 544 * 832 * 9 * 9
    assert report.per_module["encoder.Conv3d_1a_7x7.conv3d"] == 4 * 112 * 112 * 64 * 3 * 7**3
    assert report.per_module["skip_1a"] == 4 * 112 * 112 * 64 * 64 * 27
    assert report.per_module["conv_tr_4"] == 4 * 112 * 112 * 128 * 128 * 27  # input x out x k
    assert report.per_module["conv3d_out"] == 8 * 224 * 224 * 128 * 27
    assert sum(report.per_module.values()) == report.total
    head_modules = [
        n for n in report.per_module if not n.startswith(("encoder.", "skip_1a", "skip_2c"))
    ]
    assert sum(report.per_module[n] for n in head_modules) == report.head
    h = report.head_share
    assert math.isclose(report.scoring_speedup_bound(10), 10 / (1 + 9 * h))
    assert report.scoring_speedup_bound(1) == pytest.approx(1.0)


# ---- CPU arithmetic: the same values another way (issue 23) -------------------------------------
@pytest.mark.parametrize("shape", [(2, 16, 8, 12, 10), (1, 3, 1, 5, 5), (3, 4, 2, 1, 7)])
def test_one_channel_conv_equals_the_3d_convolution_and_its_gradients(shape) -> None:
    torch.manual_seed(1)
    conv = OneChannelConv3d(shape[1])
    x = torch.randn(*shape).contiguous(memory_format=torch.channels_last_3d).requires_grad_()
    reference = torch.nn.functional.conv3d(x, conv.weight, conv.bias, padding=1)
    grad = torch.randn(reference.shape)
    expected = torch.autograd.grad(reference, (x, conv.weight, conv.bias), grad)
    ours = conv(x)  # [R, 1, T, H, W]
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
    got_grads = torch.autograd.grad(ours, (x, conv.weight, conv.bias), grad)
    for got, want in zip(got_grads, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_one_channel_conv_by_hand() -> None:
    """One input channel, a kernel that is 1 only at time offset +1 (d = 2), centre pixel:
    output frame t is input frame t + 1, and the last frame sees the zero padding."""
    conv = OneChannelConv3d(1)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 2, 1, 1] = 1.0
        conv.bias.fill_(0.5)
    x = torch.arange(3.0).reshape(1, 1, 3, 1, 1).expand(1, 1, 3, 2, 2).contiguous()
    out = conv(x)  # [1, 1, 3, 2, 2]
    assert out[0, 0, :, 0, 0].tolist() == [1.5, 2.5, 0.5]


def test_scale_channels_scales_each_row_and_channel() -> None:
    y = torch.rand(2, 3, 2, 4, 4).contiguous(memory_format=torch.channels_last_3d)
    scale = torch.tensor([[0.0, 2.0, 1.0], [1.0, 0.0, 3.0]])
    expected = y * scale[:, :, None, None, None]
    torch.testing.assert_close(_scale_channels(y, scale, in_place=False), expected)
    assert torch.equal(_scale_channels(y.clone(), scale, in_place=True), expected)


@pytest.mark.parametrize(
    "kernel,stride", [((3, 3, 3), (1, 1, 1)), ((1, 3, 3), (1, 2, 2)), ((3, 3, 3), (2, 1, 1))]
)
def test_max_pool_same_padding_equals_padded_pooling(kernel, stride) -> None:
    pool = MaxPool3dSamePadding(kernel_size=kernel, stride=stride)
    x = torch.rand(2, 5, 3, 7, 6)
    expected = torch.nn.functional.max_pool3d(pad_same(x, kernel, stride), kernel, stride)
    assert torch.equal(pool(x), expected)
    assert pool(x).is_contiguous()


def test_unit3d_symmetric_padding_equals_pad_same() -> None:
    torch.manual_seed(2)
    unit = Unit3D(4, 6, kernel=(3, 3, 3)).eval()
    assert unit.symmetric and unit.conv3d.padding == (1, 1, 1)
    x = torch.rand(2, 4, 3, 5, 4)
    with torch.no_grad():
        padded = torch.nn.functional.conv3d(pad_same(x, (3, 3, 3), (1, 1, 1)), unit.conv3d.weight)
        expected = torch.relu(unit.bn(padded))
        torch.testing.assert_close(unit(x), expected)
    assert not Unit3D(4, 6, kernel=(3, 3, 3), stride=(2, 1, 1)).symmetric
