"""DMD2 few-step distillation (Yin et al. 2024, "Improved Distribution Matching Distillation for Fast Image
Synthesis"; AniX §3.2 distils its 30-step model to 4 steps so): ``kinema distill``.

Three networks of the teacher's shape: the frozen teacher (the *real* score), the student, initialised from
the teacher, and the critic (the *fake* score), initialised from the teacher too and trained with the
ordinary flow loss on the student's samples, so that it tracks the student's distribution. The student's
update is the distribution-matching gradient (DMD eq. 7, normalised as DMD2 §4.1): its sample x̂0 is noised
to a random level σ ∈ [σ_min, σ_max], both scores denoise it, and

    ∇ = (x̂0_fake − x̂0_real) / mean|x̂0 − x̂0_real|,     applied through the surrogate ½‖x̂0 − sg(x̂0 − ∇)‖²

which moves the sample towards what the teacher would make of it, away from what the student's own
distribution would. x̂0_real uses the teacher's text guidance, baked into the student (its card samples
with guidance 1). The critic updates every iteration, the student every ``critic_ratio``-th (DMD2's two
time-scale rule, 5:1). The student's input at its step k of K is simulated from noise through its own first
k steps with the sampler inference uses (DMD2 §4.5: the inputs it will see; no real data needed), or with
``from_data`` the data's latents noised to that step's level. DMD2's optional GAN term is not implemented.

Everything else is :class:`~kinema.training.trainer.Trainer`'s: the data and conditions of the teacher's
recipe, the run directory, exact resume (the critic and its optimiser are checkpointed with the student),
the student's EMA and its export, with a card that samples in ``student_steps`` steps.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

import torch
import torch.nn.functional as F

from kinema.errors import KinemaInputError
from kinema.pipelines.models import model_card
from kinema.sampling import SamplerConfig
from kinema.sampling.flow import make_scheduler
from kinema.sampling.prediction import to_sample, to_velocity
from kinema.training.config import DistillConfig, HistoryConfig, TrainConfig, config_from_dict, with_overrides
from kinema.training.data import stack
from kinema.training.flow import NUM_TRAIN_TIMESTEPS, loss_pair, noisy_latents, sample_sigmas
from kinema.training.rundir import Checkpoint
from kinema.training.trainer import Trainer, learning_rate, load_backbone, trained_part

CRITIC = "critic."  # prefix of the critic's tensors in a checkpoint


DISTILL_LR = 2e-5  # student and critic: a fine-tune of trained weights (DMD2 used 2e-6 on SDXL's 2.6 B)


def distill_config(teacher: str, student_steps: int, iterations: int, **overrides) -> TrainConfig:
    """The run that distils ``teacher`` (``embedded`` or a kinema-trained model directory) into ``student_steps``
    steps over ``iterations`` critic updates: the teacher's own training config (its data and recipe, from its
    card), full weights, no long-video history, ``DISTILL_LR``, the teacher's text guidance in the real score;
    ``overrides`` as ``kinema train``'s ``--set``."""
    card = model_card(teacher)
    if not isinstance(card.get("train_config"), dict):
        raise KinemaInputError(f"--teacher {teacher}", "has no training config in its model card (kinema.json's "
                               "train_config): the data and recipe to distil on are unknown",
                               "Distil a model kinema trained, e.g. --teacher embedded.")
    base = config_from_dict(card["train_config"], strict=False)
    config = replace(base, name="distill", model=teacher, steps=iterations, adapter="full", history=HistoryConfig(),
                     optim=replace(base.optim, lr=DISTILL_LR, warmup_steps=0, decay_steps=0),
                     distill=DistillConfig(student_steps=student_steps, guidance=float(card.get("guidance", 5.0))))
    return with_overrides(config, **overrides)


class Distiller(Trainer):
    """A DMD2 run in ``out``: ``config.model`` is the teacher, ``config.distill`` the distillation settings,
    ``config.steps`` the iterations (critic updates)."""

    # -- networks ---------------------------------------------------------------------------------
    def prepare_networks(self) -> None:
        c = self.config
        if self.world.size > 1:
            raise KinemaInputError("kinema distill", "runs in one process", "Run it without torchrun.")
        if c.adapter != "full":
            raise KinemaInputError(f"adapter {c.adapter}", "is not supported by kinema distill yet (full weights only)",
                                   "Leave adapter at full.")
        self.teacher = self._copy_of_teacher().requires_grad_(False).eval()
        self.critic = self._copy_of_teacher().requires_grad_(True).train()
        self.critic_params = dict(self.critic.named_parameters())
        o = c.optim
        self.critic_optimizer = torch.optim.AdamW(list(self.critic_params.values()), lr=c.distill.critic_lr or o.lr,
                                                  betas=o.betas, weight_decay=o.weight_decay)
        teacher_card = model_card(c.model)
        self.sampler = SamplerConfig("unipc", c.distill.student_steps, teacher_card.get("flow_shift", 3.0), 1.0)
        self.teacher_steps = teacher_card.get("sampling_steps")
        self._metrics: dict[str, float | None] = {}

    def _copy_of_teacher(self) -> torch.nn.Module:
        """The teacher's transformer, freshly loaded, with the recipe's inputs."""
        components = trained_part(load_backbone(self.config)[0], self.config)
        components.to(self.world.device)
        self.recipe.prepare(components)
        return components.transformer

    # -- state ------------------------------------------------------------------------------------
    def state_names(self) -> tuple[list[str], list[str]]:
        return [*self.params, *(CRITIC + k for k in self.critic_params)], list(self.params)

    def checkpoint(self) -> Checkpoint:
        student = super().checkpoint()
        critic = {CRITIC + k: p.detach().cpu().clone() for k, p in self.critic_params.items()}
        return Checkpoint(student.step, {**student.model, **critic}, student.ema,
                          {"student": student.optimizer, "critic": self.critic_optimizer.state_dict()})

    def _restore(self, ckpt: Checkpoint) -> None:
        student = {k: v for k, v in ckpt.model.items() if not k.startswith(CRITIC)}
        super()._restore(Checkpoint(ckpt.step, student, ckpt.ema, ckpt.optimizer["student"]))
        with torch.no_grad():
            for name, param in self.critic_params.items():
                param.copy_(ckpt.model[CRITIC + name])
        self.critic_optimizer.load_state_dict(ckpt.optimizer["critic"])

    # -- one iteration ------------------------------------------------------------------------------
    def train_step(self) -> float:
        """One critic update, and on every ``critic_ratio``-th iteration first a student update; returns the
        critic's flow loss."""
        c, d, device = self.config, self.config.distill, self.world.device
        generator = torch.Generator().manual_seed(c.seed * 1_000_003 + self.step)
        samples = [self.data[i] for i in self.recipe.batch(self.step)]
        text = stack(samples, "text", device)
        conditions = self.recipe.conditions(samples, text, device)
        student_turn = (self.step + 1) % d.critic_ratio == 0
        scale = learning_rate(c, self.step) / c.optim.lr
        x0 = self.student_sample(samples, conditions, generator, grad=student_turn)
        self._metrics = {"student_updated": int(student_turn), "dmd_gap": None, "student_grad_norm": None}
        if student_turn:
            self.student_step(x0, samples, conditions, generator, scale)
        loss = self.critic_step(x0.detach(), samples, conditions, generator, scale)
        self.step += 1
        return loss

    def student_sample(self, samples: list[dict], conditions: dict, generator: torch.Generator,
                        grad: bool) -> torch.Tensor:
        """x̂0 (B, C, F, H, W) of the student at a random step k of its K: its input simulated from noise through
        steps 0..k−1 (or the data noised to step k's level), its prediction there with gradients if ``grad``."""
        c, device = self.config, self.world.device
        shape = (len(samples), *samples[0]["x0"].shape)
        noise = torch.randn(shape, generator=generator).to(device)
        k = int(torch.randint(c.distill.student_steps, (1,), generator=generator))
        scheduler = make_scheduler(self.sampler)
        scheduler.set_timesteps(self.sampler.steps, device=device)
        batch = lambda v: v.expand(len(samples)).to(device, torch.float32)  # noqa: E731
        if c.distill.from_data:
            x0 = stack(samples, "x0", device)
            anchor = self.recipe.anchor(samples, device)
            x = noisy_latents(x0 if anchor is None else x0 - anchor, noise, batch(scheduler.sigmas[k]))[0]
        else:
            x = noise
            with torch.no_grad(), self._autocast():
                for j in range(k):
                    sigma = batch(scheduler.sigmas[j])
                    out = self.model(x, batch(scheduler.timesteps[j]), **conditions).float()
                    x = scheduler.step(to_velocity(out, x, sigma, c.prediction, c.flow.sigma_data),
                                       scheduler.timesteps[j], x, return_dict=False)[0]
        sigma = batch(scheduler.sigmas[k])
        with (contextlib.nullcontext() if grad else torch.no_grad()), self._autocast():
            out = self.model(x, batch(scheduler.timesteps[k]), **conditions).float()
        return to_sample(out, x, sigma, c.prediction, c.flow.sigma_data)

    def _estimate(self, network: torch.nn.Module, x_t: torch.Tensor, sigma: torch.Tensor,
                  conditions: dict) -> torch.Tensor:
        """``network``'s clean estimate x̂0 of ``x_t`` at noise levels ``sigma`` (B,)."""
        c = self.config
        with self._autocast():
            out = self.recipe.predict(network, x_t, sigma * NUM_TRAIN_TIMESTEPS, **conditions).float()
        return to_sample(out, x_t, sigma, c.prediction, c.flow.sigma_data)

    @torch.no_grad()
    def dmd_gradient(self, x0: torch.Tensor, samples: list[dict], conditions: dict,
                     generator: torch.Generator) -> torch.Tensor:
        """The normalised distribution-matching gradient (B, C, F, H, W) at the student's samples ``x0``: noised to a
        random level in [σ_min, σ_max], denoised by the critic and by the teacher (with its guidance)."""
        d, device = self.config.distill, self.world.device
        b = len(samples)
        sigma = (d.sigma_min + (d.sigma_max - d.sigma_min) * torch.rand(b, generator=generator)).to(device)
        noise = torch.randn(x0.shape, generator=generator).to(device)
        x_t = noisy_latents(x0, noise, sigma)[0]
        real = self._estimate(self.teacher, x_t, sigma, conditions)
        if d.guidance != 1.0:
            empty = self.empty_text[None].expand(b, *self.empty_text.shape).to(device)
            unconditional = self._estimate(self.teacher, x_t, sigma, self.recipe.conditions(samples, empty, device))
            real = unconditional + d.guidance * (real - unconditional)
        fake = self._estimate(self.critic, x_t, sigma, conditions)
        weight = (x0 - real).abs().mean(dim=tuple(range(1, x0.ndim)), keepdim=True).clamp_min(1e-6)
        self._metrics["dmd_gap"] = float((fake - real).abs().mean())
        return (fake - real) / weight

    def student_step(self, x0: torch.Tensor, samples: list[dict], conditions: dict, generator: torch.Generator,
                        scale: float) -> None:
        """One student step along the distribution-matching gradient (through its surrogate loss)."""
        c = self.config
        gradient = self.dmd_gradient(x0.detach(), samples, conditions, generator)
        loss = 0.5 * F.mse_loss(x0, (x0 - gradient).detach())
        for group in self.optimizer.param_groups:
            group["lr"] = c.optim.lr * scale
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(self.params.values()), c.optim.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.ema.update(self.params, self.step)
        self._metrics["student_grad_norm"] = float(norm)

    def critic_step(self, x0: torch.Tensor, samples: list[dict], conditions: dict, generator: torch.Generator,
                       scale: float) -> float:
        """One flow-loss step of the critic on the student's samples (as the teacher was trained on data)."""
        c, device = self.config, self.world.device
        sigma = sample_sigmas(len(samples), c.flow, generator).to(device)
        noise = torch.randn(x0.shape, generator=generator).to(device)
        x_t = noisy_latents(x0, noise, sigma)[0]
        with self._autocast():
            out = self.recipe.predict(self.critic, x_t, sigma * NUM_TRAIN_TIMESTEPS, **conditions).float()
            pred, target = loss_pair(out, x_t, x0, noise, sigma, c.prediction, c.flow)
            loss = self.recipe.loss(pred, target, samples).mean()
        for group in self.critic_optimizer.param_groups:
            group["lr"] = (c.distill.critic_lr or c.optim.lr) * scale
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(list(self.critic_params.values()), c.optim.grad_clip)
        self.critic_optimizer.step()
        self.critic_optimizer.zero_grad(set_to_none=True)
        self._last_grad_norm = float(norm)
        return float(loss.detach())

    def step_metrics(self) -> dict[str, float | None]:
        return {"critic_grad_norm": self._last_grad_norm, **self._metrics}

    # -- export -----------------------------------------------------------------------------------
    def model_card(self) -> dict:
        """The teacher's card with the student's sampling: ``student_steps`` steps, guidance baked in."""
        d = self.config.distill
        return {**super().model_card(), "sampling_steps": d.student_steps, "guidance": 1.0,
                "distilled": {"method": "dmd2", "teacher": self.config.model, "teacher_steps": self.teacher_steps,
                              "teacher_guidance": d.guidance, "iterations": self.step,
                              "student_updates": self.step // d.critic_ratio}}

