"""The widgets of each tab: the CLI verb's options, with the model card's defaults, turned into a :class:`Request`.

Each widget fills the :class:`~kinema.cli.jobs.Request` field of the same name; a converter per field turns
Gradio's value (a list of uploads, '' for "the model's") into the field's type. Nothing here checks a value:
the pipeline does, with the CLI's messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr
from gradio.data_classes import FileData

from kinema.backbone.config import PRESETS
from kinema.backbone.lora import AdapterSpec, parse_adapter
from kinema.pipelines.models import EMBEDDED
from kinema.pose.estimators import ESTIMATORS
from kinema.cli.jobs import Mode, Request
from kinema.cli.options import parse_size
from kinema.cli.replace import parse_bind
from kinema.ui.jobs import card_defaults

DEFAULT_MODELS: dict[Mode, str] = {"animate": EMBEDDED, "replace": "tiny"}  # the CLI verbs' --model defaults
PANEL_HEIGHT = 260  # px: the inputs, the result and the target side by side
MODEL_HELP = ("embedded (the shipped puppet model), a Wan diffusers directory on the server, "
              "or a preset (random weights)")
MODELS_DEFAULT = "the model's"
Converter = Callable[[Any], Any]


def image_file(**kwargs: Any) -> gr.Image:
    """An image box whose upload is handed on as the uploaded file itself (gr.Image would open it with Pillow
    first), so that kinema's ``load_image`` reads and checks it with the CLI's messages. The one method is
    replaced on the instance: a subclass of a Gradio component makes Gradio write a .pyi stub beside its source."""
    widget = gr.Image(type="filepath", image_mode=None, **kwargs)

    def uploaded_file(payload: FileData | None) -> str | None:
        return None if payload is None else payload.path

    widget.preprocess = uploaded_file
    return widget


def as_files(value: str | list[str] | None) -> tuple[str, ...]:
    """One upload or several -> a tuple of paths."""
    return () if not value else (value,) if isinstance(value, str) else tuple(value)


def as_text(value: str | None) -> str:
    return (value or "").strip()


def as_optional_text(value: str | None) -> str | None:
    """'' (no upload, or the "model's" choice) -> None: the CLI's option left out."""
    return as_text(value) or None


def as_size(value: str | None) -> tuple[int, int] | None:
    """The Size box: 'WIDTHxHEIGHT' parsed as ``--size`` is (its message when it is not), '' -> the model's."""
    text = as_text(value)
    return parse_size(text) if text else None


def as_bind(value: str | None) -> tuple[int, ...] | None:
    """The Bind box: '1,0' parsed as ``--bind`` is, '' -> left to right."""
    text = as_text(value)
    return parse_bind(text) if text else None


def as_adapters(value: str | None) -> tuple[AdapterSpec, ...]:
    """The LoRA box: one ``PATH[:WEIGHT]`` per line, parsed as each ``--adapter`` is; '' -> none."""
    return tuple(parse_adapter(line.strip()) for line in as_text(value).splitlines() if line.strip())


def as_optional_int(value: float | None) -> int | None:
    """An emptied number box -> None: the CLI's option left out (for steps: the model card's)."""
    return None if value is None else int(value)


def as_seed(value: float | None) -> int:
    """An emptied seed box -> 0, the CLI's default seed."""
    return int(value or 0)


def as_frames(value: float | None) -> int | None:
    """The Frames box (a number box cannot be empty): 0 -> None, the CLI's default of all frames."""
    return int(value) or None if value is not None else None


def as_gallery(value: list[tuple[str, str | None]] | None) -> tuple[str, ...]:
    """A gallery's uploads, (path, caption) pairs -> a tuple of paths."""
    return tuple(path for path, _ in value or ())


def as_optional_float(value: float | None) -> float | None:
    return None if value is None else float(value)


@dataclass
class Form:
    """One tab's widgets by the Request field each fills, and the hidden key of the puppet example in them."""

    mode: Mode
    fields: dict[str, tuple[gr.components.Component, Converter]]
    example: gr.Textbox

    @property
    def inputs(self) -> set[gr.components.Component]:
        return {widget for widget, _ in self.fields.values()} | {self.example}

    def widget(self, name: str) -> gr.components.Component:
        return self.fields[name][0]

    def request(self, values: dict[gr.components.Component, Any]) -> Request:
        """The Request the widgets' ``values`` (as Gradio passes a set of inputs) describe."""
        named = {name: convert(values[widget]) for name, (widget, convert) in self.fields.items()}
        return Request(mode=self.mode, **named)


def model_choices(default: str) -> list[str]:
    """``default`` first, then the presets that have weights to build (the CLI refuses shapes-only ones)."""
    return [default, *(name for name, preset in PRESETS.items() if not preset.shapes_only and name != default)]


def sampling_widgets(mode: Mode) -> dict[str, tuple[gr.components.Component, Converter]]:
    """Model, steps and seed (shown beside the button), with the default model's card's steps."""
    model = DEFAULT_MODELS[mode]
    defaults = card_defaults(model)
    return {
        "model": (gr.Dropdown(model_choices(model), value=model, label="Model", allow_custom_value=True,
                              scale=3, elem_id=f"{mode}-model"), as_text),
        "steps": (gr.Number(defaults.steps, label="Steps", precision=0, minimum=1, maximum=1000, scale=1,
                            elem_id=f"{mode}-steps"), as_optional_int),
        "seed": (gr.Number(0, label="Seed", precision=0, minimum=0, scale=1, elem_id=f"{mode}-seed"), as_seed),
    }


def generation_widgets(mode: Mode) -> dict[str, tuple[gr.components.Component, Converter]]:
    """The options every generating verb shares (``kinema.cli.options.generation_options``) but model, steps and
    seed, with the default model's card's guidance and flow shift."""
    defaults = card_defaults(DEFAULT_MODELS[mode])
    gr.Markdown(f"**Model**: {MODEL_HELP}. The defaults are the CLI's: the model card's where it has one.",
                elem_classes=["hint"])
    with gr.Row():
        widgets = {
            "guidance": (gr.Number(defaults.guidance, label="Guidance", info="text CFG scale (the model's)"),
                         as_optional_float),
            "flow_shift": (gr.Number(defaults.flow_shift, label="Flow shift", info="the model's"), as_optional_float),
            "scheduler": (gr.Radio(["unipc", "euler"], value=defaults.scheduler, label="Scheduler"), as_text),
            "size": (gr.Textbox(label="Size", placeholder="WIDTHxHEIGHT",
                                info="default: the model's, else the driving video's"), as_size),
            "frames": (gr.Number(0, label="Frames", precision=0, minimum=0, info="0: all; rounded to 1 + 4k"),
                       as_frames),
        }
    with gr.Row():
        widgets["fit"] = (gr.Radio(["error", "crop", "pad"], value="error", label="Fit",
                                   info="when an input's aspect ratio differs from the output size"), as_text)
        widgets["caption"] = (gr.Radio(["none", "openai"], value="none", label="Caption",
                                       info="write the prompt from captions (server in KINEMA_LLM_BASE_URL)"), as_text)
        widgets["adapters"] = (gr.Textbox(label="LoRA adapters", lines=2,
                                          placeholder="path on the server (.safetensors), :WEIGHT after it to "
                                                      "scale it; one per line"), as_adapters)
    return widgets


def pose_widgets() -> dict[str, tuple[gr.components.Component, Converter]]:
    """``kinema animate``'s own options: driving mode, R1 token layout and the skeletons of a pose-driven model."""
    with gr.Row():
        return {
            "driving_mode": (gr.Radio(["pose", "rgb"], value="pose", label="Driving mode",
                                      info="rgb: end-to-end from the raw video (recipe R2: an R2 model and masks)"),
                             as_text),
            "layout": (gr.Dropdown([(MODELS_DEFAULT, ""), "spatial", "temporal", "aligned"], value="", label="Layout",
                                   info="R1 token layout"), as_optional_text),
            "pose_backend": (gr.Dropdown([*ESTIMATORS, "none"], value="puppet", label="Pose backend",
                                         allow_custom_value=True,
                                         info="estimates skeletons not given as files; none: a skeleton video"), as_text),
            "pose_family": (gr.Dropdown(["humanoid", "quadruped", "bird"], value="humanoid", label="Family",
                                        info="the characters' puppet family (puppet backend)"), as_text),
            "driving_pose": (gr.File(label="Driving keypoints (.npz/.json)"), as_optional_text),
            "reference_pose": (gr.File(label="Reference keypoints (.npz/.json)"), as_optional_text),
        }


def mask_widgets(mode: Mode) -> dict[str, tuple[gr.components.Component, Converter]]:
    """Recipe R2's options (``kinema.cli.replace.scail_options``): subject masks, segmenter, binding, resolution."""
    with gr.Row():
        return {
            "masks": (gr.File(label="Driving masks", elem_id=f"{mode}-masks"), as_optional_text),
            "reference_masks": (gr.File(label="Reference masks", file_count="multiple"), as_files),
            "segmenter": (gr.Dropdown(["mediapipe"], value="mediapipe", label="Segmenter",
                                      info="masks not given as files (one person; optional extra)"), as_text),
            "bind": (gr.Textbox(label="Bind", placeholder="1,0", info="driving subject of each reference, 0 = leftmost"),
                     as_bind),
            "driving_resolution": (gr.Dropdown([(MODELS_DEFAULT, ""), "full", "half"], value="",
                                               label="Driving resolution"), as_optional_text),
        }
