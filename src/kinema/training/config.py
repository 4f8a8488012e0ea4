"""Typed training configuration with named presets, saved as ``config.json`` in the run directory."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from kinema.errors import KinemaInputError
from kinema.io.video import MAX_FPS, MIN_FPS
from kinema.pose.augment import PoseAugmentConfig, pose_free_frames
from kinema.puppet.skeletons import FAMILIES
from kinema.recipes.anix import R3Config
from kinema.recipes.scail2 import R2Config
from kinema.sampling.prediction import SIGMA_DATA, Prediction
from kinema.training.checks import check_types, require

Recipe = Literal["pose", "oracle"]
TrainRecipe = Literal["dreamactor-m2", "scail-2", "anix"]
Adapter = Literal["full", "ffn", "attn_ffn"]

# Bounds past which a run cannot work, far beyond the presets; checked when the config is built, before the
# run directory exists, so a typo such as optim.lr=1e30 costs nothing.
MAX_STEPS = 99_999_999  # checkpoints are step-%08d directories, and the latest is found by sorting names (rundir)
MAX_SEED = 2**32 - 1  # the trainer seeds torch with seed * 1_000_003 + step, which must stay below 2**64
MAX_LR = 1.0  # AdamW moves each weight by about lr a step whatever the gradient: past 1, more than the weights
MAX_BATCH = 4096  # the noise of the global batch is drawn as one tensor on every rank (trainer.train_step)
MAX_LORA_RANK = 5120  # the widest supported backbone (Wan 14B); a larger rank is no longer low-rank
MAX_SAMPLES = 100_000  # every sample is rendered, encoded and held in memory before step 1 (trainer._latents)
MAX_SIDE, MAX_FRAMES = 2048, 1021  # what the puppet world renders (SynthConfig: 2048 px, 1024 frames; 1 + 4k)
MAX_ACTORS = 4  # per puppet scene (SynthConfig.characters)
MAX_LOGIT = 10.0  # σ = sigmoid(u) is 0 or 1 in float32 past |u| ≈ 17: wider draws all land on the ends
MAX_SHIFT = 100.0  # σ = k·s / (1 + (k − 1)·s) rounds to 1 (k large) or 0 (k small) for nearly every draw
MAX_MOTION_WEIGHT = 100.0  # the loss scales by 1 + w; near 1e18 its squared gradient norm overflows float32


@dataclass(frozen=True)
class DataConfig:
    """Puppet-world training data. Recipe R2 uses the rendering fields (samples, seed, size, frames,
    fps, families, camera_prob, text_chars); ``recipe`` and the skeleton fields below are R1's.

    ``recipe="pose"`` is DreamActor-M2's self-supervised stage (§3.3): reference = frame 0 of a clip,
    driving = its rendered skeleton with pose augmentation, target = the clip. ``"oracle"`` trains on
    the puppet world's exact cross-identity animate triplets instead (for comparison).
    The first ``lead_in_seconds`` of the driving signal are masked (the paper masks one second of
    49-121-frame clips; puppet clips are ~1 s long, so the puppet preset masks one latent frame).
    """

    recipe: Recipe = "pose"
    samples: int = 8
    seed: int = 0  # sample i is drawn from sample_seed(seed, i); evaluation uses seeds >= 10_000_000
    size: tuple[int, int] = (32, 32)
    frames: int = 9  # target frames incl. the lead-in, 1 + 4k
    fps: float = 16.0
    families: tuple[str, ...] = ("humanoid",)
    camera_prob: float = 0.0
    lead_in_seconds: float = 0.25
    augment: PoseAugmentConfig = field(default_factory=PoseAugmentConfig)
    skeleton_width: float = 1.5  # limb half-width in pixels at the clip size
    text_chars: int | None = 60  # fused motion + appearance text, compact (the puppet model reads 64 tokens)
    copy_fraction: float = 0.0  # in-context reconstruction samples (data.copy_sample), for models trained from scratch
    reference_pose: bool = False  # driving frame 0 = the reference's own skeleton (kinema.pose.driving.reference_skeleton)

    def __post_init__(self) -> None:
        check_types(self, "data.")
        require(self.samples >= 1, "data.samples", self.samples, "at least 1")
        require(self.samples <= MAX_SAMPLES, "data.samples", self.samples, f"at most {MAX_SAMPLES}")
        require(self.seed >= 0, "data.seed", self.seed, "0 or more")
        require(self.seed <= MAX_SEED, "data.seed", self.seed, f"at most {MAX_SEED}")
        require(all(16 <= s <= MAX_SIDE for s in self.size), "data.size", self.size, f"[width, height] in [16, {MAX_SIDE}]")
        require(self.frames % 4 == 1, "data.frames", self.frames, "1 + 4k, e.g. 9, 17 or 21")
        require(self.frames <= MAX_FRAMES, "data.frames", self.frames, f"at most {MAX_FRAMES}")
        require(MIN_FPS <= self.fps <= MAX_FPS, "data.fps", self.fps, f"in [{MIN_FPS:g}, {MAX_FPS:g}]")
        require(bool(self.families) and set(self.families) <= set(FAMILIES), "data.families", self.families,
                f"a non-empty list of {', '.join(FAMILIES)}")
        require(0 <= self.camera_prob <= 1, "data.camera_prob", self.camera_prob, "in [0, 1]")
        require(0 <= pose_free_frames(self.fps, self.lead_in_seconds) < self.frames, "data.lead_in_seconds",
                self.lead_in_seconds, f"0 or more and shorter than the clip ({self.frames} frames at {self.fps} fps)")
        require(0 < self.skeleton_width <= max(self.size), "data.skeleton_width", self.skeleton_width,
                f"positive and at most the clip's side ({max(self.size)} px)")
        require(self.text_chars is None or self.text_chars >= 8, "data.text_chars", self.text_chars, "null or at least 8")
        require(0 <= self.copy_fraction <= 1, "data.copy_fraction", self.copy_fraction, "in [0, 1]")


@dataclass(frozen=True)
class R2TrainConfig:
    """Recipe R2 (SCAIL-2 §3.3) training: the settings the weights are trained for, and the data mix.

    ``slots``, ``driving_resolution``, the ``switch`` / ``binding`` / ``mode_rope`` ablation flags and
    ``attention`` ("block": the conditions attend among themselves, cached at inference) map onto
    :class:`kinema.recipes.scail2.R2Config` (see there). Each sample is a
    replacement triplet with probability ``replace_fraction`` (SCAIL-2 mixes animate:replace about
    3:1), drawn per sample index. ``characters`` >= 2 trains on multi-character triplets instead
    (animation mode, K references bound to K subjects); ``bystanders`` is the most unbound extra
    actors a replacement shot holds.
    """

    slots: int = R2Config.slots
    driving_resolution: Literal["full", "half"] = R2Config.driving_resolution
    switch: bool = True
    binding: bool = True
    mode_rope: bool = True
    attention: Literal["full", "block"] = R2Config.attention
    replace_fraction: float = 0.25
    characters: int = 1
    bystanders: int = 1

    def __post_init__(self) -> None:
        check_types(self, "r2.")

    def recipe(self) -> R2Config:
        """The inference-side recipe settings these weights are trained for."""
        return R2Config(self.slots, self.driving_resolution, self.switch, self.binding, self.mode_rope, self.attention)

    def check(self, data: DataConfig) -> None:
        """KinemaInputError for settings that cannot train (the fix names the field to change)."""
        try:
            self.recipe()
        except ValueError as err:
            raise KinemaInputError("training config r2", str(err), "Fix r2.slots / r2.driving_resolution / r2.attention.") from None
        if not 1 <= self.characters <= min(self.slots, MAX_ACTORS):
            raise KinemaInputError(f"r2.characters {self.characters}", f"must be in [1, r2.slots = {self.slots}] and at "
                                   f"most {MAX_ACTORS} (a puppet scene's actors)",
                                   "Bind at most as many characters as the model has binding slots.")
        if not 0.0 <= self.replace_fraction <= 1.0 or (self.characters > 1 and self.replace_fraction > 0):
            raise KinemaInputError(f"r2.replace_fraction {self.replace_fraction}",
                                   "must be in [0, 1], and 0 with several characters (puppet multi triplets animate)",
                                   "Set r2.replace_fraction=0.25 (the paper's 3:1) or 0 with r2.characters > 1.")
        if not 0 <= self.bystanders < MAX_ACTORS:
            raise KinemaInputError(f"r2.bystanders {self.bystanders}", f"must be in [0, {MAX_ACTORS - 1}]",
                                   f"A puppet scene holds at most {MAX_ACTORS} actors, the subject included.")
        side = 32 if self.driving_resolution == "half" else 16
        if data.size[0] % side or data.size[1] % side:
            raise KinemaInputError(f"data.size {data.size}", f"is not a multiple of {side} (codec stride x patch"
                                   f"{' x 2 for half-resolution driving' if side == 32 else ''})", f"Use e.g. {side * 2}.")


@dataclass(frozen=True)
class R3TrainConfig:
    """Recipe R3 (AniX §3.1) training: the settings the weights are trained for (``views``, ``anchor``,
    ``context_noise``: :class:`kinema.recipes.anix.R3Config`) and ``ar_fraction``, the share of steps trained in
    auto-regressive mode (the first quarter of the target given as context). The world tuples use ``data``'s
    samples, seed, size, frames and fps."""

    views: int = R3Config.views
    anchor: Literal["per-frame", "first-frame", "none"] = R3Config.anchor
    context_noise: float = R3Config.context_noise
    ar_fraction: float = 0.5

    def __post_init__(self) -> None:
        check_types(self, "r3.")
        require(0 <= self.ar_fraction <= 1, "r3.ar_fraction", self.ar_fraction, "in [0, 1]")
        try:
            self.recipe()
        except ValueError as err:
            raise KinemaInputError("training config r3", str(err), "Fix r3.views / r3.anchor / r3.context_noise.") from None

    def recipe(self) -> R3Config:
        """The inference-side recipe settings these weights are trained for."""
        return R3Config(self.views, self.anchor, self.context_noise)


@dataclass(frozen=True)
class HistoryConfig:
    """Long-video continuation (R1, R2; :mod:`kinema.training.history`): on a share ``fraction`` of steps the
    target's latent frames 1..``latents`` are given clean, with Gaussian noise of σ = ``noise`` (AniX §3.1.3's
    augmentation; 0 turns it off), and left out of the loss. 0 trains no continuation."""

    fraction: float = 0.0
    latents: int = 1
    noise: float = 0.1

    def __post_init__(self) -> None:
        check_types(self, "history.")
        require(0 <= self.fraction <= 1, "history.fraction", self.fraction, "in [0, 1]")
        require(1 <= self.latents <= MAX_FRAMES // 4, "history.latents", self.latents, f"in [1, {MAX_FRAMES // 4}]")
        require(0 <= self.noise <= 1, "history.noise", self.noise, "in [0, 1]")


@dataclass(frozen=True)
class DistillConfig:
    """DMD2 few-step distillation (``kinema distill``, :mod:`kinema.training.dmd`); unused by ``kinema train``.

    ``student_steps``: the student's sampling steps (its card's); ``critic_ratio``: critic updates per student
    update (DMD2's two time-scale rule, 5); ``guidance``: the teacher's text guidance in the real score;
    ``sigma_min`` / ``sigma_max``: the range of noise levels the distribution-matching gradient is taken at;
    ``from_data``: the student's inputs are the data's latents noised to its level, not simulated backward
    from noise through its own steps; ``critic_lr``: the critic's learning rate (None: ``optim.lr``)."""

    student_steps: int = 4
    critic_ratio: int = 5
    guidance: float = 1.0
    sigma_min: float = 0.02
    sigma_max: float = 0.98
    from_data: bool = False
    critic_lr: float | None = None

    def __post_init__(self) -> None:
        check_types(self, "distill.")
        require(1 <= self.student_steps <= 50, "distill.student_steps", self.student_steps, "in [1, 50]")
        require(1 <= self.critic_ratio <= 100, "distill.critic_ratio", self.critic_ratio, "in [1, 100]")
        require(0 <= self.guidance <= 50, "distill.guidance", self.guidance, "in [0, 50]")
        require(0 < self.sigma_min < self.sigma_max < 1, "distill.sigma_min", self.sigma_min,
                "above 0 and below distill.sigma_max, itself below 1")
        require(self.critic_lr is None or 0 < self.critic_lr <= 1, "distill.critic_lr", self.critic_lr, "in (0, 1]")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warm-up to ``lr`` (DreamActor-M2 §5.1: lr 5e-5, weight decay 0.01), constant, then
    linear decay to zero over the last ``decay_steps`` steps (0: no decay)."""

    lr: float = 5e-5
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0
    decay_steps: int = 0
    grad_clip: float = 1.0

    def __post_init__(self) -> None:
        check_types(self, "optim.")
        require(self.lr > 0, "optim.lr", self.lr, "positive")
        require(self.lr <= MAX_LR, "optim.lr", self.lr, f"at most {MAX_LR:g} (the presets use 5e-5 to 5e-4)")
        require(0 <= self.weight_decay < 1 / self.lr, "optim.weight_decay", self.weight_decay,
                f"0 or more and below 1 / optim.lr = {1 / self.lr:g} (AdamW shrinks weights by lr * weight_decay a step)")
        require(all(0 <= b < 1 for b in self.betas), "optim.betas", self.betas, "two numbers in [0, 1)")
        require(0 <= self.warmup_steps <= MAX_STEPS, "optim.warmup_steps", self.warmup_steps, f"in [0, {MAX_STEPS}]")
        require(0 <= self.decay_steps <= MAX_STEPS, "optim.decay_steps", self.decay_steps, f"in [0, {MAX_STEPS}]")
        require(self.grad_clip > 0, "optim.grad_clip", self.grad_clip, "positive")


@dataclass(frozen=True)
class FlowConfig:
    """Rectified flow: σ = shift·s / (1 + (shift − 1)·s), s = sigmoid(u), u ~ N(mean, std) (SD3 eq. 19)."""

    logit_mean: float = 0.0
    logit_std: float = 1.0
    shift: float = 1.0
    loss_region: Literal["character", "all"] = "character"  # R1: the driving half is given as a condition
    loss: Literal["velocity", "sample"] = "velocity"  # compare velocities (v-loss) or clean samples (x-loss)
    motion_weight: float = 0.0  # anchored models: extra loss weight where x0 differs from the anchor
    sigma_data: float = SIGMA_DATA  # prediction=preconditioned: σ_d of the data denoised (kinema.sampling.prediction)

    def __post_init__(self) -> None:
        check_types(self, "flow.")
        require(abs(self.logit_mean) <= MAX_LOGIT, "flow.logit_mean", self.logit_mean, f"in [-{MAX_LOGIT:g}, {MAX_LOGIT:g}]")
        require(self.logit_std > 0, "flow.logit_std", self.logit_std, "positive")
        require(self.logit_std <= MAX_LOGIT, "flow.logit_std", self.logit_std, f"at most {MAX_LOGIT:g}")
        require(self.shift > 0, "flow.shift", self.shift, "positive")
        require(1 / MAX_SHIFT <= self.shift <= MAX_SHIFT, "flow.shift", self.shift, f"in [{1 / MAX_SHIFT:g}, {MAX_SHIFT:g}]")
        require(0 <= self.motion_weight <= MAX_MOTION_WEIGHT, "flow.motion_weight", self.motion_weight,
                f"in [0, {MAX_MOTION_WEIGHT:g}]")
        require(0 < self.sigma_data <= 1e100, "flow.sigma_data", self.sigma_data, "in (0, 1e100]")  # σ_d² stays a float


@dataclass(frozen=True)
class TrainConfig:
    """One training run. ``batch_size`` is the global batch per optimiser step (all ranks, all micro-batches)."""

    name: str = "tiny"
    recipe: TrainRecipe = "dreamactor-m2"  # R1 (pose-driven, `data`) or R2 (SCAIL-2, `data` + `r2`)
    model: str = "tiny"  # backbone preset (random init; its codec with it), a diffusers-format Wan directory or "embedded"
    prediction: Prediction = "velocity"  # what the network outputs: v = ε − x0, x0 (x-prediction) or a skip correction
    anchor: Literal["none", "reference"] = "none"  # R1: denoise x0 − (the reference held still), see r1.anchor
    adapter: Adapter = "full"
    lora_rank: int = 8
    layout: Literal["spatial", "temporal", "aligned"] = "spatial"  # R1's token layout (kinema.recipes.dreamactor_m2)
    expert: Literal["none", "high", "low"] = "none"  # Wan2.2 MoE: the expert trained, on its own noise range
    steps: int = 20
    batch_size: int = 2
    grad_accum: int = 1
    ema_decay: float = 0.99
    text_dropout: float = 0.1  # empty prompt on this fraction of samples, for classifier-free guidance
    gradient_checkpointing: bool = False
    mixed_precision: Literal["no", "bf16"] = "no"  # bf16 autocast (CUDA, or CPUs with bf16 matrix units)
    export_dtype: Literal["float32", "float16", "bfloat16"] = "float32"  # the exported transformer's weights (full runs)
    fsdp: bool = False  # FSDP2 (fully_shard) instead of DDP when run under torchrun
    seed: int = 0
    checkpoint_every: int = 10
    keep_checkpoints: int = 2
    log_every: int = 1
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    r2: R2TrainConfig = field(default_factory=R2TrainConfig)
    r3: R3TrainConfig = field(default_factory=R3TrainConfig)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)

    def __post_init__(self) -> None:
        check_types(self, "")
        for key in ("batch_size", "grad_accum", "keep_checkpoints", "lora_rank", "checkpoint_every", "log_every"):
            require(getattr(self, key) >= 1, key, getattr(self, key), "at least 1")
        for key in ("steps", "seed"):
            require(getattr(self, key) >= 0, key, getattr(self, key), "0 or more")
        for key, most in (("steps", MAX_STEPS), ("seed", MAX_SEED), ("batch_size", MAX_BATCH), ("lora_rank", MAX_LORA_RANK)):
            require(getattr(self, key) <= most, key, getattr(self, key), f"at most {most}")
        require(self.batch_size % self.grad_accum == 0, "batch_size", self.batch_size,
                f"a multiple of grad_accum ({self.grad_accum})")
        require(0 <= self.ema_decay < 1, "ema_decay", self.ema_decay, "in [0, 1)")
        require(0 <= self.text_dropout <= 1, "text_dropout", self.text_dropout, "in [0, 1]")
        require(self.anchor == "none" or self.recipe == "dreamactor-m2", "anchor", self.anchor,
                "'none' unless recipe=dreamactor-m2")
        if self.recipe == "scail-2":
            self.r2.check(self.data)
        require(not self.history.fraction or self.recipe != "anix", "history.fraction", self.history.fraction,
                "0 for recipe=anix (R3 trains its context with r3.ar_fraction)")
        latent_frames = (self.data.frames - 1) // 4 + 1
        require(not self.history.fraction or self.history.latents < latent_frames - 1, "history.latents",
                self.history.latents, f"below {latent_frames - 1} (data.frames {self.data.frames} has {latent_frames} "
                "latent frames: the reference frame, the history and at least one to predict)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def _build(cls: type, values: dict[str, Any], strict: bool = True) -> Any:
    """Rebuild a (nested) frozen dataclass from JSON values; unknown keys are errors, or dropped unless ``strict``."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(fields)
    if unknown and strict:
        raise KinemaInputError(f"training config for {cls.__name__}", f"has unknown keys {sorted(unknown)}",
                               f"Valid keys: {', '.join(fields)}.")
    kwargs = {}
    for name, value in values.items():
        if name in unknown:
            continue
        default = getattr(cls(), name) if name != "name" else None
        if dataclasses.is_dataclass(default) and isinstance(value, dict):
            kwargs[name] = _build(type(default), value, strict)
        elif isinstance(default, tuple) and isinstance(value, list):
            kwargs[name] = tuple(value)
        else:  # anything else, right or wrong: the dataclass's type check names a wrong one
            kwargs[name] = value
    return cls(**kwargs)


def config_from_dict(values: dict[str, Any], strict: bool = True) -> TrainConfig:
    """Inverse of :meth:`TrainConfig.to_dict` (reads a run directory's ``config.json``); not ``strict``: the
    settings an older kinema had and this one dropped are ignored (a model card's ``train_config``)."""
    return _build(TrainConfig, values, strict)


# Humanoids are listed twice: half the samples are humanoids (the benchmarks' family), half animals.
PUPPET_DATA = DataConfig(samples=512, seed=1, size=(64, 64), frames=21,
                         families=("humanoid", "humanoid", "quadruped", "bird"), camera_prob=0.3)

EMBEDDED_DATA = replace(PUPPET_DATA, samples=1024, recipe="oracle", reference_pose=True,
                        augment=PoseAugmentConfig(bbox_normalize=False))


def _puppet(name: str, steps: int, data: DataConfig, decay_steps: int = 0, warmup_steps: int = 50) -> TrainConfig:
    """A stage of the embedded model: the aligned layout, x-prediction of the residual over the still reference
    with the x̂0 loss, σ shifted towards noise, bf16, batch 8; the learning rate decays over the last ``decay_steps``."""
    return TrainConfig(name=name, model="puppet", prediction="sample", anchor="reference", layout="aligned", steps=steps,
                       batch_size=8, ema_decay=0.999, mixed_precision="bf16", export_dtype="float16",
                       checkpoint_every=250, keep_checkpoints=2, log_every=10, data=data,
                       flow=FlowConfig(shift=3.0, loss="sample"),
                       optim=OptimConfig(lr=5e-4, weight_decay=0.01, warmup_steps=warmup_steps, decay_steps=decay_steps))


PRESETS: dict[str, TrainConfig] = {
    "tiny": TrainConfig(),
    # The embedded model (issue 15) on the `puppet` backbone (lossless pixel codec), from scratch on CPU, in two
    # resolutions (TRAINING.md): `puppet-32`, then `puppet` warm-started from it (--set model=runs/puppet-32/export/model).
    # Exact cross-identity triplets with the skeleton in place: the reference in another pose, as at inference;
    # driving frame 0 is the reference's own skeleton.
    "puppet-32": _puppet("puppet-32", steps=1500, data=replace(EMBEDDED_DATA, size=(32, 32), frames=13)),
    "puppet": _puppet("puppet", steps=4200, data=EMBEDDED_DATA, decay_steps=1800),
    # The same recipe on the wider `puppet-wide` backbone, from scratch on one GPU (TRAINING.md): 8x the data,
    # batch 32; run with --workers to draw the samples in parallel.
    "puppet-gpu": replace(_puppet("puppet-gpu", steps=6000, data=replace(EMBEDDED_DATA, samples=8192), decay_steps=2400,
                                  warmup_steps=200), model="puppet-wide", batch_size=32, checkpoint_every=1000),
    # Recipe R2 (issue 8): seconds on CPU, for tests.
    "tiny-r2": TrainConfig(name="tiny-r2", recipe="scail-2", data=DataConfig(samples=8), r2=R2TrainConfig(slots=2)),
    # Recipe R3 (AniX, issue 21): 3D puppet world tuples, seconds on CPU, for tests.
    "tiny-r3": TrainConfig(name="tiny-r3", recipe="anix", model="tiny-t2v", data=DataConfig(samples=2, frames=9)),
    # R2 on the `puppet` backbone, warm-started from the embedded pose model (widened channels start at zero);
    # it predicts what the embedded model predicts, but denoises the video itself (R2 has no anchor).
    "puppet-r2": TrainConfig(name="puppet-r2", recipe="scail-2", model="embedded", prediction="sample", steps=3000,
                             batch_size=8, mixed_precision="bf16",
                             ema_decay=0.999, checkpoint_every=250, keep_checkpoints=2, log_every=10,
                             data=replace(PUPPET_DATA, frames=17),
                             optim=OptimConfig(lr=2e-4, weight_decay=0.01, warmup_steps=100)),
}


def _override(config: Any, values: dict[str, Any], prefix: str = "") -> Any:
    """``config`` with fields replaced; a dict value replaces fields of a nested config, a list a tuple field.

    Raises:
        KinemaInputError: naming the key (``data.augment.nope``) of an unknown field, or of a nested config
            whose own checks refuse a value (``PoseAugmentConfig`` raises plain ValueErrors).
    """
    fields = [f.name for f in dataclasses.fields(config)]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise KinemaInputError(f"{prefix}{unknown[0]}", f"is not a field of {type(config).__name__}",
                               f"Valid keys: {', '.join(prefix + f for f in fields)}.")
    nested = {k: _override(getattr(config, k), v, f"{prefix}{k}.") for k, v in values.items()
              if isinstance(v, dict) and dataclasses.is_dataclass(getattr(config, k))}
    tuples = {k: tuple(v) for k, v in values.items() if isinstance(v, list) and isinstance(getattr(config, k), tuple)}
    try:
        return replace(config, **{**values, **nested, **tuples})
    except KinemaInputError:
        raise
    except (TypeError, ValueError) as err:
        raise KinemaInputError(prefix.rstrip(".") or "training config", str(err),
                               f"Check the values given with --set {prefix}KEY=VALUE.") from err


def get_config(preset: str, **overrides: Any) -> TrainConfig:
    """A preset by name with fields replaced (``data={"augment": {"bone_scale_prob": 0}}`` for nested ones)."""
    if preset not in PRESETS:
        raise KinemaInputError(f"training preset '{preset}'", "is unknown", f"Use one of: {', '.join(PRESETS)}.")
    return _override(PRESETS[preset], overrides)


def with_overrides(config: TrainConfig, **overrides: Any) -> TrainConfig:
    """``config`` with fields replaced as :func:`get_config` replaces a preset's."""
    return _override(config, overrides)
