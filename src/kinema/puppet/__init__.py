"""The puppet world: procedural characters, motions and scenes with exact cross-identity targets.

Entry points: :func:`make_triplet` (animate / replace / multi with the exact target),
:func:`render_grid` (one motion on K identities x B backgrounds), :func:`render_scene`,
:func:`write_dataset` and :class:`PuppetDataset`.
"""

from kinema.puppet.background import Camera
from kinema.puppet.config import MODES, PRESETS, SynthConfig, get_preset
from kinema.puppet.identity import Identity, sample_identity
from kinema.puppet.motions import MOTIONS, MotionClip, make_motion, motions_of
from kinema.puppet.pairs import Triplet, make_scene, make_triplet, render_grid
from kinema.puppet.scene import Actor, Clip, SceneSpec, render_scene, still
from kinema.puppet.skeletons import FAMILIES, get_family
from kinema.puppet.version import GENERATOR_VERSION

__all__ = [
    "FAMILIES", "GENERATOR_VERSION", "MODES", "MOTIONS", "PRESETS", "Actor", "Camera", "Clip", "Identity", "MotionClip",
    "SceneSpec", "SynthConfig", "Triplet", "get_family", "get_preset", "make_motion", "make_scene", "make_triplet",
    "motions_of", "render_grid", "render_scene", "sample_identity", "still",
]
