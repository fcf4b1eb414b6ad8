"""Seeded synthetic street scenes with consistent image, depth, semantics and instances.

A scene is rendered with a pinhole camera at height ``camera.height`` above a flat ground plane,
looking along the road with zero pitch, so the horizon is the image row ``v0``:

- the **ground** at image row ``v`` (pixel centre ``v + 0.5 > v0``) lies at depth
  ``Z = fy * height / (v + 0.5 - v0)``; it is split into road (with lane markings), sidewalks
  (with paving) and terrain by its lateral position ``X = (u + 0.5 - u0) * Z / fx``;
- **buildings and vegetation** line the street as vertical planes parallel to the road (their
  depth varies along the street) and close it with a fronto-parallel backdrop;
- **objects** (cars, buses, trucks, persons, traffic lights, stop signs, street lamps, trees)
  are fronto-parallel cut-outs standing on the ground at depth ``Z``: their foot is at row
  ``v0 + fy * height / Z`` and their size is ``f * metres / Z``, so nearer objects are larger,
  lower in the image and have a larger disparity;
- the **sky** has no depth (disparity invalid).

Everything is drawn into a z-buffer, far to near, so the depth map, the Cityscapes label map and
the instance map agree pixel for pixel: an object's visible pixels are exactly those where it is
the nearest surface. Disparity is ``fx * baseline / Z`` (noise-free). Textures (asphalt noise,
paving, windows, foliage, clothing stripes), distance haze, a slight optical blur and sensor
noise give a compression model something to do. Only numpy and Pillow are used.

The same seed gives the same scene, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

from .labels import cityscapes_label, label_ids_to_train_ids

__all__ = ["Camera", "Instance", "Scene", "SeedLike", "make_scene"]

SeedLike = int | Sequence[int] | np.random.Generator

# Cityscapes' stereo rig (camera/*.json of the real dataset), for 2048 x 1024 images.
_CS_FX = 2262.52
_CS_FY = 2265.3017905988554
_CS_U0 = 1096.98
_CS_WIDTH = 2048
_CS_BASELINE = 0.209313
_CS_HEIGHT = 1.22  # camera height above the road, metres (extrinsic "z")

_MIN_SIZE = 16


@dataclass(frozen=True)
class Camera:
    """Pinhole stereo camera with zero pitch/roll/yaw; the horizon is image row ``v0``.

    Intrinsics are in pixels of the rendered image, so ``depth = baseline * fx / disparity``
    holds for disparities measured on that image.
    """

    fx: float
    fy: float
    u0: float
    v0: float
    height: float = _CS_HEIGHT
    baseline: float = _CS_BASELINE

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "height", "baseline"):
            if not getattr(self, name) > 0:
                raise ValueError(f"camera {name} must be positive, got {getattr(self, name)}")

    @classmethod
    def cityscapes(cls, size: tuple[int, int], horizon: float = 0.45) -> Camera:
        """The Cityscapes rig scaled to an image of ``size = (height, width)`` pixels.

        Focal lengths and ``u0`` scale with the width (square pixels as in the real camera);
        ``v0`` is put at ``horizon * height`` (the real rig is pitched; here pitch is zero and
        the principal row is the horizon).
        """
        h, w = _check_size(size)
        if not 0.0 < horizon < 1.0:
            raise ValueError(f"horizon must be a fraction of the height in (0, 1), got {horizon}")
        s = w / _CS_WIDTH
        return cls(
            fx=_CS_FX * s, fy=_CS_FY * s, u0=w / 2 + (_CS_U0 - _CS_WIDTH / 2) * s, v0=horizon * h
        )

    @classmethod
    def sample(cls, rng: np.random.Generator, size: tuple[int, int]) -> Camera:
        """A random plausible camera (field of view, horizon row, height) for ``size``."""
        h, w = _check_size(size)
        f = w * rng.uniform(0.9, 1.4)
        return cls(
            fx=f, fy=f, u0=w / 2, v0=h * rng.uniform(0.36, 0.52), height=rng.uniform(1.2, 1.8)
        )

    def disparity(self, depth: np.ndarray) -> np.ndarray:
        """Disparity in pixels, ``fx * baseline / depth`` (0 where the depth is infinite)."""
        depth = np.asarray(depth, dtype=np.float64)
        with np.errstate(divide="ignore"):
            d = np.where(np.isfinite(depth) & (depth > 0), self.fx * self.baseline / depth, 0.0)
        return d

    def depth(self, disparity: np.ndarray) -> np.ndarray:
        """Depth in metres, ``fx * baseline / disparity`` (inf where the disparity is 0)."""
        disparity = np.asarray(disparity, dtype=np.float64)
        with np.errstate(divide="ignore"):
            return np.where(disparity > 0, self.fx * self.baseline / disparity, np.inf)

    def ground_depth(self, rows: np.ndarray) -> np.ndarray:
        """Depth of the ground plane at pixel rows ``rows`` (inf at and above the horizon)."""
        dv = np.asarray(rows, dtype=np.float64) + 0.5 - self.v0
        with np.errstate(divide="ignore"):
            return np.where(dv > 0, self.fy * self.height / dv, np.inf)

    def to_cityscapes_json(self) -> dict[str, dict[str, float]]:
        """The camera in the layout of Cityscapes' ``camera/*_camera.json`` files."""
        return {
            "extrinsic": {
                "baseline": float(self.baseline),
                "pitch": 0.0,
                "roll": 0.0,
                "x": 1.7,
                "y": 0.1,
                "yaw": 0.0,
                "z": float(self.height),
            },
            "intrinsic": {
                "fx": float(self.fx),
                "fy": float(self.fy),
                "u0": float(self.u0),
                "v0": float(self.v0),
            },
        }


@dataclass
class Instance:
    """One object instance of a scene.

    ``label`` is its Cityscapes label name and ``coco_category_id`` its COCO category (None for
    classes COCO does not annotate). ``box`` is the projected extent ``(x0, y0, x1, y1)`` of
    the object's cut-out in pixels, unoccluded and unclipped (it may reach outside the image;
    ``y1`` is the row of its foot on the ground); ``area`` counts its visible pixels, which are
    ``scene.instance_map == index + 1``.
    """

    label: str
    coco_category_id: int | None
    depth: float
    box: tuple[float, float, float, float]
    area: int = 0

    @property
    def label_id(self) -> int:
        return cityscapes_label(self.label).id

    @property
    def has_cityscapes_instance(self) -> bool:
        """Whether Cityscapes gives this class instance ids (cars, persons, ...)."""
        return cityscapes_label(self.label).hasInstances


@dataclass
class Scene:
    """A rendered scene: all maps are ``(H, W)`` (the image ``(H, W, 3)``) and agree pixelwise.

    - ``image``: uint8 RGB.
    - ``depth``: float32 metres along the optical axis; ``inf`` where there is no scene
      surface (sky, ego vehicle).
    - ``disparity``: float32 pixels, ``camera.fx * camera.baseline / depth``; 0 = invalid (sky,
      ego vehicle, the left border a stereo matcher cannot see).
    - ``label_ids``: uint8 Cityscapes label ids.
    - ``instance_map``: int32, ``k + 1`` on the visible pixels of ``instances[k]``, else 0.
    """

    image: np.ndarray
    depth: np.ndarray
    disparity: np.ndarray
    label_ids: np.ndarray
    instance_map: np.ndarray
    instances: list[Instance]
    camera: Camera

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return int(self.image.shape[0]), int(self.image.shape[1])

    def train_ids(self) -> np.ndarray:
        """Cityscapes train ids (0..18, 255 = ignore) as uint8."""
        return label_ids_to_train_ids(self.label_ids)

    def instance_mask(self, index: int) -> np.ndarray:
        """Boolean mask of the visible pixels of ``instances[index]``."""
        if not 0 <= index < len(self.instances):
            raise ValueError(f"instance index {index} out of range 0..{len(self.instances) - 1}")
        return self.instance_map == index + 1

    def cityscapes_instance_ids(self) -> np.ndarray:
        """The ``gtFine_instanceIds`` map: ``label_id * 1000 + n`` on pixels of the n-th
        instance of a class with Cityscapes instances, the label id elsewhere (int32)."""
        out = self.label_ids.astype(np.int32)
        counters: dict[int, int] = {}
        for k, inst in enumerate(self.instances):
            if not inst.has_cityscapes_instance:
                continue
            lid = inst.label_id
            n = counters.get(lid, 0)
            counters[lid] = n + 1
            out[self.instance_map == k + 1] = lid * 1000 + n
        return out


def _check_size(size: Sequence[int]) -> tuple[int, int]:
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (height, width), got {size!r}") from None
    if h < _MIN_SIZE or w < _MIN_SIZE:
        raise ValueError(f"size must be at least {_MIN_SIZE}x{_MIN_SIZE} pixels, got {h}x{w}")
    return h, w


# --------------------------------------------------------------------------------------------
# texture helpers


class _ValueNoise:
    """Smooth 2-D value noise in [-1, 1], anchored in world coordinates (seeded, tileable)."""

    def __init__(self, rng: np.random.Generator, n: int = 64) -> None:
        self.n = n
        self.table = rng.uniform(-1.0, 1.0, (n, n)).astype(np.float64)

    def __call__(self, x: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
        gx = np.nan_to_num(np.asarray(x, np.float64) / scale, posinf=0.0, neginf=0.0)
        gy = np.nan_to_num(np.asarray(y, np.float64) / scale, posinf=0.0, neginf=0.0)
        x0, y0 = np.floor(gx), np.floor(gy)
        tx, ty = gx - x0, gy - y0
        tx, ty = tx * tx * (3 - 2 * tx), ty * ty * (3 - 2 * ty)
        i0 = x0.astype(np.int64) % self.n
        j0 = y0.astype(np.int64) % self.n
        i1, j1 = (i0 + 1) % self.n, (j0 + 1) % self.n
        t = self.table
        top = t[j0, i0] * (1 - tx) + t[j0, i1] * tx
        bot = t[j1, i0] * (1 - tx) + t[j1, i1] * tx
        return top * (1 - ty) + bot * ty

    def fractal(self, x: np.ndarray, y: np.ndarray, scale: float, octaves: int = 3) -> np.ndarray:
        out = np.zeros(np.broadcast(x, y).shape)
        amp, total = 1.0, 0.0
        for o in range(octaves):
            out = out + amp * self(x + 17.3 * o, y - 9.1 * o, scale / 2**o)
            total += amp
            amp *= 0.5
        return out / total


def _rgb(base: Sequence[float], shade: np.ndarray) -> np.ndarray:
    """``base`` colour modulated by a per-pixel factor: an ``(..., 3)`` float array."""
    return np.asarray(base, np.float64)[None, None, :] * shade[..., None]


def _palette(rng: np.random.Generator, colours: Sequence[Sequence[int]]) -> np.ndarray:
    c = np.asarray(colours[int(rng.integers(len(colours)))], np.float64)
    return np.clip(c * rng.uniform(0.85, 1.15) + rng.normal(0, 6, 3), 0, 255)


_CAR_COLOURS = [
    (200, 200, 205),
    (30, 30, 35),
    (120, 120, 125),
    (150, 20, 25),
    (20, 45, 110),
    (225, 225, 220),
    (60, 90, 60),
    (180, 140, 40),
    (90, 60, 40),
    (40, 100, 150),
]
_CLOTH_COLOURS = [
    (30, 30, 40),
    (200, 30, 40),
    (40, 60, 140),
    (230, 230, 225),
    (90, 90, 95),
    (40, 110, 60),
    (200, 170, 40),
    (120, 70, 40),
    (150, 60, 150),
    (20, 130, 160),
]
_SKIN_COLOURS = [(240, 200, 170), (200, 150, 110), (150, 100, 70), (100, 65, 45)]
_WALL_COLOURS = [
    (190, 180, 160),
    (150, 140, 130),
    (160, 90, 70),
    (210, 205, 195),
    (120, 115, 110),
    (180, 160, 120),
    (140, 150, 160),
]


# --------------------------------------------------------------------------------------------
# the z-buffer canvas


class _Canvas:
    def __init__(self, h: int, w: int) -> None:
        self.h, self.w = h, w
        self.z = np.full((h, w), np.inf)
        self.label = np.zeros((h, w), np.uint8)
        self.inst = np.zeros((h, w), np.int32)
        self.colour = np.zeros((h, w, 3))
        self.instances: list[Instance] = []

    def paint(
        self,
        rows: slice,
        cols: slice,
        mask: np.ndarray,
        z: np.ndarray | float,
        label: str,
        colour: np.ndarray,
        inst: int = 0,
    ) -> None:
        """Write ``mask`` pixels of the window that are nearer than what is there."""
        zb = self.z[rows, cols]
        z_arr = np.broadcast_to(np.asarray(z, np.float64), mask.shape)
        win = mask & (z_arr < zb)
        if not win.any():
            return
        zb[win] = z_arr[win]
        self.label[rows, cols][win] = cityscapes_label(label).id
        self.inst[rows, cols][win] = inst
        self.colour[rows, cols][win] = np.broadcast_to(colour, mask.shape + (3,))[win]


@dataclass
class _Part:
    mask: np.ndarray
    colour: np.ndarray
    label: str
    coco: int | None = None


@dataclass
class _Object:
    kind: str
    x: float  # lateral position of the centre, metres (+ right)
    z: float  # depth, metres
    half_width: float
    height: float
    params: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# object shapes: functions of local metric coordinates (x right from the centre, y up from the
# ground), returning coloured parts


def _car_parts(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, p: dict) -> list[_Part]:
    w, h, paint = p["w"], p["h"], p["paint"]
    ax = np.abs(x)
    grain = 1 + 0.05 * rng.standard_normal(x.shape)
    if p["view"] == "back":
        hb = 0.55 * h
        wheel = (ax > w / 2 - 0.42) & (ax < w / 2 - 0.06) & (y < 0.38)
        corner = (ax > w / 2 - 0.12) & (y > hb - 0.12)
        rounded = (ax - (w / 2 - 0.12)) ** 2 + (y - (hb - 0.12)) ** 2 < 0.12**2
        body = (ax < w / 2) & (y >= 0.18) & (y < hb) & (~corner | rounded)
        cab_half = w / 2 * (0.9 - 0.22 * (y - hb) / (h - hb))
        cabin = (y >= hb) & (y < h) & (ax < cab_half)
        glass = cabin & (y > hb + 0.08) & (y < h - 0.07) & (ax < cab_half - 0.1)
        lamp = (y > hb - 0.24) & (y < hb - 0.07) & (ax > w / 2 - 0.4) & (ax < w / 2 - 0.06)
        plate = (y > 0.3) & (y < 0.46) & (ax < 0.26)
    else:  # side view, facing p["dir"]
        xs = x * p["dir"]
        wx = w / 2 - 0.85
        wheel = ((np.abs(xs) - wx) ** 2 + (y - 0.32) ** 2) < 0.32**2
        body = (np.abs(xs) < w / 2 - 0.05 * (y < 0.3)) & (y >= 0.2) & (y < 0.82)
        lo = -w / 2 + 1.0 + 0.9 * (y - 0.82)
        hi = w / 2 - 1.25 - 1.1 * (y - 0.82)
        cabin = (y >= 0.82) & (y < h) & (xs > lo) & (xs < hi)
        glass = cabin & (y > 0.88) & (y < h - 0.07) & (xs > lo + 0.1) & (xs < hi - 0.1)
        glass &= np.abs(xs - (lo + hi) / 2) > 0.05  # B-pillar
        lamp = (xs > w / 2 - 0.15) & (y > 0.55) & (y < 0.7)
        plate = np.zeros_like(body)
    mask = wheel | body | cabin
    shade = grain * (0.75 + 0.35 * np.clip(y / h, 0, 1))
    shade = shade + 0.25 * np.exp(-(((y - 0.7 * h) / 0.06) ** 2))  # highlight along the body
    colour = _rgb(paint, shade)
    colour[glass] = _rgb((40, 50, 60), grain * (0.8 + 0.5 * np.clip((y - 0.9) / h, 0, 1)))[glass]
    colour[lamp] = np.array([200.0, 20.0, 20.0])
    colour[plate] = _rgb((225, 225, 215), grain)[plate]
    colour[plate & (np.sin(x * 60) > 0.6)] = 40.0
    colour[wheel & ~body] = _rgb((25, 25, 28), grain)[wheel & ~body]
    return [_Part(mask, colour, "car", 3)]


def _bus_parts(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, p: dict) -> list[_Part]:
    w, h, paint = p["w"], p["h"], p["paint"]
    grain = 1 + 0.04 * rng.standard_normal(x.shape)
    ax = np.abs(x)
    if p["view"] == "back":
        wheel = (ax > w / 2 - 0.5) & (ax < w / 2 - 0.1) & (y < 0.5)
        body = (ax < w / 2) & (y >= 0.3) & (y < h)
        glass = (ax < w / 2 - 0.2) & (y > 0.62 * h) & (y < h - 0.25)
        lamp = (ax > w / 2 - 0.35) & (ax < w / 2 - 0.1) & (y > 0.8) & (y < 1.2)
    else:
        xs = x * p["dir"]
        wheel = ((np.abs(xs) - (w / 2 - 2.4)) ** 2 + (y - 0.5) ** 2) < 0.5**2
        body = (ax < w / 2) & (y >= 0.3) & (y < h)
        glass = (ax < w / 2 - 0.3) & (y > 1.35) & (y < h - 0.45)
        glass &= np.mod(xs, 1.4) > 0.12  # window pillars
        glass |= (xs > w / 2 - 1.6) & (xs < w / 2 - 0.6) & (y > 0.4) & (y < h - 0.45)  # door
        lamp = (xs > w / 2 - 0.12) & (y > 0.6) & (y < 0.9)
    mask = wheel | body
    colour = _rgb(paint, grain * (0.8 + 0.25 * np.clip(y / h, 0, 1)))
    stripe = (y > 0.9) & (y < 1.1)
    colour[stripe] = _rgb((240, 240, 240), grain)[stripe]
    colour[glass] = _rgb((35, 45, 55), grain * (0.8 + 0.4 * np.clip(y / h, 0, 1)))[glass]
    colour[lamp] = np.array([210.0, 40.0, 30.0])
    colour[wheel & (y < 0.35)] = 25.0
    label, coco = ("bus", 6) if p["kind"] == "bus" else ("truck", 8)
    if p["kind"] == "truck" and p["view"] == "side":
        # cab in front, cargo box behind, with a gap between them
        xs = x * p["dir"]
        cab = (xs > w / 2 - 2.2) & (y < 0.8 * h)
        box = (xs < w / 2 - 2.5) & (y >= 0.3)
        glass = (xs > w / 2 - 1.4) & (xs < w / 2 - 0.2) & (y > 0.5 * h) & (y < 0.75 * h)
        mask = wheel | cab | box
        colour = _rgb(paint, grain * (0.85 + 0.2 * np.clip(y / h, 0, 1)))
        colour[box] = _rgb((215, 215, 210), grain * (1 + 0.05 * np.sin(xs * 9)))[box]
        colour[glass] = _rgb((35, 45, 55), grain)[glass]
        colour[wheel & ~cab & ~box | (wheel & (y < 0.35))] = 25.0
    return [_Part(mask, colour, label, coco)]


def _person_parts(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, p: dict) -> list[_Part]:
    h = p["h"]
    grain = 1 + 0.06 * rng.standard_normal(x.shape)
    hip = 0.48 * h
    head = (x / 0.095) ** 2 + ((y - (h - 0.115)) / 0.115) ** 2 < 1
    neck = (np.abs(x) < 0.05) & (y > h - 0.28) & (y < h - 0.2)
    torso_half = 0.16 + 0.04 * np.clip((y - hip) / (h - 0.25 - hip), 0, 1)
    torso = (np.abs(x) < torso_half) & (y >= hip - 0.02) & (y < h - 0.22)
    swing = p["stride"] * (y - (h - 0.25)) / (h - 0.25)
    arms = (np.abs(np.abs(x + swing * np.sign(x)) - 0.235) < 0.045) & (y > hip - 0.08)
    arms &= y < h - 0.25
    lean = p["stride"] * (hip - y) / hip
    legs = (np.abs(x - 0.09 - lean) < 0.075) | (np.abs(x + 0.09 + lean) < 0.075)
    legs &= y < hip
    mask = head | neck | torso | arms | legs
    shirt = _rgb(p["shirt"], grain)
    if p["stripes"] > 0:
        shirt = shirt * (1 - 0.35 * (np.sin(y * p["stripes"]) > 0))[..., None]
    colour = shirt
    colour[legs] = _rgb(p["pants"], grain)[legs]
    skin = head | neck | (arms & (y < hip + 0.05))
    colour[skin] = _rgb(p["skin"], grain)[skin]
    hair = head & (y > h - 0.08)
    colour[hair] = _rgb(p["hair"], grain)[hair]
    return [_Part(mask, colour, "person", 1)]


def _traffic_light_parts(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, p: dict
) -> list[_Part]:
    hp = p["h"]
    grain = 1 + 0.05 * rng.standard_normal(x.shape)
    pole = (np.abs(x) < 0.07) & (y < hp - 0.9)
    box = (np.abs(x) < 0.17) & (y >= hp - 0.95) & (y < hp)
    box_colour = _rgb((35, 35, 30), grain)
    for k, lit in enumerate(((230, 30, 30), (240, 180, 20), (40, 220, 90))):
        cy = hp - 0.17 - 0.3 * k
        lamp = (x**2 + (y - cy) ** 2) < 0.1**2
        c = lit if k == p["state"] else tuple(v * 0.25 for v in lit)
        box_colour[lamp] = _rgb(c, grain)[lamp]
    return [
        _Part(pole, _rgb((110, 115, 110), grain), "pole"),
        _Part(box, box_colour, "traffic light", 10),
    ]


def _stop_sign_parts(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, p: dict
) -> list[_Part]:
    hs, r = p["h"], 0.38
    grain = 1 + 0.05 * rng.standard_normal(x.shape)
    cy = hs - r
    ax, ay = np.abs(x), np.abs(y - cy)
    sign = (ax <= r) & (ay <= r) & ((ax + ay) / math.sqrt(2) <= r)
    inner = (ax <= r - 0.04) & (ay <= r - 0.04) & ((ax + ay) / math.sqrt(2) <= r - 0.04)
    pole = (np.abs(x) < 0.045) & (y < cy)
    colour = _rgb((230, 230, 230), grain)
    colour[inner] = _rgb((190, 20, 25), grain)[inner]
    text = inner & (ay < 0.08) & (ax < 0.27) & (np.sin(x * 70) > -0.2)
    colour[text] = _rgb((235, 235, 235), grain)[text]
    return [
        _Part(pole, _rgb((140, 140, 140), grain), "pole"),
        _Part(sign, colour, "traffic sign", 13),
    ]


def _lamp_parts(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, p: dict) -> list[_Part]:
    hp, d = p["h"], p["dir"]
    grain = 1 + 0.05 * rng.standard_normal(x.shape)
    pole = (np.abs(x) < 0.08) & (y < hp)
    arm = (x * d > 0) & (x * d < 1.0) & (y > hp - 0.1) & (y < hp)
    head = (x * d > 0.7) & (x * d < 1.15) & (y > hp - 0.25) & (y < hp)
    return [_Part(pole | arm | head, _rgb((95, 100, 100), grain), "pole")]


def _tree_parts(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, p: dict) -> list[_Part]:
    th, r = p["trunk"], p["r"]
    trunk = (np.abs(x) < 0.15) & (y < th + 0.5)
    cy = th + 0.8 * r
    ang = np.arctan2(y - cy, x)
    bumpy = r * (1 + 0.12 * np.sin(5 * ang + p["phase"]) + 0.06 * np.sin(11 * ang))
    crown = np.hypot(x, y - cy) < bumpy
    leaves = p["noise"].fractal(x * 3 + p["phase"], y * 3, 0.8)
    grain = rng.standard_normal(x.shape)
    colour = _rgb(p["green"], 0.8 + 0.35 * leaves + 0.12 * grain)
    colour[trunk & ~crown] = _rgb((80, 60, 40), 1 + 0.1 * grain)[trunk & ~crown]
    return [_Part(trunk | crown, colour, "vegetation")]


_SHAPES = {
    "car": _car_parts,
    "bus": _bus_parts,
    "truck": _bus_parts,
    "person": _person_parts,
    "traffic light": _traffic_light_parts,
    "stop sign": _stop_sign_parts,
    "lamp": _lamp_parts,
    "tree": _tree_parts,
}


# --------------------------------------------------------------------------------------------
# scene layout


@dataclass
class _Street:
    centre: float  # lateral position of the road centre line, metres
    road_half: float
    sidewalk: float
    setback: tuple[float, float]  # (left, right) terrain between sidewalk and facade
    far: float  # depth of the backdrop that closes the street


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(lo * (hi / lo) ** rng.uniform())


def _layout(rng: np.random.Generator, st: _Street, noise: _ValueNoise) -> list[_Object]:
    objs: list[_Object] = []
    c, rh, sw = st.centre, st.road_half, st.sidewalk
    zmax = 0.7 * st.far

    def side() -> float:
        return float(rng.choice([-1.0, 1.0]))

    taken: list[tuple[float, float]] = []  # (lane x, z) of vehicles, to avoid stacking

    def free(x: float, z: float, gap: float) -> bool:
        return all(abs(x - tx) > 1.0 or abs(z - tz) > gap for tx, tz in taken)

    for _ in range(int(rng.integers(1, 6))):
        view = "back" if rng.uniform() < 0.7 else "side"
        if rng.uniform() < 0.6:
            x = c + side() * rh / 2 + rng.normal(0, 0.2)
        else:
            x = c + side() * (rh - 1.1)
        z = _log_uniform(rng, 4.0, min(60.0, zmax))
        w = rng.uniform(1.7, 1.95) if view == "back" else rng.uniform(3.9, 4.7)
        if not free(x, z, 6.0):
            continue
        taken.append((x, z))
        h = rng.uniform(1.4, 1.6)
        params = {"w": w, "h": h, "view": view, "dir": side(), "paint": _palette(rng, _CAR_COLOURS)}
        objs.append(_Object("car", x, z, w / 2, h, params))

    if rng.uniform() < 0.4:
        kind = "bus" if rng.uniform() < 0.5 else "truck"
        view = "back" if rng.uniform() < 0.5 else "side"
        x = c + side() * rh / 2
        # seen from the side (turning, crossing) only farther away, else it fills the view
        z = _log_uniform(rng, 10.0 if view == "back" else 20.0, min(70.0, zmax))
        if free(x, z, 14.0):
            w = rng.uniform(2.45, 2.55) if view == "back" else rng.uniform(8.0, 12.0)
            h = rng.uniform(3.0, 3.4) if kind == "bus" else rng.uniform(3.4, 3.8)
            paint = _palette(rng, [(230, 200, 30), (200, 40, 40), (240, 240, 240), (40, 90, 160)])
            params = {"w": w, "h": h, "view": view, "dir": side(), "paint": paint, "kind": kind}
            objs.append(_Object(kind, x, z, w / 2, h, params))

    for _ in range(int(rng.integers(0, 6))):
        if rng.uniform() < 0.15:
            x = c + rng.uniform(-rh + 0.5, rh - 0.5)  # crossing the road
        else:
            x = c + side() * rng.uniform(rh + 0.4, rh + sw - 0.3)
        z = _log_uniform(rng, 3.0, min(40.0, zmax))
        h = rng.uniform(1.55, 1.95)
        params = {
            "h": h,
            "stride": rng.uniform(-0.12, 0.12),
            "shirt": _palette(rng, _CLOTH_COLOURS),
            "pants": _palette(rng, _CLOTH_COLOURS[:3] + _CLOTH_COLOURS[4:5]),
            "skin": _palette(rng, _SKIN_COLOURS),
            "hair": _palette(rng, [(30, 25, 20), (90, 60, 30), (200, 170, 110), (120, 120, 120)]),
            "stripes": float(rng.choice([0.0, 0.0, rng.uniform(25, 60)])),
        }
        objs.append(_Object("person", x, z, 0.32, h, params))

    for _ in range(int(rng.integers(0, 3))):
        x = c + side() * (rh + 0.45)
        h = rng.uniform(3.0, 4.5)
        params = {"h": h, "state": int(rng.integers(3))}
        objs.append(_Object("traffic light", x, _log_uniform(rng, 6.0, zmax), 0.17, h, params))

    if rng.uniform() < 0.35:
        x = c + side() * (rh + 0.4)
        params = {"h": rng.uniform(2.2, 2.6)}
        objs.append(
            _Object(
                "stop sign", x, _log_uniform(rng, 5.0, min(40.0, zmax)), 0.38, params["h"], params
            )
        )

    for _ in range(int(rng.integers(0, 3))):
        s = side()
        x = c + s * (rh + 0.3)
        params = {"h": rng.uniform(6.0, 8.0), "dir": -s}
        objs.append(_Object("lamp", x, _log_uniform(rng, 6.0, zmax), 1.15, params["h"], params))

    for _ in range(int(rng.integers(0, 5))):
        x = c + side() * (rh + sw - rng.uniform(0.4, 0.8))
        r = rng.uniform(1.2, 2.8)
        params = {
            "trunk": rng.uniform(1.8, 3.0),
            "r": r,
            "phase": rng.uniform(0, 2 * math.pi),
            "green": _palette(rng, [(60, 110, 40), (80, 130, 50), (50, 90, 45)]),
            "noise": noise,
        }
        h = params["trunk"] + 1.8 * r * 1.2
        objs.append(_Object("tree", x, _log_uniform(rng, 6.0, zmax), 1.2 * r, h, params))

    objs.sort(key=lambda o: -o.z)  # paint far to near
    return objs


# --------------------------------------------------------------------------------------------
# rendering


def _render_sky(cv: _Canvas, cam: Camera, rng: np.random.Generator, noise: _ValueNoise) -> None:
    vv = np.arange(cv.h)[:, None] + 0.5 + np.zeros((1, cv.w))
    uu = np.arange(cv.w)[None, :] + 0.5 + np.zeros((cv.h, 1))
    t = np.clip((cam.v0 - vv) / max(cam.v0, 1.0), 0, 1) ** 0.7
    horizon = np.array([205.0, 215, 225]) * rng.uniform(0.9, 1.05)
    zenith = np.array([70.0, 120, 190]) * rng.uniform(0.85, 1.1)
    colour = horizon * (1 - t[..., None]) + zenith * t[..., None]
    clouds = noise.fractal(uu / cv.w * 6 + rng.uniform(0, 50), vv / cv.h * 12, 1.0, octaves=4)
    cover = rng.uniform(0.0, 0.6)
    alpha = np.clip((clouds + cover - 0.3) * 1.8, 0, 0.85)[..., None]
    colour = colour * (1 - alpha) + np.array([245.0, 245, 248]) * alpha
    # the sky is the background: infinitely far, so it is set, not z-tested
    cv.label[:] = cityscapes_label("sky").id
    cv.colour[:] = colour


def _render_ground(
    cv: _Canvas, cam: Camera, st: _Street, rng: np.random.Generator, noise: _ValueNoise
) -> None:
    vv = np.arange(cv.h)[:, None] + 0.5 + np.zeros((1, cv.w))
    uu = np.arange(cv.w)[None, :] + 0.5 + np.zeros((cv.h, 1))
    below = vv > cam.v0
    with np.errstate(divide="ignore"):
        z = np.where(below, cam.fy * cam.height / np.maximum(vv - cam.v0, 1e-9), np.inf)
    z = np.minimum(z, 1e5)
    x = (uu - cam.u0) * z / cam.fx
    rel = x - st.centre
    arel = np.abs(rel)
    road = below & (arel < st.road_half)
    walk = below & (arel >= st.road_half) & (arel < st.road_half + st.sidewalk)
    terrain = below & ~road & ~walk
    grain = rng.standard_normal((cv.h, cv.w))
    fade = np.clip(cam.fx * 0.05 / z, 0, 1)  # contrast of fine patterns that shrink with depth

    asphalt = rng.uniform(70, 105)
    shade = 1 + 0.12 * noise.fractal(x, z, 3.0) + 0.07 * grain
    colour = _rgb((asphalt, asphalt, asphalt * 1.03), shade)
    dash = (np.mod(z + rng.uniform(0, 9), 9.0) < 4.5) & (np.abs(rel) < 0.08)
    edge = np.abs(arel - (st.road_half - 0.35)) < 0.07
    paint_mark = road & (dash | edge)
    mark_alpha = np.clip(cam.fx * 0.16 / z, 0, 1)[..., None]
    colour = np.where(paint_mark[..., None], colour * (1 - mark_alpha) + 225 * mark_alpha, colour)
    cv.paint(slice(None), slice(None), road, z, "road", colour)

    tile = rng.uniform(0.4, 0.7)
    lines = (np.mod(x, tile) < 0.04) | (np.mod(z, tile) < 0.04)
    walk_base = np.array([rng.uniform(150, 185)] * 3) * np.array([1.0, 0.97, 0.93])
    shade = 1 + 0.06 * noise.fractal(x * 2, z * 2, 1.0) + 0.06 * grain - 0.25 * lines * fade
    curb = arel < st.road_half + 0.2
    shade = np.where(curb, shade * 1.15, shade)
    cv.paint(slice(None), slice(None), walk, z, "sidewalk", _rgb(walk_base, shade))

    green = np.array([95.0, 130, 55]) * rng.uniform(0.8, 1.1)
    shade = 0.85 + 0.25 * noise.fractal(x * 3, z * 3, 1.0) + 0.15 * grain
    cv.paint(slice(None), slice(None), terrain, z, "terrain", _rgb(green, shade))


def _facade_colour(
    s: np.ndarray,
    t: np.ndarray,
    seg_height: np.ndarray,
    wall: np.ndarray,
    kind: np.ndarray,
    rng: np.random.Generator,
    noise: _ValueNoise,
    light: float,
) -> np.ndarray:
    """Colour of a facade point at position ``s`` along it and height ``t`` above the ground."""
    grain = rng.standard_normal(s.shape)
    shade = light * (1 + 0.08 * noise.fractal(s, t, 4.0) + 0.05 * grain)
    colour = wall * shade[..., None]
    win = (np.mod(s, 3.4) > 0.9) & (np.mod(s, 3.4) < 2.5) & (np.mod(t, 3.1) > 1.0)
    win &= (np.mod(t, 3.1) < 2.4) & (t > 2.8) & (t < seg_height - 0.8) & (kind == 0)
    glass_shade = 1 + 0.25 * noise(s * 3, t * 3, 1.0) + 0.05 * grain
    glass = np.array([55.0, 65, 80]) * glass_shade[..., None]
    colour = np.where(win[..., None], glass, colour)
    leaves = (
        np.array([65.0, 105, 45])
        * (0.75 + 0.35 * noise.fractal(s * 2, t * 2, 0.7) + 0.12 * grain)[..., None]
    )
    return np.where((kind == 1)[..., None], leaves, colour)


def _segments(
    rng: np.random.Generator, length: float, lo: float, hi: float, p_green: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random segments along a street side: (ends, heights, wall colours, kind 0/1/2)."""
    ends, heights, walls, kinds = [], [], [], []
    pos = 0.0
    while pos < length:
        pos += rng.uniform(lo, hi)
        u = rng.uniform()
        kind = 0 if u > p_green + 0.08 else (1 if u > 0.08 else 2)  # building / green / open
        ends.append(pos)
        heights.append(rng.uniform(7.0, 26.0) if kind == 0 else rng.uniform(3.0, 9.0))
        walls.append(_palette(rng, _WALL_COLOURS))
        kinds.append(kind)
    return np.array(ends), np.array(heights), np.array(walls), np.array(kinds)


def _render_buildings(
    cv: _Canvas, cam: Camera, st: _Street, rng: np.random.Generator, noise: _ValueNoise
) -> None:
    vv = np.arange(cv.h)[:, None] + 0.5 + np.zeros((1, cv.w))
    uu = np.arange(cv.w)[None, :] + 0.5 + np.zeros((cv.h, 1))
    du = uu - cam.u0
    sun = rng.uniform(0.75, 1.0)

    # backdrop closing the street: a fronto-parallel row of buildings and trees at depth `far`
    xb = du * st.far / cam.fx
    span = float(np.abs(xb).max()) + 1.0
    ends, heights, walls, kinds = _segments(rng, 2 * span, 8.0, 30.0, 0.25)
    idx = np.minimum(np.searchsorted(ends, xb + span), len(ends) - 1)
    kind = np.where(kinds[idx] == 2, 1, kinds[idx])  # no gaps in the backdrop
    seg_h = np.where(kind == 1, np.maximum(heights[idx], 6.0), heights[idx])
    # keep some sky above the end of the street: the backdrop stays below 30 % of v0
    seg_h = np.minimum(seg_h, cam.height + 0.7 * cam.v0 * st.far / cam.fy)
    t = cam.height - (vv - cam.v0) * st.far / cam.fy
    mask = (t >= 0) & (t < seg_h)
    colour = _facade_colour(xb, t, seg_h, walls[idx], kind, rng, noise, 0.9 * sun)
    labels = {0: "building", 1: "vegetation"}
    for k, name in labels.items():
        cv.paint(slice(None), slice(None), mask & (kind == k), st.far, name, colour)

    # facades along both sides, planes X = const parallel to the road
    for sgn, setback, light in ((-1.0, st.setback[0], sun), (1.0, st.setback[1], 0.8)):
        xf = st.centre + sgn * (st.road_half + st.sidewalk + setback)
        if xf * sgn <= 0.5:
            continue
        ok = du * sgn > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(ok, cam.fx * xf / np.where(ok, du, 1.0), np.inf)
        ends, heights, walls, kinds = _segments(rng, st.far, 6.0, 25.0, 0.3)
        idx = np.minimum(np.searchsorted(ends, np.minimum(z, st.far)), len(ends) - 1)
        seg_h, kind = heights[idx], kinds[idx]
        zf = np.where(np.isfinite(z), z, 1.0)
        t = cam.height - (vv - cam.v0) * zf / cam.fy
        mask = ok & (z < st.far) & (t >= 0) & (t < seg_h) & (kind != 2)
        colour = _facade_colour(zf * sgn, t, seg_h, walls[idx], kind, rng, noise, light)
        for k, name in labels.items():
            cv.paint(slice(None), slice(None), mask & (kind == k), z, name, colour)


def _render_object(cv: _Canvas, cam: Camera, obj: _Object, rng: np.random.Generator) -> None:
    sx, sy = cam.fx / obj.z, cam.fy / obj.z
    uc = cam.u0 + obj.x * sx
    vb = cam.v0 + cam.height * sy  # image row of the object's foot
    x0, x1 = uc - obj.half_width * sx, uc + obj.half_width * sx
    y0 = vb - obj.height * sy
    c0, c1 = max(0, math.floor(x0)), min(cv.w, math.ceil(x1))
    r0, r1 = max(0, math.floor(y0)), min(cv.h, math.ceil(vb))
    if c0 >= c1 or r0 >= r1:
        return
    uu = np.arange(c0, c1)[None, :] + 0.5
    vv = np.arange(r0, r1)[:, None] + 0.5
    x = np.broadcast_to((uu - uc) / sx, (r1 - r0, c1 - c0))
    y = np.broadcast_to((vb - vv) / sy, (r1 - r0, c1 - c0))
    parts = _SHAPES[obj.kind](x, y, rng, {**obj.params, "kind": obj.kind})
    rows, cols = slice(r0, r1), slice(c0, c1)
    records: dict[str, int] = {}
    for part in parts:
        inst = 0
        if part.coco is not None or cityscapes_label(part.label).hasInstances:
            if part.label not in records:
                cv.instances.append(
                    Instance(part.label, part.coco, float(obj.z), (x0, y0, x1, float(vb)))
                )
                records[part.label] = len(cv.instances)
            inst = records[part.label]
        cv.paint(rows, cols, part.mask & (y >= 0), obj.z, part.label, part.colour, inst)


def _render_ego(cv: _Canvas, rng: np.random.Generator) -> np.ndarray:
    """The hood of the recording car along the bottom edge (label 'ego vehicle')."""
    u = (np.arange(cv.w) + 0.5) / cv.w * 2 - 1
    top = cv.h * (1 - 0.09 + 0.06 * u**2)
    vv = np.arange(cv.h)[:, None] + 0.5
    mask = vv > top[None, :]
    shade = 0.6 + 0.4 * np.clip((vv - top[None, :]) / (0.1 * cv.h), 0, 1)
    shade = shade * (1 + 0.04 * rng.standard_normal((cv.h, cv.w)))
    colour = _rgb((60, 62, 68), shade)
    cv.paint(slice(None), slice(None), mask, 0.0, "ego vehicle", colour)
    return mask


def make_scene(
    size: tuple[int, int] = (128, 256),
    seed: SeedLike = 0,
    *,
    camera: Camera | None = None,
    ego_vehicle: bool = False,
    stereo_border: float = 0.0,
) -> Scene:
    """Render one random street scene.

    Args:
        size: ``(height, width)`` of the image in pixels (at least 16 x 16).
        seed: an int, a sequence of ints (e.g. ``(seed, split, index)``) or a numpy Generator;
            the same seed gives the same scene, bit for bit.
        camera: the camera; by default a plausible one is drawn from the seed
            (``Camera.sample``). Use ``Camera.cityscapes(size)`` for Cityscapes-like data.
        ego_vehicle: draw the recording car's hood along the bottom (Cityscapes' 'ego vehicle',
            train id 255, invalid disparity).
        stereo_border: fraction of the width, at the left, where the disparity is invalid
            (a stereo matcher finds no match there), in [0, 0.5).

    Returns:
        a :class:`Scene` whose image, depth, disparity, labels and instances agree.
    """
    h, w = _check_size(size)
    if not 0.0 <= stereo_border < 0.5:
        raise ValueError(f"stereo_border must be a fraction in [0, 0.5), got {stereo_border}")
    if isinstance(seed, (bool, float)) or (isinstance(seed, int) and seed < 0):
        raise ValueError(
            f"seed must be a non-negative int, a sequence of them or a Generator, got {seed!r}"
        )
    rng = np.random.default_rng(seed)
    cam = Camera.sample(rng, (h, w)) if camera is None else camera
    noise = _ValueNoise(rng)
    road_half = rng.uniform(3.0, 5.5)
    street = _Street(
        centre=float(rng.uniform(-0.6, 0.2) * road_half),
        road_half=road_half,
        sidewalk=rng.uniform(1.8, 3.5),
        setback=(rng.uniform(0.0, 3.0), rng.uniform(0.0, 3.0)),
        far=rng.uniform(70.0, 160.0),
    )
    cv = _Canvas(h, w)
    _render_sky(cv, cam, rng, noise)
    _render_buildings(cv, cam, street, rng, noise)
    _render_ground(cv, cam, street, rng, noise)
    for obj in _layout(rng, street, noise):
        _render_object(cv, cam, obj, rng)
    ego = _render_ego(cv, rng) if ego_vehicle else np.zeros((h, w), bool)

    # distance haze towards the horizon colour, then optics and sensor
    haze_depth = rng.uniform(250.0, 600.0)
    alpha = np.where(np.isfinite(cv.z), 1 - np.exp(-cv.z / haze_depth), 0.0)[..., None]
    haze = np.array([200.0, 210, 220])
    colour = cv.colour * (1 - alpha) + haze * alpha
    colour = colour * rng.uniform(0.85, 1.1)  # exposure
    img = Image.fromarray(np.clip(np.rint(colour), 0, 255).astype(np.uint8))
    img = img.filter(ImageFilter.GaussianBlur(radius=0.5))
    arr = np.asarray(img, dtype=np.float64) + rng.normal(0.0, 2.0, (h, w, 3))
    image = np.clip(np.rint(arr), 0, 255).astype(np.uint8)

    # keep visible instances only, numbered far to near
    areas = np.bincount(cv.inst.ravel(), minlength=len(cv.instances) + 1)
    remap = np.zeros(len(cv.instances) + 1, np.int32)
    instances: list[Instance] = []
    for k, inst in enumerate(cv.instances, start=1):
        if areas[k] > 0:
            inst.area = int(areas[k])
            instances.append(inst)
            remap[k] = len(instances)
    instance_map = remap[cv.inst]

    z = np.where(ego, np.inf, cv.z)
    valid = np.isfinite(z)
    valid[:, : int(round(stereo_border * w))] = False
    disparity = np.where(valid, cam.disparity(z), 0.0)
    return Scene(
        image=image,
        depth=z.astype(np.float32),
        disparity=disparity.astype(np.float32),
        label_ids=cv.label.copy(),
        instance_map=instance_map,
        instances=instances,
        camera=cam,
    )
