"""One model loader for every pipeline: presets, model directories and their cards (``kinema.json``), the
embedded puppet model, LoRA adapters (several, each at a weight) and the sampling settings a card implies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from kinema.backbone.components import WanComponents, build_components, load_components
from kinema.backbone.config import PRESETS, get_preset
from kinema.backbone.lora import EXPERTS, AdapterSpec, Adapters, as_adapters, load_loras, load_patch_embeddings
from kinema.errors import KinemaInputError
from kinema.sampling import SamplerConfig
from kinema.sampling.prediction import SIGMA_DATA, Prediction, check_prediction

EMBEDDED = "embedded"  # the trained puppet model shipped in the package
EMBEDDED_DIR = Path(__file__).resolve().parents[1] / "assets" / "puppet" / "model"
MODEL_CARD = "kinema.json"  # written by the trainer beside the weights: how to drive the model
DEFAULT_STEPS = 30  # denoising steps for a model whose card names none (Wan's own samplers use 30–50)


def resolve_model(model: str) -> str:
    """``embedded`` -> the shipped model's directory; a run's export directory (what ``kinema train``
    prints) -> its ``model/``; anything else unchanged."""
    if model != EMBEDDED:
        export = Path(model)
        if (export / "model" / MODEL_CARD).is_file():
            return str(export / "model")
        if (export / "lora.safetensors").is_file() and not (export / "transformer").is_dir():
            raise KinemaInputError(f"--model '{model}'", "is a LoRA adapter export, not a model",
                                   f"Pass --model with the base it was trained on and --adapter {export / 'lora.safetensors'}.")
        return model
    if not (EMBEDDED_DIR / "transformer").is_dir():
        raise KinemaInputError("--model embedded", f"is not installed at {EMBEDDED_DIR}",
                               "Reinstall kinema from a full checkout, or pass --model PRESET|DIR.")
    return str(EMBEDDED_DIR)


def load_model(model: str, dtype: torch.dtype = torch.float32) -> tuple[WanComponents, bool]:
    """Components of a preset (seeded random weights: True) or of a local diffusers-format Wan directory."""
    model = resolve_model(model)
    if model in PRESETS:
        if PRESETS[model].shapes_only:
            raise KinemaInputError(f"--model '{model}'", "is the real model's shapes with no weights (random weights "
                                   "of that size fill memory and show nothing)", "Pass the Wan diffusers directory of its weights.")
        return build_components(get_preset(model)), True
    if Path(model).is_dir():
        return load_components(model, dtype), False
    raise KinemaInputError(f"--model '{model}'", "is neither a preset nor a directory",
                           f"Pass a Wan diffusers directory, 'embedded', or one of: "
                           f"{', '.join(p for p in PRESETS if not PRESETS[p].shapes_only)}.")


def sampler_for(card: dict, steps: int | None = None, guidance: float | None = None, flow_shift: float | None = None,
                scheduler: str = "unipc") -> SamplerConfig:
    """Sampling settings: what the caller gives, else the model card's, else Wan's (30 steps, guidance 5, shift 3)."""
    steps = card_steps(card) if steps is None else steps
    guidance = card.get("guidance", 5.0) if guidance is None else guidance
    flow_shift = card.get("flow_shift", 3.0) if flow_shift is None else flow_shift
    return SamplerConfig(scheduler, steps, flow_shift, guidance)


def card_steps(card: dict) -> int:
    """Denoising steps of the card's ``sampling_steps`` (chosen by evaluation for the embedded model), else 30."""
    value = card.get("sampling_steps", DEFAULT_STEPS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise KinemaInputError("model card kinema.json", f"sampling_steps {value!r} is not a whole number in 1..1000",
                               "Fix its 'sampling_steps' field.")
    return value


def card_prediction(card: dict) -> Prediction:
    """How the network's output is read (``kinema.json``'s ``prediction``; velocity for foreign Wan weights)."""
    try:
        return check_prediction(card.get("prediction", "velocity"))
    except ValueError as err:
        raise KinemaInputError("model card kinema.json", str(err), "Fix its 'prediction' field.") from None


def card_sigma_data(card: dict) -> float:
    """σ_d of a preconditioned model (``kinema.json``'s ``sigma_data``, see kinema.sampling.prediction)."""
    value = card.get("sigma_data", SIGMA_DATA)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise KinemaInputError("model card kinema.json", f"sigma_data {value!r} is not a positive number",
                               "Fix its 'sigma_data' field.")
    return float(value)


def _read_card(directory: Path) -> dict:
    path = directory / MODEL_CARD
    return json.loads(path.read_text()) if path.is_file() else {}


def model_card(model: str) -> dict:
    """The ``kinema.json`` of a model directory (empty for presets and foreign Wan checkpoints)."""
    return _read_card(Path(resolve_model(model)))


def adapter_card(model: str, adapters: Adapters = ()) -> dict:
    """The model's card, overridden by the ones kinema's trainer writes beside LoRA adapters (in their order)."""
    card = model_card(model)
    for spec in as_adapters(adapters):
        card.update(_read_card(spec.path.parent))
    return card


RECIPE_USE = {  # what a trained recipe's weights are, and the verb that drives them
    "dreamactor-m2": ("a pose-driven DreamActor-M2 (R1) model", "Use kinema animate (pose driving) with it."),
    "scail-2": ("a SCAIL-2 (R2) model, driven by raw video and subject masks",
                "Use kinema animate --driving-mode rgb or kinema replace with it."),
    "anix": ("an AniX (R3) world model, directed by text in a splat scene", "Use kinema world with it."),
}


def check_recipe(card: dict, expected: str, model: str, adapters: Adapters = ()) -> None:
    """KinemaInputError when ``card`` names a trained recipe other than ``expected``."""
    found = card.get("recipe", expected)
    if found != expected:
        what, fix = RECIPE_USE[found]
        raise KinemaInputError(model_with_adapters(model, adapters), f"is {what}", fix)


def model_with_adapters(model: str, adapters: Adapters = ()) -> str:
    """How an error names a model and its adapters: ``--model 'M' with --adapter 'A' --adapter 'B:0.5'``."""
    return f"--model '{model}'" + "".join(f" --adapter '{a}'" if i else f" with --adapter '{a}'"
                                          for i, a in enumerate(as_adapters(adapters)))


def adapter_target(components: WanComponents, spec: AdapterSpec) -> torch.nn.Module:
    """The transformer an adapter loads into: the model's one, or the Wan2.2 expert its ``high:`` / ``low:`` prefix
    (else its kinema card's ``expert``) names; KinemaInputError when that does not fit the model."""
    expert = spec.expert or _read_card(spec.path.parent).get("expert")
    if components.transformer_2 is None:
        if expert is not None:
            raise KinemaInputError(f"--adapter '{spec}'", f"is for the {expert}-noise expert of a Wan2.2 two-expert model, "
                                   "and this model has one transformer", "Use the two-expert model it was trained for.")
        return components.transformer
    if expert not in EXPERTS:
        raise KinemaInputError(f"--adapter '{spec}'", "does not say which expert of this two-expert Wan2.2 model it is for",
                               "Prefix it: --adapter high:PATH or --adapter low:PATH (Wan2.2 LoRAs come one file per expert).")
    return components.transformer if expert == "high" else components.transformer_2


def load_adapters(components: WanComponents, adapters: Adapters) -> None:
    """Load LoRAs, each at its weight, into the transformer (or each into its Wan2.2 expert), and the patch
    embeddings that one trained by kinema names in its card (trained with it; two such adapters on one
    transformer would each replace the embedding)."""
    targets: dict[int, tuple[torch.nn.Module, list[AdapterSpec]]] = {}
    for spec in as_adapters(adapters):
        target = adapter_target(components, spec)
        targets.setdefault(id(target), (target, []))[1].append(spec)
    for target, specs in targets.values():
        load_loras(target, specs)
        widened = [(a, _read_card(a.path.parent)) for a in specs]
        widened = [(a, card) for a, card in widened if "patch_embedding" in card]
        if len(widened) > 1:
            raise KinemaInputError(f"--adapter '{widened[1][0]}'", f"brings its own patch embeddings, as '{widened[0][0]}' does",
                                   "Combine at most one adapter that kinema trained with its own input layout (R1 aligned, R2) with others.")
        for spec, card in widened:
            load_patch_embeddings(target, spec.path.parent / card["patch_embedding"])


def check_offload(offload: str, device: str) -> None:
    """KinemaInputError for offloading (kinema.backbone.offload) on a run resolved to the CPU: nothing to move."""
    if device == "cpu" and offload != "none":
        raise KinemaInputError(f"--offload {offload}", "moves weights between the CPU and a GPU, and this run is on "
                               "the CPU", "Leave --offload out, or run on a GPU (--device cuda).")


def resolve_device(device: str = "auto") -> tuple[str, torch.dtype]:
    """Where a model runs and in which precision: ``auto`` is the CUDA GPU when there is one, else the CPU;
    a GPU runs bf16 (as Wan's own pipelines do), the CPU float32."""
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
        raise KinemaInputError(f"--device '{device}'", "is not auto, cpu, cuda or cuda:N", "E.g. --device cuda:0.")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device, torch.float32
    index = int(device.partition(":")[2] or 0)
    if not torch.cuda.is_available() or index >= torch.cuda.device_count():
        raise KinemaInputError(f"--device '{device}'", "names a CUDA GPU this machine does not have",
                               "Use --device cpu (or auto, which takes a GPU when there is one).")
    return device, torch.bfloat16
