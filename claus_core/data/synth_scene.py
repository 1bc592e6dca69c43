"""Procedural drawing primitives shared by the synthetic benchmarks SynthUCF24 and SynthJHMDB21.

The paper evaluates on UCF-101-24 and J-HMDB-21 (supplementary Section 5, Tables 4-9). Their
videos are not shipped, so ``claus_core.data.synthetic`` renders synthetic pixels over the real
annotation geometry. This module holds the pieces both renderers use: stable per-video random
generators, textured backgrounds, camera trajectories, the textures and shapes of actors and
distractors, and alpha compositing. Everything works on float32 RGB canvases in ``[0, 1]``.

Coordinates: ``x`` is the column, ``y`` the row; a box is ``(x, y, w, h)`` in pixels with
``x, y`` its top-left corner (``claus_core.data.types``). A camera offset ``(ox, oy)`` is the
position of the frame's top-left corner inside the larger scene canvas, so a scene point at
canvas position ``p`` appears in the frame at ``p - offset``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Textures that identify an actor class (SynthUCF24) or dress a silhouette (SynthJHMDB21).
ACTOR_TEXTURES = ("bars_vertical", "bars_horizontal", "bars_diagonal", "checker", "dots", "rings")
# Shapes an actor or distractor outline can take; the shape is inscribed in its box.
SHAPES = ("ellipse", "box", "diamond", "cross")
# Textures reserved for distractors: no class actor ever wears them.
DISTRACTOR_TEXTURES = ("speckle", "gradient")
# Internal motions of actors (rendered-frame time scale); distractors are rigid.
MOTIONS = ("pulse", "scroll", "sway")

_MOTION_PERIOD = 6.0  # rendered frames per cycle of "pulse" and "sway"
_SCROLL_SPEED = 0.2  # texture periods per rendered frame for "scroll"


def stable_seed(*parts: str | int) -> int:
    """A 63-bit integer from ``parts`` that is the same on every run and machine.

    Python's ``hash()`` of a string is salted per process, so per-video generators are derived
    from SHA-256 of the parts instead.
    """
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def video_rng(seed: int, dataset: str, name: str) -> np.random.Generator:
    """The generator that draws every random choice of one video (independent of render order)."""
    return np.random.default_rng(stable_seed(seed, dataset, name))


def hsv_to_rgb(hue: float, saturation: float, value: float) -> np.ndarray:  # [3] float32
    """One HSV colour (all components in ``[0, 1]``) as RGB in ``[0, 1]``."""
    h6 = (hue % 1.0) * 6.0
    sector = int(h6) % 6
    frac = h6 - int(h6)
    p = value * (1.0 - saturation)
    q = value * (1.0 - saturation * frac)
    t = value * (1.0 - saturation * (1.0 - frac))
    rgb = [(value, t, p), (q, value, p), (p, value, t), (p, q, value), (t, p, value), (value, p, q)]
    return np.array(rgb[sector], dtype=np.float32)


def contrasting_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A dark and a bright colour of random hues: the two tones of an actor's texture."""
    dark = hsv_to_rgb(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.08, 0.3))
    bright = hsv_to_rgb(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.75, 1.0))
    return dark, bright


def _interpolation_matrix(size: int, cells: int) -> np.ndarray:  # [size, cells + 1] float32
    """Linear interpolation from ``cells + 1`` grid knots to ``size`` pixel centres."""
    position = (np.arange(size, dtype=np.float32) + 0.5) / size * cells  # [size]
    knots = np.arange(cells + 1, dtype=np.float32)  # [cells + 1]
    return np.clip(1.0 - np.abs(position[:, None] - knots[None, :]), 0.0, 1.0)


def smooth_field(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Value noise: random knots on a ``cells x cells`` grid, bilinearly interpolated.

    Returns ``[height, width]`` float32 in ``[0, 1]``.
    """
    knots = rng.random((cells + 1, cells + 1)).astype(np.float32)  # [cells + 1, cells + 1]
    rows = _interpolation_matrix(height, cells)  # [H, cells + 1]
    cols = _interpolation_matrix(width, cells)  # [W, cells + 1]
    return rows @ knots @ cols.T


def background_canvas(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A textured scene: smooth colour regions, fine grain and a few flat static objects.

    Colours are muted (mid value, low saturation) so actors, silhouettes and distractors, which
    use a dark and a bright tone, stand out by texture contrast rather than by one colour.
    Returns ``[height, width, 3]`` float32 in ``[0, 1]``.
    """
    palette = np.stack(
        [
            hsv_to_rgb(rng.random(), rng.uniform(0.05, 0.5), rng.uniform(0.35, 0.75))
            for _ in range(3)
        ]
    )  # [3, 3]
    cells = max(2, min(height, width) // 12)
    weights = np.stack([smooth_field(rng, height, width, cells) for _ in range(3)])  # [3, H, W]
    weights = weights**3
    weights /= weights.sum(axis=0, keepdims=True)
    canvas = np.einsum("khw,kc->hwc", weights, palette)  # [H, W, 3]
    grain = smooth_field(rng, height, width, max(2, min(height, width) // 2)) - 0.5  # [H, W]
    canvas += 0.12 * grain[:, :, None]
    for _ in range(int(rng.integers(2, 5))):
        colour = hsv_to_rgb(rng.random(), rng.uniform(0.05, 0.5), rng.uniform(0.25, 0.85))
        w = rng.uniform(0.1, 0.35) * width
        h = rng.uniform(0.1, 0.35) * height
        box = (rng.uniform(-0.1, 1.0) * width, rng.uniform(-0.1, 1.0) * height, w, h)
        shape = str(rng.choice(("ellipse", "box")))
        region = _box_region(box, height, width)
        if region is None:
            continue
        ys, xs, u, v = region
        alpha = _shape_alpha(shape, u, v, scale=1.0, radius_px=min(w, h) / 2)
        patch = canvas[ys, xs]
        canvas[ys, xs] = patch + alpha[:, :, None] * (colour - patch)
    return np.clip(canvas, 0.0, 1.0)


def camera_offsets(
    rng: np.random.Generator, num_frames: int, margin: int, *, moving: bool
) -> np.ndarray:  # [frame, 2] float32: (ox, oy) of the frame inside the canvas
    """Where the frame window sits in a scene canvas that is ``margin`` pixels larger per side.

    A static camera stays centred (``(margin, margin)`` on every frame). A moving camera pans
    on a smooth path (one sinusoid per axis with random period and phase, spanning the whole
    margin) plus about one pixel of hand-held jitter.
    """
    centred = np.full((num_frames, 2), float(margin), dtype=np.float32)
    if not moving or margin == 0:
        return centred
    t = np.arange(num_frames, dtype=np.float32)
    period = rng.uniform(14.0, 30.0, size=2)
    phase = rng.uniform(0.0, 2 * np.pi, size=2)
    path = np.sin(2 * np.pi * t[:, None] / period[None, :] + phase[None, :])  # [frame, 2]
    jitter = rng.uniform(-1.0, 1.0, size=(num_frames, 2))
    offsets = margin + (margin - 1.0) * path + jitter
    return np.clip(offsets, 0.0, 2.0 * margin).astype(np.float32)


def crop(canvas: np.ndarray, offset: np.ndarray, height: int, width: int) -> np.ndarray:
    """The ``height x width`` window of ``canvas`` at ``offset`` (rounded to whole pixels)."""
    ox, oy = (int(round(float(o))) for o in offset)
    return canvas[oy : oy + height, ox : ox + width].copy()


def _box_region(
    box: Sequence[float] | np.ndarray, height: int, width: int
) -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
    """Pixels covering ``box`` (clipped to the frame) and their normalized box coordinates.

    Returns row and column slices and ``u, v`` (``[rows, cols]``, -1 .. 1 across the box), or
    None when the box lies outside the frame or is empty.
    """
    x, y, w, h = (float(b) for b in box)
    if w <= 0 or h <= 0:
        return None
    x0, x1 = max(0, int(np.floor(x))), min(width, int(np.ceil(x + w)))
    y0, y1 = max(0, int(np.floor(y))), min(height, int(np.ceil(y + h)))
    if x1 <= x0 or y1 <= y0:
        return None
    cols = (np.arange(x0, x1, dtype=np.float32) + 0.5 - (x + w / 2)) / (w / 2)  # [cols]
    rows = (np.arange(y0, y1, dtype=np.float32) + 0.5 - (y + h / 2)) / (h / 2)  # [rows]
    u, v = np.meshgrid(cols, rows)
    return slice(y0, y1), slice(x0, x1), u, v


def _shape_alpha(
    shape: str, u: np.ndarray, v: np.ndarray, *, scale: float, radius_px: float
) -> np.ndarray:  # [rows, cols] float32 coverage in [0, 1]
    """Anti-aliased coverage of ``shape`` (inscribed in the box, shrunk by ``scale``)."""
    au, av = np.abs(u), np.abs(v)
    if shape == "ellipse":
        distance = np.sqrt(u * u + v * v)
    elif shape == "box":
        distance = np.maximum(au, av)
    elif shape == "diamond":
        distance = (au + av) / 1.4
    elif shape == "cross":
        distance = np.minimum(np.maximum(2.2 * au, av), np.maximum(au, 2.2 * av))
    else:
        raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")
    return np.clip(0.5 + (scale - distance) * max(radius_px, 1.0), 0.0, 1.0).astype(np.float32)


def pattern(
    kind: str,
    dx: np.ndarray,
    dy: np.ndarray,
    *,
    period: float,
    angle: float,
    phase: float,
) -> np.ndarray:  # [rows, cols] float32 in [0, 1]: 1 = bright tone
    """A two-tone texture at pixel offsets ``dx, dy`` from the object's centre.

    ``angle`` rotates the texture (radians), ``phase`` shifts it along its first axis (in
    periods; ``rings`` grow outwards with it).
    """
    c, s = np.cos(angle), np.sin(angle)
    along = (dx * c + dy * s) / period + phase
    across = (-dx * s + dy * c) / period
    if kind == "bars_vertical":
        out = (along % 1.0) < 0.5
    elif kind == "bars_horizontal":
        out = ((across + phase) % 1.0) < 0.5
    elif kind == "bars_diagonal":
        out = (((along + across) / np.sqrt(2.0)) % 1.0) < 0.5
    elif kind == "checker":
        out = (np.floor(along) + np.floor(across)) % 2 == 0
    elif kind == "dots":
        out = ((along % 1.0) - 0.5) ** 2 + ((across % 1.0) - 0.5) ** 2 < 0.1
    elif kind == "rings":
        out = ((np.sqrt(dx * dx + dy * dy) / period - phase) % 1.0) < 0.5
    else:
        raise ValueError(f"unknown texture {kind!r}; expected one of {ACTOR_TEXTURES}")
    return out.astype(np.float32)


@dataclass(frozen=True)
class ActorStyle:
    """How one actor (one GT tube of SynthUCF24) looks and moves.

    ``shape``, ``texture`` and ``motion`` come from the class; colours, texture period, angle
    jitter, contrast and phases are drawn per tube.
    """

    shape: str
    texture: str
    motion: str
    dark: np.ndarray  # [3]
    bright: np.ndarray  # [3]
    period_px: float
    angle: float
    contrast: float
    texture_phase: float
    motion_phase: float


def draw_actor(canvas: np.ndarray, box: np.ndarray, style: ActorStyle, t: int) -> np.ndarray:
    """Composite one actor into ``canvas`` (in place) at rendered frame ``t``.

    Internal motion: ``pulse`` breathes the outline between 75 % and 100 % of the box,
    ``sway`` rocks the body sideways by up to 15 % of the box width, ``scroll`` moves the
    texture through a fixed outline. Returns the actor's ``[H, W]`` float32 coverage.
    """
    height, width = canvas.shape[:2]
    coverage = np.zeros((height, width), dtype=np.float32)
    region = _box_region(box, height, width)
    if region is None:
        return coverage
    ys, xs, u, v = region
    cycle = np.sin(2 * np.pi * t / _MOTION_PERIOD + style.motion_phase)
    scale, shift, texture_phase = 1.0, 0.0, style.texture_phase
    if style.motion == "pulse":
        scale = 0.875 + 0.125 * cycle
    elif style.motion == "sway":
        scale, shift = 0.85, 0.15 * cycle
    elif style.motion == "scroll":
        texture_phase += _SCROLL_SPEED * t
    else:
        raise ValueError(f"unknown motion {style.motion!r}; expected one of {MOTIONS}")
    w, h = float(box[2]), float(box[3])
    alpha = _shape_alpha(style.shape, u - shift, v, scale=scale, radius_px=min(w, h) / 2)
    tone = pattern(
        style.texture,
        (u - shift) * w / 2,
        v * h / 2,
        period=style.period_px,
        angle=style.angle,
        phase=texture_phase,
    )
    tone = 0.5 + style.contrast * (tone - 0.5)
    colour = style.dark + tone[:, :, None] * (style.bright - style.dark)  # [rows, cols, 3]
    patch = canvas[ys, xs]
    canvas[ys, xs] = patch + alpha[:, :, None] * (colour - patch)
    coverage[ys, xs] = alpha
    return coverage


@dataclass(frozen=True)
class Distractor:
    """A rigid moving object that is not an action: never labeled, never a class texture."""

    shape: str
    texture: str  # one of DISTRACTOR_TEXTURES
    dark: np.ndarray  # [3]
    bright: np.ndarray  # [3]
    size: tuple[float, float]  # (w, h) in pixels
    speckle: np.ndarray  # [rows, cols] float32 in {0, 1}: the stored pattern of "speckle"
    angle: float
    boxes: np.ndarray  # [frame, 4] x, y, w, h in frame pixels
    visible: np.ndarray  # [frame] bool: False where it would touch a GT box


def random_distractor_look(
    rng: np.random.Generator, frame_size: int
) -> tuple[str, str, np.ndarray, np.ndarray, tuple[float, float], np.ndarray, float]:
    """Shape, texture, colours, size, speckle pattern and angle of one distractor."""
    shape = str(rng.choice(SHAPES))
    texture = str(rng.choice(DISTRACTOR_TEXTURES))
    dark, bright = contrasting_colours(rng)
    size = (
        float(rng.uniform(0.1, 0.25) * frame_size),
        float(rng.uniform(0.1, 0.3) * frame_size),
    )
    speckle = (rng.random((8, 8)) < 0.5).astype(np.float32)
    return shape, texture, dark, bright, size, speckle, float(rng.uniform(0, np.pi))


def plan_distractor_path(
    rng: np.random.Generator,
    *,
    size: tuple[float, float],
    num_frames: int,
    canvas_size: int,
    offsets: np.ndarray,
    forbidden: Sequence[np.ndarray],
    tries: int = 12,
) -> tuple[np.ndarray, np.ndarray]:
    """A straight, wall-bouncing path in the scene canvas for a distractor that avoids GT boxes.

    ``canvas_size`` is the side of the square scene canvas, ``offsets`` the camera path (``[frame, 2]``), ``forbidden[t]`` the ``[k, 4]`` GT boxes
    of frame ``t`` (frame pixels). Of ``tries`` random paths the one that touches the GT boxes
    (grown by one pixel) on the fewest frames wins; it is hidden on those frames. Returns its
    ``[frame, 4]`` frame boxes and ``[frame]`` visibility.
    """
    if tries < 1:
        raise ValueError(f"tries must be at least 1, got {tries}")
    w, h = size
    span = float(canvas_size)
    best_boxes = np.zeros((num_frames, 4), dtype=np.float32)
    best_visible = np.zeros(num_frames, dtype=bool)
    best_hidden = num_frames + 1
    for _ in range(tries):
        start = rng.uniform([0.0, 0.0], [span - w, span - h])
        speed = rng.uniform(0.5, 2.0)
        heading = rng.uniform(0.0, 2 * np.pi)
        velocity = speed * np.array([np.cos(heading), np.sin(heading)])
        positions = _bounce(start, velocity, num_frames, (span - w, span - h))  # [frame, 2]
        xy = positions - offsets  # [frame, 2] in frame pixels
        boxes = np.concatenate([xy, np.tile([w, h], (num_frames, 1))], axis=1)
        visible = np.array(
            [not _touches_any(boxes[t], forbidden[t]) for t in range(num_frames)], dtype=bool
        )
        hidden = int((~visible).sum())
        if hidden < best_hidden:
            best_boxes, best_visible, best_hidden = boxes.astype(np.float32), visible, hidden
        if hidden == 0:
            break
    return best_boxes, best_visible


def _bounce(
    start: np.ndarray, velocity: np.ndarray, num_frames: int, limit: tuple[float, float]
) -> np.ndarray:  # [frame, 2]
    """Constant-velocity positions reflected off the walls ``[0, limit]`` per axis."""
    t = np.arange(num_frames, dtype=np.float64)[:, None]
    limits = np.maximum(np.array(limit, dtype=np.float64), 1e-6)
    raw = start[None, :] + velocity[None, :] * t
    folded = np.mod(raw, 2 * limits)
    return np.where(folded > limits, 2 * limits - folded, folded)


def _touches_any(box: np.ndarray, others: np.ndarray) -> bool:
    """Whether ``box`` overlaps any of ``others`` grown by one pixel on every side."""
    if len(others) == 0:
        return False
    x, y, w, h = box
    ox, oy, ow, oh = others[:, 0] - 1, others[:, 1] - 1, others[:, 2] + 2, others[:, 3] + 2
    overlap = (x < ox + ow) & (ox < x + w) & (y < oy + oh) & (oy < y + h)
    return bool(overlap.any())


def draw_distractor(canvas: np.ndarray, distractor: Distractor, t: int) -> np.ndarray:
    """Composite a distractor on frame ``t`` (in place); returns its ``[H, W]`` coverage."""
    height, width = canvas.shape[:2]
    coverage = np.zeros((height, width), dtype=np.float32)
    if not distractor.visible[t]:
        return coverage
    box = distractor.boxes[t]
    region = _box_region(box, height, width)
    if region is None:
        return coverage
    ys, xs, u, v = region
    w, h = distractor.size
    alpha = _shape_alpha(distractor.shape, u, v, scale=1.0, radius_px=min(w, h) / 2)
    if distractor.texture == "speckle":
        cells = distractor.speckle.shape[0]
        rows = np.clip(((v + 1) / 2 * cells).astype(int), 0, cells - 1)
        cols = np.clip(((u + 1) / 2 * cells).astype(int), 0, cells - 1)
        tone = distractor.speckle[rows, cols]
    else:
        ramp = u * np.cos(distractor.angle) + v * np.sin(distractor.angle)
        tone = np.clip(0.5 + 0.5 * ramp, 0.0, 1.0)
    colour = distractor.dark + tone[:, :, None] * (distractor.bright - distractor.dark)
    patch = canvas[ys, xs]
    canvas[ys, xs] = patch + alpha[:, :, None] * (colour - patch)
    coverage[ys, xs] = alpha
    return coverage


def finish_frames(
    rng: np.random.Generator, frames: np.ndarray, *, noise_std: float, gain: float
) -> np.ndarray:  # [frame, H, W, 3] uint8
    """Apply a global gain and Gaussian pixel noise (``noise_std`` in 0-255 grey levels)."""
    out = frames * (255.0 * gain)
    if noise_std > 0:
        out += rng.normal(0.0, noise_std, size=frames.shape).astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
