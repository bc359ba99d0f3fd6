"""Rendered scenes with MPI3D's factor layout: a shaded object held by a robot arm.

MPI3D (Gondal et al., 2019) is not obtainable here, so paper 000's §5.1 interventions run on scenes
rendered for any factor tuple of the same layout (``adcore.data.factors``): an object of 6 colours
x 6 shapes (cone, cube, cylinder, hexagonal prism, pyramid, sphere) x 2 sizes, held at the tip of
an arm that hangs from a ceiling column, yawed by ``horizontal_axis`` (40 steps over 70 degrees)
and pitched by ``vertical_axis`` (40 steps from 5 degrees above to 60 below horizontal), seen by a
camera at 3 heights (top, center, bottom) against a floor and back wall of 3 colours. The object
keeps one orientation (a cube always shows two faces) and moves with the arm's tip. An image is a
function of its factor tuple alone (and of ``seed`` when pixel noise is asked for).

How: analytic ray casting in batched torch, 2 x 2 samples per pixel. Every solid is a convex unit
shape (planes ``n.p <= d`` plus at most one quadric: sphere, cylinder or a cone's nappe) under a
per-image affine map, so one ray/convex-set routine intersects them all, exactly (no tessellation).
Shading is Lambertian from a fixed key light plus a fill light and ambient, with a Blinn-Phong
highlight, in linear light, then sRGB-encoded; a cube shows three tones, a sphere a gradient. There
are no cast shadows, so an intervention on the object changes object pixels only. Work is split by
what depends on what: the floor, wall, column and shoulder depend on the camera alone and are cast
once per camera; per distinct (camera, axes, shape, size) only the pixels inside the projected
bounding box of the arm's link, its wrist and the object are cast, each solid only in its own box
(exact: the tests compare with full-frame casting); colours are applied last, per image, as a
linear combination of per-material shading maps (shading is linear in albedo before the sRGB
encoding), so the colour and background variants of a scene cost no casting.

Speed, one core (``python benchmarks/scene_render.py``, torch 2.14, on this project's 2-core
machine while other work kept its load near 6): 500-560 images/s when every tuple is a scene of its
own, 1,100-1,400 images/s for §5.1's normal set (every view of the red small cone, 14,400 images),
33,000 images/s read back from the cache. Why not a rasteriser: a quick moderngl trial (Mesa llvmpipe through EGL, one thread; a
floor, the column, the link, two spheres, about 1,700 triangles, 128 x 128 with 4x MSAA, drawn and
read back per image) made 140 images/s, and it needs a GL context and Mesa's libraries on every
machine (pyrender also pins PyOpenGL 3.1.0); this module needs only torch and gives the same
bytes on every machine.

``SceneSource`` caches rendered batches under ``<cache>/scenes/<key>.npy``, the key hashing the
renderer's ``VERSION``, the codes, the noise level and the seed: bump ``VERSION`` whenever the
images change. The cache is kept under ``CACHE_LIMIT_MB`` by removing the batches used longest ago
(a read marks a file used); a study's draw is a few tens of MB (3,000 images of 12 KiB).
"""
from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from adcore.cache import default_cache_dir, evict_least_recent
from adcore.data.factors import FACTOR_SOURCES, FactorSource, check_codes, flat_index

VERSION = 1  # of the images this module draws; part of the cache key
SIDE = 64  # output pixels
SS = 2  # samples per pixel along each axis
RAYS = (SIDE * SS) ** 2  # samples per image

# --- scene, in world units; y up, the cameras on the +z side looking towards -z -------------------
FLOOR_Y, WALL_Z = -1.2, -3.0
TARGET = torch.tensor([0.5, 1.0, 0.55])  # the cameras look here
CAMERA_DISTANCE, CAMERA_AZIMUTH = 6.2, 25.0  # world units; degrees from +z towards +x
CAMERA_ELEVATION = (34.0, 10.0, -12.0)  # degrees: top, center, bottom
FOV = math.radians(30.0)  # vertical (and horizontal) field of view
SHOULDER = torch.tensor([0.0, 1.6, -0.6])  # the arm hangs from a column above it
COLUMN_R, SHOULDER_R, LINK_R, WRIST_R, LINK_L = 0.1, 0.16, 0.07, 0.1, 1.5
YAW = (CAMERA_AZIMUTH - 35.0, CAMERA_AZIMUTH + 35.0)  # degrees over horizontal_axis 0..39
PITCH = (-5.0, 60.0)  # degrees below horizontal over vertical_axis 0..39 (0: raised)
OBJECT_SCALE = (0.3, 0.42)  # small, large: the unit shapes below are scaled by this
OBJECT_YAW = CAMERA_AZIMUTH + 35.0  # degrees; fixed, so a cube always shows two side faces
BACKGROUND_TONE = (0.62, 0.92)  # diffuse factor of the floor and of the wall, times a vignette
VIGNETTE = 0.3  # the background's tone falls by this fraction from the centre to the corners

# --- light and materials --------------------------------------------------------------------------
KEY = F.normalize(torch.tensor([-0.55, 0.9, 0.75]), dim=0)  # towards the key light
FILL = F.normalize(torch.tensor([0.8, 0.2, 0.5]), dim=0)
AMBIENT, KEY_W, FILL_W = 0.18, 0.85, 0.22
SPECULAR = {"arm": (0.45, 24.0), "object": (0.3, 40.0)}  # (weight, Blinn-Phong exponent)
# sRGB albedos in MPI3D's value order; the arm is grey metal
OBJECT_RGB = torch.tensor([[235, 235, 235], [40, 150, 60], [200, 30, 30], [35, 70, 200], [125, 75, 35], [128, 128, 20]])
BACKGROUND_RGB = torch.tensor([[120, 85, 160], [46, 139, 87], [250, 128, 114]])
ARM_RGB = torch.tensor([150, 152, 158])
BACKGROUND, ARM, OBJECT = 0, 1, 2  # materials, in the order of the coverage channels

GEOMETRY = [3, 5, 6, 1, 2]  # factor columns that shape a scene: camera, axes, shape, size
CHUNK = 128  # scenes cast at once
CACHE_LIMIT_MB = 2048  # of rendered batches on disk


@dataclass(frozen=True)
class Convex:
    """A convex unit solid: the points p with n.p <= d for every plane row (n, d) and, with a
    ``quadric`` (a, b, c), x^2 + z^2 + a y^2 + b y + c <= 0: a sphere (a = 1), a cylinder (a = 0)
    or a cone (a < 0, its apex plane keeping the upper nappe out)."""

    planes: torch.Tensor  # (P, 4)
    quadric: tuple[float, float, float] | None = None


def _slab(axis: int, low: float, high: float) -> list[list[float]]:
    n = [0.0, 0.0, 0.0]
    n[axis] = 1.0
    return [n + [high], [-v for v in n] + [-low]]


def _shapes() -> list[Convex]:
    """MPI3D's shapes in code order, each about 2 units across, resting upright."""
    cube = _slab(0, -0.75, 0.75) + _slab(1, -0.75, 0.75) + _slab(2, -0.75, 0.75)
    facing = math.radians(CAMERA_AZIMUTH - OBJECT_YAW)  # the cameras' azimuth in the object's frame
    hexagon = [[math.sin(a), 0.0, math.cos(a), 0.95 * math.cos(math.pi / 6)]  # a face towards the cameras
               for a in (facing + k * math.pi / 3 for k in range(6))] + _slab(1, -0.55, 0.55)
    apex, base, half = 1.0, -0.8, 0.85  # cone and pyramid: apex and base heights, base half-width
    sides = [F.normalize(torch.tensor([sx * (apex - base), half, sz * (apex - base)]), dim=0).tolist()
             for sx, sz in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    pyramid = [n + [n[1] * apex] for n in sides] + [[0.0, -1.0, 0.0, -base]]
    k2 = (half / (apex - base)) ** 2  # cone: x^2 + z^2 <= k2 (apex - y)^2
    return [
        Convex(torch.tensor(_slab(1, base, apex)), (-k2, 2 * k2 * apex, -k2 * apex**2)),  # cone
        Convex(torch.tensor(cube)),
        Convex(torch.tensor(_slab(1, -0.75, 0.75)), (0.0, 0.0, -0.8**2)),  # cylinder
        Convex(torch.tensor(hexagon)),
        Convex(torch.tensor(pyramid)),
        Convex(torch.zeros(0, 4), (1.0, 0.0, -0.9**2)),  # sphere
    ]


SHAPES = _shapes()
SHAPE_RADIUS = 1.45  # every shape lies in this ball about its origin (the pyramid's base corners: 1.44)
UNIT_SPHERE = Convex(torch.zeros(0, 4), (1.0, 0.0, -1.0))
UNIT_CYLINDER = Convex(torch.tensor(_slab(1, -1.0, 1.0)), (0.0, 0.0, -1.0))


def intersect(origin: torch.Tensor, direction: torch.Tensor, solid: Convex) -> tuple[torch.Tensor, torch.Tensor]:
    """Entry distance t (K,), inf on a miss, and entry normal (K, 3), unnormalised, of the rays
    origin + t direction (K, 3 each, in the solid's frame): t is where the ray has entered every
    constraint, the normal the gradient of the constraint entered last."""
    k = len(origin)
    t_in, t_out = torch.full((k,), -math.inf), torch.full((k,), math.inf)
    normal = torch.zeros(k, 3)
    if len(solid.planes):
        n, d = solid.planes[:, :3], solid.planes[:, 3]
        denom = direction @ n.T  # (K, P)
        num = d - origin @ n.T
        t = num / denom
        t_in, which = torch.where(denom < 0, t, -math.inf).max(dim=1)
        normal = n[which]
        t_out = torch.where(denom > 0, t, math.inf).amin(dim=1)
        t_out = torch.where(((denom == 0) & (num < 0)).any(dim=1), -math.inf, t_out)  # parallel, outside
    if solid.quadric is not None:
        a, b, c = solid.quadric
        (ox, oy, oz), (dx, dy, dz) = origin.unbind(1), direction.unbind(1)
        qa = dx * dx + dz * dz + a * dy * dy
        qa = torch.where(qa >= 0, qa.clamp_min(1e-12), qa.clamp_max(-1e-12))
        qb = 2 * (ox * dx + oz * dz + a * oy * dy) + b * dy
        qc = ox * ox + oz * oz + a * oy * oy + b * oy + c
        disc = qb * qb - 4 * qa * qc
        root = disc.clamp_min(0).sqrt()
        r1, r2 = (-qb - root) / (2 * qa), (-qb + root) / (2 * qa)
        lo, hi = torch.minimum(r1, r2), torch.maximum(r1, r2)
        # qa > 0: inside on [lo, hi]. qa < 0, a ray steeper than a cone: inside on (-inf, lo] and
        # [hi, inf), of which the lower nappe's is the piece the ray reaches going down
        real = disc >= 0
        q_in = torch.where(qa > 0, torch.where(real, lo, math.inf), torch.where(real & (dy < 0), hi, -math.inf))
        q_out = torch.where(qa > 0, torch.where(real, hi, -math.inf), torch.where(real & (dy >= 0), lo, math.inf))
        p = origin + q_in.clamp(-1e6, 1e6)[:, None] * direction
        gradient = torch.stack([p[:, 0], a * p[:, 1] + b / 2, p[:, 2]], dim=1)
        normal = torch.where((q_in > t_in)[:, None], gradient, normal)
        t_in, t_out = torch.maximum(t_in, q_in), torch.minimum(t_out, q_out)
    return torch.where((t_in < t_out) & (t_in > 0), t_in, math.inf), normal


def _shade(normal: torch.Tensor, ray: torch.Tensor, material: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Diffuse and specular factors (K,) for unit world normals and unit view rays (K, 3)."""
    normal = torch.where(((normal * ray).sum(1) > 0)[:, None], -normal, normal)  # face the camera
    diffuse = AMBIENT + KEY_W * (normal @ KEY).clamp_min(0) + FILL_W * (normal @ FILL).clamp_min(0)
    weight, power = SPECULAR[material]
    half = F.normalize(KEY[None] - ray, dim=1)
    return diffuse, weight * (normal * half).sum(1).clamp_min(0).pow(power)


def _cameras() -> torch.Tensor:
    """(3, 3) camera positions about TARGET at the three elevations."""
    azimuth = math.radians(CAMERA_AZIMUTH)
    return torch.stack([TARGET + CAMERA_DISTANCE * torch.tensor(
        [math.sin(azimuth) * math.cos(e), math.sin(e), math.cos(azimuth) * math.cos(e)])
        for e in map(math.radians, CAMERA_ELEVATION)])


CAMERAS = _cameras()


@lru_cache(maxsize=1)
def _camera_basis() -> torch.Tensor:
    """(3, 3, 3): per camera its right, up and forward unit vectors (rows)."""
    bases = []
    for eye in CAMERAS:
        forward = F.normalize(TARGET - eye, dim=0)
        right = F.normalize(torch.linalg.cross(forward, torch.tensor([0.0, 1.0, 0.0])), dim=0)
        bases.append(torch.stack([right, torch.linalg.cross(right, forward), forward]))
    return torch.stack(bases)


@lru_cache(maxsize=1)
def _camera_rays() -> torch.Tensor:
    """(3 * RAYS, 3) unit ray directions: camera-major, then row-major over the image's samples."""
    steps = ((torch.arange(SIDE * SS) + 0.5) / (SIDE * SS) * 2 - 1) * math.tan(FOV / 2)
    v, u = torch.meshgrid(-steps, steps, indexing="ij")  # row 0 at the top
    plane = torch.stack([u.reshape(-1), v.reshape(-1), torch.ones(RAYS)], dim=1)  # (RAYS, 3) camera axes
    return F.normalize(torch.einsum("rk,ckd->crd", plane, _camera_basis()), dim=2).reshape(-1, 3)


def _pool(material: torch.Tensor, diffuse: torch.Tensor, specular: torch.Tensor) -> torch.Tensor:
    """Samples (K,), SS * SS consecutive ones per pixel -> pixels (K / SS^2, 7): coverage by
    background, arm and object; coverage times diffuse factor, for each; specular."""
    material, diffuse = material.view(-1, SS * SS), diffuse.view(-1, SS * SS)
    cover = [(material == m).float() for m in (BACKGROUND, ARM, OBJECT)]
    values = cover + [c * diffuse for c in cover] + [specular.view(-1, SS * SS)]
    return torch.stack([v.mean(1) for v in values], dim=1)


@lru_cache(maxsize=1)
def _pixel_order() -> torch.Tensor:
    """(3 * RAYS,) sample indices ordered by camera, pixel row, pixel column, then the pixel's
    SS x SS samples, so that each pixel's samples are consecutive."""
    row, col, sub = torch.meshgrid(torch.arange(SIDE), torch.arange(SIDE), torch.arange(SS * SS), indexing="ij")
    index = ((row * SS + sub // SS) * SIDE * SS + col * SS + sub % SS).reshape(-1)
    return torch.cat([index + c * RAYS for c in range(3)])


@lru_cache(maxsize=1)
def _static() -> tuple[torch.Tensor, torch.Tensor]:
    """What does not move, seen by each camera: the floor, the back wall, the column, the shoulder.

    Per sample, in ``_camera_rays`` order, (3 * RAYS, 7): depth, material, diffuse, specular and the
    ray's direction; and the pooled pixels (3, 7, SIDE * SIDE) (see ``_pool``).
    """
    rays = _camera_rays()
    eye = CAMERAS.repeat_interleave(RAYS, dim=0)
    t_floor = torch.where(rays[:, 1] < 0, (FLOOR_Y - eye[:, 1]) / rays[:, 1], math.inf)
    t_wall = torch.where(rays[:, 2] < 0, (WALL_Z - eye[:, 2]) / rays[:, 2], math.inf)
    depth = torch.minimum(t_floor, t_wall)
    radius2 = torch.linspace(-1, 1, SIDE * SS).pow(2)
    radius2 = ((radius2[:, None] + radius2[None, :]).reshape(-1) / 2).repeat(3)  # 0 centre, 1 corners
    diffuse = torch.where(t_floor < t_wall, BACKGROUND_TONE[0], BACKGROUND_TONE[1]) * (1 - VIGNETTE * radius2)
    specular = torch.zeros_like(depth)
    material = torch.full_like(depth, BACKGROUND, dtype=torch.int64)
    column_half = 4.0  # long enough to leave every frame at the top
    for centre, scale, solid in (
        (SHOULDER + torch.tensor([0.0, column_half, 0.0]), torch.tensor([COLUMN_R, column_half, COLUMN_R]), UNIT_CYLINDER),
        (SHOULDER, torch.full((3,), SHOULDER_R), UNIT_SPHERE),
    ):
        t, n = intersect((eye - centre) / scale, rays / scale, solid)
        near = t < depth
        diff, spec = _shade(F.normalize(n[near] / scale, dim=1), rays[near], "arm")
        depth[near], material[near], diffuse[near], specular[near] = t[near], ARM, diff, spec
    order = _pixel_order()
    pixels = _pool(material[order], diffuse[order], specular[order]).view(3, SIDE * SIDE, 7).transpose(1, 2)
    return torch.cat([torch.stack([depth, material.float(), diffuse, specular], dim=1), rays], dim=1), pixels.contiguous()


def _yaw(angle: torch.Tensor) -> torch.Tensor:
    """(G,) radians -> (G, 3, 3) rotations about +y."""
    c, s, z, o = angle.cos(), angle.sin(), torch.zeros_like(angle), torch.ones_like(angle)
    return torch.stack([torch.stack([c, z, s], 1), torch.stack([z, o, z], 1), torch.stack([-s, z, c], 1)], 1)


def _link_frame(direction: torch.Tensor) -> torch.Tensor:
    """(G, 3, 3) rotations whose middle column is ``direction`` (G, 3), the unit cylinder's axis."""
    side = F.normalize(torch.linalg.cross(direction, torch.tensor([0.0, 1.0, 0.0]).expand_as(direction)), dim=1)
    return torch.stack([side, direction, torch.linalg.cross(side, direction)], dim=2)


@dataclass(frozen=True)
class _Part:
    """A moving solid in each of G scenes: scene g's is solids[which[g]], whose unit frame has its
    origin at centre[g], axes turn[g]^T (or turn^T in every scene) and axis lengths axes * size[g]
    (or axes). It lies inside the convex hull of the balls (hull[g, i], hull_radius[g])."""

    centre: torch.Tensor  # (G, 3)
    turn: torch.Tensor  # (G, 3, 3) or (3, 3): world -> unit-frame rotation
    axes: torch.Tensor  # (3,)
    size: torch.Tensor | None  # (G,)
    solids: list[Convex]
    which: torch.Tensor  # (G,) int64
    material: int
    hull: torch.Tensor  # (G, M, 3)
    hull_radius: torch.Tensor  # (G,)

    def _turns(self, g: torch.Tensor) -> torch.Tensor:
        return self.turn.view(-1, 9).index_select(0, g).view(-1, 3, 3)  # (K, 3, 3)

    def to_unit(self, vectors: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """World vectors (K, 3) of scenes g (K,) -> the unit frame's coordinates."""
        turned = vectors @ self.turn.T if self.turn.ndim == 2 else torch.einsum("kij,kj->ki", self._turns(g), vectors)
        turned = turned / self.axes
        return turned if self.size is None else turned / self.size.index_select(0, g)[:, None]

    def normal_to_world(self, normal: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Unit-frame normals (K, 3) of scenes g (K,) -> unit world normals (the inverse transpose)."""
        scaled = normal / self.axes  # a uniform size does not turn normals
        turned = scaled @ self.turn if self.turn.ndim == 2 else torch.einsum("kji,kj->ki", self._turns(g), scaled)
        return F.normalize(turned, dim=1)


def _moving_parts(geometry: torch.Tensor) -> list[_Part]:
    """The arm's link, its wrist and the object; geometry (G, 5) as for ``render_geometry``."""
    _, horizontal, vertical, shape, size = geometry.T
    g = len(geometry)
    yaw = torch.deg2rad(YAW[0] + (YAW[1] - YAW[0]) * horizontal.float() / 39)
    pitch = torch.deg2rad(PITCH[0] + (PITCH[1] - PITCH[0]) * vertical.float() / 39)
    direction = torch.stack([pitch.cos() * yaw.sin(), -pitch.sin(), pitch.cos() * yaw.cos()], 1)  # (G, 3)
    wrist = SHOULDER + LINK_L * direction
    scale = torch.tensor(OBJECT_SCALE)[size]
    centre = wrist + direction * (WRIST_R + scale)[:, None]
    first = torch.zeros(g, dtype=torch.long)
    return [
        _Part(SHOULDER + direction * LINK_L / 2, _link_frame(direction).transpose(1, 2).contiguous(),
              torch.tensor([LINK_R, LINK_L / 2, LINK_R]), None, [UNIT_CYLINDER], first, ARM,
              torch.stack([SHOULDER.expand(g, 3), wrist], dim=1), torch.full((g,), LINK_R)),
        _Part(wrist, torch.eye(3), torch.full((3,), WRIST_R), None, [UNIT_SPHERE], first, ARM, wrist[:, None],
              torch.full((g,), WRIST_R)),
        _Part(centre, _yaw(torch.tensor([math.radians(OBJECT_YAW)]))[0].T, torch.ones(3), scale, SHAPES, shape,
              OBJECT, centre[:, None], scale * SHAPE_RADIUS),
    ]


def _ball_extent(a: torch.Tensor, z: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The range of a/z over a ball of radius r whose centre has camera coordinates (a, z), z > r:
    the slopes of the two tangents from the eye, m = (a z -+ r sqrt(a^2 + z^2 - r^2)) / (z^2 - r^2)."""
    root = r * (a * a + z * z - r * r).sqrt()
    return (a * z - root) / (z * z - r * r), (a * z + root) / (z * z - r * r)


def _pixel_box(part: _Part, camera: torch.Tensor) -> torch.Tensor:
    """(G, 4): the pixel rows [top, bottom) and columns [left, right) that hold ``part``'s image,
    from the exact image of each hull ball (the image of a convex hull is the hull of the images)."""
    x, y, z = torch.einsum("gpk,gdk->dgp", part.hull - CAMERAS[camera][:, None], _camera_basis()[camera])
    radius = part.hull_radius[:, None]
    focal = SIDE / (2 * math.tan(FOV / 2))  # pixels
    left, right = _ball_extent(x, z, radius)
    low, high = _ball_extent(y, z, radius)
    box = torch.stack([(SIDE / 2 - focal * high.amax(1)).floor(), (SIDE / 2 - focal * low.amin(1)).ceil(),
                       (SIDE / 2 + focal * left.amin(1)).floor(), (SIDE / 2 + focal * right.amax(1)).ceil()], dim=1)
    return box.clamp(0, SIDE).long()


class _Samples:
    """The samples of the pixels in one box per scene, SS * SS consecutive samples per pixel, with
    what the static scene puts there: depth, material, diffuse and specular, (K,) each."""

    def __init__(self, box: torch.Tensor, camera: torch.Tensor) -> None:
        height, width = box[:, 1] - box[:, 0], box[:, 3] - box[:, 2]
        counts = height * width
        self.scene = torch.repeat_interleave(torch.arange(len(box)), counts)  # (P,) per pixel
        j = torch.arange(int(counts.sum())) - torch.repeat_interleave(counts.cumsum(0) - counts, counts)
        span = width.index_select(0, self.scene)
        self.row = box[:, 0].index_select(0, self.scene) + j // span
        self.col = box[:, 2].index_select(0, self.scene) + j % span
        first = camera.index_select(0, self.scene) * RAYS + self.row * (SS * SS * SIDE) + self.col * SS  # top-left sample
        within = torch.tensor([r * SIDE * SS + c for r in range(SS) for c in range(SS)])
        static = _static()[0].index_select(0, (first[:, None] + within).reshape(-1))  # (K, 7)
        self.depth, self.diffuse, self.specular = static[:, 0].clone(), static[:, 2].clone(), static[:, 3].clone()
        self.material, self.rays = static[:, 1].long(), static[:, 4:]
        self.sample_scene = self.scene.repeat_interleave(SS * SS)
        self.eye = CAMERAS.index_select(0, camera)

    def cast(self, part: _Part, box: torch.Tensor) -> None:
        """Cast the samples in ``part``'s pixel box (G, 4) at it, keeping the nearer hits."""
        b = box.index_select(0, self.scene)
        inside = (self.row >= b[:, 0]) & (self.row < b[:, 1]) & (self.col >= b[:, 2]) & (self.col < b[:, 3])
        pixel = inside.nonzero(as_tuple=True)[0]
        k = (pixel[:, None] * (SS * SS) + torch.arange(SS * SS)).reshape(-1)  # the pixels' samples
        g = self.sample_scene.index_select(0, k)
        rays = self.rays.index_select(0, k)
        origin = part.to_unit(self.eye - part.centre, torch.arange(len(self.eye)))  # (G, 3)
        direction = part.to_unit(rays, g)
        which = part.which.index_select(0, g)
        for index, solid in enumerate(part.solids):
            pick = (which == index).nonzero(as_tuple=True)[0] if len(part.solids) > 1 else torch.arange(len(k))
            gp = g.index_select(0, pick)
            t, n = intersect(origin.index_select(0, gp), direction.index_select(0, pick), solid)
            kp = k.index_select(0, pick)
            near = (t < self.depth.index_select(0, kp)).nonzero(as_tuple=True)[0]
            pick, kp, gp = pick.index_select(0, near), kp.index_select(0, near), gp.index_select(0, near)
            n = part.normal_to_world(n.index_select(0, near), gp)
            self.depth[kp], self.material[kp] = t.index_select(0, near), part.material
            material = "object" if part.material == OBJECT else "arm"
            self.diffuse[kp], self.specular[kp] = _shade(n, rays.index_select(0, pick), material)


@dataclass(frozen=True)
class Shading:
    """Colour-free renders of G scenes at SIDE x SIDE: per material (background, arm, object) the
    fraction of each pixel's samples on it and that fraction times their mean diffuse factor; and
    the specular highlight, which is white."""

    coverage: torch.Tensor  # (G, 3, SIDE, SIDE)
    diffuse: torch.Tensor  # (G, 3, SIDE, SIDE)
    specular: torch.Tensor  # (G, SIDE, SIDE)

    def __getitem__(self, index: torch.Tensor) -> "Shading":
        return Shading(self.coverage[index], self.diffuse[index], self.specular[index])


def render_geometry(geometry: torch.Tensor) -> Shading:
    """Shading of G scenes; geometry (G, 5) int: camera_height, horizontal_axis, vertical_axis,
    object_shape, object_size (factor columns ``GEOMETRY``)."""
    camera = geometry[:, 0]
    moving = _moving_parts(geometry)
    boxes = torch.stack([_pixel_box(part, camera) for part in moving])  # (parts, G, 4)
    union = torch.stack([boxes[..., 0].amin(0), boxes[..., 1].amax(0), boxes[..., 2].amin(0), boxes[..., 3].amax(0)], 1)
    samples = _Samples(union, camera)
    for part, box in zip(moving, boxes):
        samples.cast(part, box)
    pixels = _static()[1].index_select(0, camera)  # (G, 7, SIDE * SIDE)
    pixels[samples.scene, :, samples.row * SIDE + samples.col] = _pool(samples.material, samples.diffuse, samples.specular)
    pixels = pixels.view(len(geometry), 7, SIDE, SIDE)
    return Shading(pixels[:, :3], pixels[:, 3:6], pixels[:, 6])


def _linear(srgb: torch.Tensor) -> torch.Tensor:
    return (srgb.float() / 255).pow(2.2)


def colourize(shading: Shading, codes: torch.Tensor) -> torch.Tensor:
    """(N, 3, SIDE, SIDE) uint8 images from the shading of each image's scene (N) and its codes (N, 7)."""
    albedo = torch.stack([_linear(BACKGROUND_RGB)[codes[:, 4]], _linear(ARM_RGB).expand(len(codes), 3),
                          _linear(OBJECT_RGB)[codes[:, 0]]], dim=1)  # (N, material, rgb)
    light = torch.einsum("nmc,nmhw->nchw", albedo, shading.diffuse) + shading.specular[:, None]
    return (light.clamp(0, 1).pow(1 / 2.2) * 255).round().to(torch.uint8)


def shading_of(codes: np.ndarray) -> Shading:
    """The shading of each image's scene (N, ...) for codes (N, 7), each distinct scene cast once."""
    geometry, inverse = torch.unique(torch.from_numpy(check_codes(codes))[:, GEOMETRY], dim=0, return_inverse=True)
    return render_geometry(geometry)[inverse]


def render(codes: np.ndarray, noise_std: float = 0.0, seed: int = 0) -> torch.Tensor:
    """(N, 7) factor codes -> (N, 3, SIDE, SIDE) uint8 scenes.

    Each distinct scene is cast once, CHUNK scenes at a time, and coloured for every image that
    shows it. ``noise_std`` > 0 adds Gaussian pixel noise of that standard deviation (0..255 units),
    drawn per image from (seed, the image's flat index), so that an image never depends on its batch.
    """
    codes_t = torch.from_numpy(check_codes(codes))
    geometry, inverse = torch.unique(codes_t[:, GEOMETRY], dim=0, return_inverse=True)
    order = torch.argsort(inverse, stable=True)  # images grouped by scene
    bounds = torch.searchsorted(inverse[order], torch.arange(0, len(geometry) + CHUNK, CHUNK)).tolist()
    images = torch.empty(len(codes_t), 3, SIDE, SIDE, dtype=torch.uint8)
    for chunk, start in enumerate(range(0, len(geometry), CHUNK)):
        shading = render_geometry(geometry[start : start + CHUNK])
        ids = order[bounds[chunk] : bounds[chunk + 1]]
        images[ids] = colourize(shading[inverse[ids] - start], codes_t[ids])
    if noise_std > 0:
        noisy = images.float()
        for i, flat in enumerate(flat_index(codes).tolist()):
            noise = np.random.default_rng([seed, flat]).normal(0.0, noise_std, size=(3, SIDE, SIDE))
            noisy[i] += torch.from_numpy(noise.astype(np.float32))
        images = noisy.round_().clamp_(0, 255).to(torch.uint8)
    return images


class SceneSource(FactorSource):
    """Rendered scenes for factor tuples, each requested batch cached on disk by its content."""

    name = "scenes"

    def __init__(self, noise_std: float = 0.0, seed: int = 0, cache_dir: Path | None = None,
                 limit_mb: float = CACHE_LIMIT_MB) -> None:
        self.noise_std, self.seed, self.limit_bytes = noise_std, seed, int(limit_mb * 2**20)
        self.cache_dir = cache_dir if cache_dir is not None else default_cache_dir(None) / "scenes"

    def cache_path(self, codes: np.ndarray) -> Path:
        """Where the images of ``codes`` are cached: keyed by VERSION, the codes, noise and seed."""
        seed = self.seed if self.noise_std > 0 else "-"  # without noise every seed draws the same images
        digest = hashlib.sha256(f"scenes v{VERSION} noise {self.noise_std!r} seed {seed} shape {codes.shape}".encode())
        digest.update(np.ascontiguousarray(codes, dtype=np.int64).tobytes())
        return self.cache_dir / f"{digest.hexdigest()[:24]}.npy"

    def images(self, codes: np.ndarray) -> torch.Tensor:
        codes = check_codes(codes)
        path = self.cache_path(codes)
        if path.is_file():
            os.utime(path)  # used now: evicted last
            return torch.from_numpy(np.load(path))
        images = render(codes, self.noise_std, self.seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}")  # no .npy suffix: eviction never sees it
        with open(tmp, "wb") as handle:
            np.save(handle, images.numpy())
        os.replace(tmp, path)  # atomic: a reader sees the whole file or none
        evict_least_recent(self.cache_dir, ".npy", self.limit_bytes)
        return images


@FACTOR_SOURCES.register("scenes")
def scenes(data_root: str | None) -> SceneSource:
    """Rendered scenes without pixel noise; ``data_root`` is not used."""
    return SceneSource()
