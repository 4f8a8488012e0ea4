"""The page's tabs: inputs, the result beside them (and the exact target for puppet examples), the verb's options,
the status line and downloads, and the puppet examples.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from kinema.cli.jobs import Mode
from kinema.ui.examples import PuppetExample
from kinema.ui.forms import (
    PANEL_HEIGHT, Form, as_files, as_gallery, as_optional_text, generation_widgets, image_file, mask_widgets,
    pose_widgets, sampling_widgets,
)

VIDEO_SOURCES = ["upload"]


@dataclass
class Tab:
    """One mode's page: its form, the button that runs it, where the result goes, and its examples."""

    form: Form
    run: gr.Button
    result: gr.Video
    target: gr.Video
    status: gr.Markdown
    downloads: gr.File
    examples: gr.Examples
    own_files: list  # event listeners of the user replacing or removing an input: the inputs are no longer the example

    @property
    def outputs(self) -> set[gr.components.Component]:
        return {self.result, self.target, self.status, self.downloads}


def _video_panel(label: str, elem_id: str, **kwargs) -> gr.Video:
    return gr.Video(label=label, height=PANEL_HEIGHT, elem_id=elem_id, elem_classes=["panel"], **kwargs)


def _outputs(mode: Mode) -> tuple[gr.Video, gr.Video]:
    """The result and, hidden until a puppet example runs, its exact target."""
    result = _video_panel("Result", f"{mode}-result", interactive=False, autoplay=True, loop=True)
    target = _video_panel("Exact target (puppet world)", f"{mode}-target", interactive=False, autoplay=True, loop=True,
                          visible=False)
    return result, target


def _run_row(mode: Mode, button: str) -> tuple[dict, gr.Button]:
    """Prompt, model, steps, seed and the button, in one row under the panels."""
    with gr.Row(equal_height=True):
        prompt = gr.Textbox(label="Prompt", placeholder="optional text description of the target video", scale=4,
                            elem_id=f"{mode}-prompt")
        widgets = {"prompt": (prompt, str), **sampling_widgets(mode)}
        run = gr.Button(button, variant="primary", scale=1, min_width=140, elem_id=f"{mode}-run")
    return widgets, run


def _report(mode: Mode) -> tuple[gr.Markdown, gr.File]:
    """The job's status (notes, scores or the error) and the downloads of the video and its settings."""
    with gr.Row():
        with gr.Column(scale=3):
            status = gr.Markdown("", elem_id=f"{mode}-status", elem_classes=["status"])
        downloads = gr.File(label="Downloads: video, settings JSON", file_count="multiple", interactive=False,
                            visible=False, scale=2, elem_id=f"{mode}-downloads")
    return status, downloads


def animate_tab(examples: list[PuppetExample]) -> Tab:
    """``kinema animate``: a reference image and a driving video; the embedded model by default."""
    mode: Mode = "animate"
    with gr.Tab("Animate", id=mode):
        with gr.Row(equal_height=True):
            reference = image_file(label="Reference character", height=PANEL_HEIGHT, sources=["upload", "clipboard"],
                                   elem_id="animate-reference", elem_classes=["panel"])
            driving = _video_panel("Driving video", "animate-driving", sources=VIDEO_SOURCES)
            result, target = _outputs(mode)
        widgets, run = _run_row(mode, "Animate")
        with gr.Accordion("More options (as kinema animate --help)", open=False, render=False) as more:
            widgets |= generation_widgets(mode) | pose_widgets() | mask_widgets(mode)
        widgets |= {"references": (reference, as_files), "driving": (driving, as_optional_text)}
        form = Form(mode, widgets, gr.Textbox(label="Puppet case", visible=False))
        names = ["references", "driving", "prompt", "driving_pose", "reference_pose", "masks", "reference_masks"]
        rows = [[ex.file("reference_0.png"), ex.file("driving.mp4"), ex.prompt, ex.file("driving_kp0.npz"),
                 ex.file("reference_0_kp0.npz"), ex.file("driving_masks.npz"), [ex.file("reference_0_masks.npz")],
                 ex.key] for ex in examples]
        puppet = _examples(form, names, rows)
        status, downloads = _report(mode)
        more.render()
    own_files = [reference.upload, reference.clear, driving.upload, driving.clear]
    return Tab(form, run, result, target, status, downloads, puppet, own_files)


def replace_tab(examples: list[PuppetExample]) -> Tab:
    """``kinema replace``: reference characters take the place of the driving video's subjects (recipe R2)."""
    mode: Mode = "replace"
    with gr.Tab("Replace", id=mode):
        gr.Markdown("No trained R2 model ships: the default `tiny` has random weights and shows the pipeline working, "
                    "not a trained replacement. Pass a model trained with `kinema train --preset puppet-r2`.",
                    elem_classes=["hint"])
        with gr.Row(equal_height=True):
            references = gr.Gallery(label="References (one image a character)", type="filepath", interactive=True,
                                    columns=2, height=PANEL_HEIGHT, object_fit="contain", elem_id="replace-references",
                                    elem_classes=["panel"])
            driving = _video_panel("Driving video", "replace-driving", sources=VIDEO_SOURCES)
            result, target = _outputs(mode)
        widgets, run = _run_row(mode, "Replace")
        widgets |= mask_widgets(mode)
        with gr.Accordion("More options (as kinema replace --help)", open=False, render=False) as more:
            widgets |= generation_widgets(mode)
        widgets |= {"references": (references, as_gallery), "driving": (driving, as_optional_text)}
        form = Form(mode, widgets, gr.Textbox(label="Puppet case", visible=False))
        names = ["references", "driving", "prompt", "masks", "reference_masks", "bind"]
        rows = [[[ex.file("reference_0.png")], ex.file("driving.mp4"), ex.prompt, ex.file("driving_masks.npz"),
                 [ex.file("reference_0_masks.npz")], str(ex.bind), ex.key] for ex in examples]
        puppet = _examples(form, names, rows)
        status, downloads = _report(mode)
        more.render()
    own_files = [references.upload, references.delete, driving.upload, driving.clear]
    return Tab(form, run, result, target, status, downloads, puppet, own_files)


def _examples(form: Form, names: list[str], rows: list[list]) -> gr.Examples:
    """The examples table (reference, driving and case shown): a click fills ``names``' widgets and the hidden
    example key with a case's files."""
    return gr.Examples(rows, [*(form.widget(n) for n in names), form.example], label="Puppet examples: held-out "
                       "cases with an exact target; a click runs the model on them", visible_columns=[0, 1, len(names)],
                       api_name=False)
