"""The puppet keypoint estimator: a small top-down heatmap network trained on the puppet world.

One shared encoder-decoder with one head per family (humanoid 60 joints with hands, quadruped 22,
bird 17): the three families share what a character looks like against a background, so one
trunk learns it once, and one weight file serves them all. Each joint gets two maps at stride 2:
location logits ``L_j`` (a spatial softmax) and a visibility logit map ``V_j``; the joint sits at
the softmax peak (refined to sub-pixel by a parabola through the peak's neighbours) and its
confidence is ``sigmoid(sum softmax(L_j) * V_j)``, the visibility read under its heatmap peak. Its
*certainty* (:attr:`PoseResult.certainty`) is that confidence times the location distribution's mass in
the 3 × 3 cells around the peak: a visible joint the network cannot place (a blur, a blob, an empty
frame) spreads its heatmap and is not certain, however confident its visibility head is.

Crops are square: a box (given, from a mask, or found by a first pass on the whole frame) padded
by ``box_padding`` and resampled to ``input_size``. Train with
``python -m kinema.pose.estimators.train_puppet --out FILE.safetensors``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from kinema.errors import KinemaInputError
from kinema.pose.estimators import PoseResult, check_frames
from kinema.pose.keypoints import Keypoints
from kinema.pose.layouts import get_layout

FORMAT = "kinema.puppet_pose/1"
FAMILIES = ("humanoid", "quadruped", "bird")
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[2] / "assets" / "pose" / "puppet_pose.safetensors"


@dataclass(frozen=True)
class PuppetPoseConfig:
    """Network and crop settings (saved in the weight file's metadata)."""

    input_size: int = 64
    stride: int = 2
    widths: tuple[int, int, int, int] = (16, 32, 64, 96)
    families: tuple[str, ...] = FAMILIES
    box_padding: float = 1.3
    min_confidence: float = 0.3

    def joints(self, family: str) -> slice:
        """The channels of ``family``'s head among all families' joints."""
        start = sum(get_layout(f).num_joints for f in self.families[: self.families.index(family)])
        return slice(start, start + get_layout(family).num_joints)

    @property
    def num_joints(self) -> int:
        return sum(get_layout(f).num_joints for f in self.families)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class HeatmapNet(nn.Module):
    """U-shaped net: (B, 3, S, S) in [0, 1] -> location and visibility logits (B, 2, J, S/2, S/2)."""

    def __init__(self, config: PuppetPoseConfig) -> None:
        super().__init__()
        c1, c2, c3, c4 = config.widths
        self.num_joints = config.num_joints
        self.stem = nn.Sequential(_conv(3, c1), _conv(c1, c1))  # S
        self.down2 = nn.Sequential(_conv(c1, c2, 2), _conv(c2, c2))  # S/2
        self.down3 = nn.Sequential(_conv(c2, c3, 2), _conv(c3, c3))  # S/4
        self.down4 = nn.Sequential(_conv(c3, c4, 2), _conv(c4, c4), _conv(c4, c4))  # S/8
        self.lat3, self.lat2 = nn.Conv2d(c4, c3, 1), nn.Conv2d(c3, c2, 1)
        self.up3, self.up2 = _conv(c3, c3), nn.Sequential(_conv(c2, c2), _conv(c2, c2))
        self.head = nn.Conv2d(c2, 2 * self.num_joints, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f2 = self.down2(self.stem(x))  # (B, c2, S/2, S/2)
        f3 = self.down3(f2)  # (B, c3, S/4, S/4)
        f4 = self.down4(f3)  # (B, c4, S/8, S/8)
        u3 = self.up3(f3 + nn.functional.interpolate(self.lat3(f4), scale_factor=2.0))  # (B, c3, S/4, S/4)
        u2 = self.up2(f2 + nn.functional.interpolate(self.lat2(u3), scale_factor=2.0))  # (B, c2, S/2, S/2)
        out = self.head(u2)  # (B, 2J, S/2, S/2)
        return out.unflatten(1, (2, self.num_joints))  # (B, 2, J, S/2, S/2)


def decode(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Location/visibility logits (B, 2, J, h, w) -> (B, J, 2) heatmap xy, (B, J) confidence and (B, J)
    certainty (the confidence times the location probability within one cell of the peak).

    The peak is refined per axis by the vertex of the parabola through the log-probabilities at
    the peak and its two neighbours (exact for a Gaussian heatmap): d = (l - r) / (2 (l - 2c + r)).
    """
    loc, vis = logits[:, 0], logits[:, 1]  # (B, J, h, w) each
    h, w = loc.shape[-2:]
    logp = loc.flatten(2).log_softmax(-1)  # (B, J, h*w)
    confidence = torch.sigmoid((logp.exp() * vis.flatten(2)).sum(-1))  # (B, J)
    peak = logp.argmax(-1)
    y, x = torch.div(peak, w, rounding_mode="floor"), peak % w
    at = lambda yy, xx: logp.gather(-1, (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1))[..., None]).squeeze(-1)  # noqa: E731
    c = at(y, x)

    def vertex(lo: torch.Tensor, hi: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        curve = lo - 2 * c + hi
        d = torch.where(curve < -1e-6, (lo - hi) / (2 * curve.clamp(max=-1e-6)), torch.zeros_like(c))
        return d.clamp(-0.5, 0.5) * inside

    dx = vertex(at(y, x - 1), at(y, x + 1), (x > 0) & (x < w - 1))
    dy = vertex(at(y - 1, x), at(y + 1, x), (y > 0) & (y < h - 1))
    xy = torch.stack([x + dx, y + dy], -1).float()  # (B, J, 2)
    near = nn.functional.avg_pool2d(logp.exp().unflatten(-1, (h, w)), 3, 1, 1, count_include_pad=True) * 9
    mass = near.flatten(2).gather(-1, peak[..., None]).squeeze(-1)  # (B, J) probability in the peak's 3 × 3 cells
    return xy, confidence, confidence * mass


def crop_affine(center: np.ndarray, side: float, size: int) -> np.ndarray:
    """(2, 3) affine mapping frame pixels to a ``size`` x ``size`` crop of ``side`` pixels at ``center``."""
    s = size / side
    return np.array([[s, 0, size / 2 - center[0] * s], [0, s, size / 2 - center[1] * s]])


def crop(frame: np.ndarray, center: np.ndarray, side: float, size: int) -> np.ndarray:
    """(size, size, 3) uint8 crop, low-pass filtered first when it shrinks the frame (no aliasing)."""
    shrink = side / size
    if shrink > 1.5:
        frame = cv2.GaussianBlur(frame, (0, 0), 0.5 * shrink)
    return cv2.warpAffine(frame, crop_affine(center, side, size), (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def heat_to_frame(xy: np.ndarray, center: np.ndarray, side: np.ndarray, config: PuppetPoseConfig) -> np.ndarray:
    """Heatmap coordinates (N, J, 2) -> frame pixels, for crops ``center`` (N, 2) and ``side`` (N,)."""
    crop_px = (xy + 0.5) * config.stride - 0.5  # heatmap cell centres -> crop pixel centres
    return (crop_px - config.input_size / 2) * (side / config.input_size)[:, None, None] + center[:, None]


def frame_to_heat(xy: np.ndarray, center: np.ndarray, side: float, config: PuppetPoseConfig) -> np.ndarray:
    """Inverse of :func:`heat_to_frame` for one crop: frame pixels (J, 2) -> heatmap coordinates."""
    crop_px = (xy - center) * (config.input_size / side) + config.input_size / 2
    return (crop_px + 0.5) / config.stride - 0.5


def to_tensor(crops: np.ndarray) -> torch.Tensor:
    """(N, S, S, 3) uint8 -> (N, 3, S, S) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float() / 255.0


def save_model(model: HeatmapNet, config: PuppetPoseConfig, path: str | os.PathLike, extra: dict[str, str]) -> None:
    """Write weights + metadata (format, config, layouts, ``extra``) as safetensors, atomically."""
    from safetensors.torch import save_file

    from kinema.io.atomic import atomic_path

    metadata = {"format": FORMAT, "config": json.dumps(asdict(config)),
                "layouts": json.dumps({f: list(get_layout(f).joints) for f in config.families}), **extra}
    with atomic_path(Path(path)) as tmp:
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(tmp), metadata=metadata)


def load_model(path: str | os.PathLike) -> tuple[HeatmapNet, PuppetPoseConfig, dict[str, str]]:
    """Read a file written by :func:`save_model`; the layouts must match this kinema's."""
    from safetensors import safe_open

    what = f"puppet pose weights '{path}'"
    if not Path(path).is_file():
        raise KinemaInputError(what, "file not found", "Train them: python -m kinema.pose.estimators.train_puppet --out FILE.safetensors")
    try:
        with safe_open(str(path), "pt") as f:
            metadata, state = f.metadata() or {}, {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises its own error types for corrupt files
        raise KinemaInputError(what, f"cannot be read ({err})", "Pass a .safetensors file written by train_puppet.") from err
    if metadata.get("format") != FORMAT:
        raise KinemaInputError(what, f"has format {metadata.get('format')!r}", f"Pass a {FORMAT} file written by train_puppet.")
    raw = json.loads(metadata["config"])
    config = PuppetPoseConfig(**{**raw, "widths": tuple(raw["widths"]), "families": tuple(raw["families"])})
    if json.loads(metadata["layouts"]) != {f: list(get_layout(f).joints) for f in config.families}:
        raise KinemaInputError(what, "was trained on other keypoint layouts", "Retrain with this version of kinema.")
    model = HeatmapNet(config)
    model.load_state_dict(state)
    return model.eval(), config, metadata


class PuppetPoseEstimator:
    """Puppet keypoints of one family, per character crop; frames (T, H, W, 3) uint8 -> PoseResult."""

    def __init__(self, family: str = "humanoid", weights: str | os.PathLike | None = None) -> None:
        self.model, self.config, self.metadata = load_model(weights or DEFAULT_WEIGHTS)
        if family not in self.config.families:
            raise KinemaInputError(f"family '{family}'", "is not a puppet family of this estimator", f"Use one of: {', '.join(self.config.families)}.")
        self.family, self.channels = family, self.config.joints(family)

    def __call__(self, frames: np.ndarray, boxes: np.ndarray | None = None, masks: np.ndarray | None = None) -> PoseResult:
        """Estimate every character given by ``boxes`` (T, P, 4) xyxy or ``masks`` (T, P, H, W) bool
        (a (T, 4) / (T, H, W) array is one character); with neither, one character per frame, boxed
        by a first pass on the whole frame. Frames where a character's box is empty get visibility 0."""
        frames = check_frames(frames)
        t, h, w = frames.shape[:3]
        if boxes is None and masks is None:
            xy, conf, _ = self.estimate(frames, np.tile([[0.0, 0.0, w, h]], (t, 1)), padding=1.0)
            per = [self.estimate(frames, self.boxes_from_keypoints(xy, conf, (w, h)))]
        else:
            boxes = self.check_boxes(boxes, t) if masks is None else self.boxes_from_masks(masks, frames.shape[:3])
            per = [self.estimate(frames, boxes[:, p]) for p in range(boxes.shape[1])]
        xy, conf, certainty = (np.stack(a, 1) for a in zip(*per))  # (T, P, J, 2), (T, P, J), (T, P, J)
        return PoseResult(Keypoints(xy, conf, get_layout(self.family).name, (w, h)), certainty=certainty)

    def estimate(self, frames: np.ndarray, boxes: np.ndarray,
                 padding: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One crop per frame around ``boxes`` (T, 4) -> (T, J, 2) frame pixels, (T, J) confidence and certainty."""
        size = self.config.input_size
        center = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], -1)  # (T, 2)
        side = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) * (padding or self.config.box_padding)
        valid = side > 0
        side = np.where(valid, side, 1.0)
        crops = np.stack([crop(f, c, s, size) for f, c, s in zip(frames, center, side)])  # (T, S, S, 3)
        with torch.no_grad():
            xy, conf, certainty = decode(self.model(to_tensor(crops))[:, :, self.channels])
        xy = heat_to_frame(xy.numpy().astype(np.float64), center, side, self.config)
        return np.where(valid[:, None, None], xy, center[:, None]), conf.numpy() * valid[:, None], certainty.numpy() * valid[:, None]

    def boxes_from_keypoints(self, xy: np.ndarray, conf: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """(T, 4) boxes around the confident joints of a first pass (the whole frame where none is)."""
        sure = conf >= self.config.min_confidence  # (T, J)
        lo = np.where(sure[..., None], xy, np.inf).min(1)
        hi = np.where(sure[..., None], xy, -np.inf).max(1)
        found = sure.any(1)[:, None]
        return np.where(found, np.concatenate([lo, hi], -1), [0.0, 0.0, size[0], size[1]])

    @staticmethod
    def check_boxes(boxes: np.ndarray, frames: int) -> np.ndarray:
        """Validate boxes as (T, P, 4) finite xyxy."""
        boxes = np.asarray(boxes, dtype=np.float64)
        boxes = boxes[:, None] if boxes.ndim == 2 else boxes
        if boxes.ndim != 3 or boxes.shape[0] != frames or boxes.shape[2] != 4 or not np.isfinite(boxes).all():
            raise KinemaInputError("boxes", f"must be finite (T={frames}, P, 4) xyxy pixels, got shape {boxes.shape}", "Pass one x0, y0, x1, y1 box per frame and character.")
        return boxes

    @staticmethod
    def boxes_from_masks(masks: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
        """(T, P, 4) bounding boxes of (T, P, H, W) (or (T, H, W)) masks; empty masks give empty boxes."""
        masks = np.asarray(masks)
        masks = masks[:, None] if masks.ndim == 3 else masks
        if masks.ndim != 4 or (masks.shape[0], *masks.shape[2:]) != shape or masks.dtype != bool:
            raise KinemaInputError("masks", f"must be bool (T, P, H, W) matching frames {shape}, got {masks.dtype} {masks.shape}", "Pass one boolean mask per frame and character.")
        rows, cols = masks.any(3), masks.any(2)  # (T, P, H), (T, P, W)
        first = lambda a: np.where(a.any(-1), a.argmax(-1), 0)  # noqa: E731
        last = lambda a: np.where(a.any(-1), a.shape[-1] - a[..., ::-1].argmax(-1), 0)  # noqa: E731
        return np.stack([first(cols), first(rows), last(cols), last(rows)], -1).astype(np.float64)
