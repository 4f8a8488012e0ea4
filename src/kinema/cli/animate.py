"""``kinema animate``: reference image + driving video -> animated character video."""

from __future__ import annotations

import click

from kinema.cli.options import generation_inputs, generation_options, window_options
from kinema.cli.replace import scail_options


@click.command(help="Animate a reference character with a driving video (DreamActor-M2 in-context recipe).")
@click.option("--reference", required=True, type=click.Path(), help="Reference character image (PNG/JPEG/WebP).")
@click.option("--driving", required=True, type=click.Path(), help="Driving video: raw RGB or a rendered skeleton video.")
@click.option("--out", required=True, type=click.Path(), help="Output .mp4; settings are written beside it as .json.")
@click.option("--model", default="embedded", show_default=True,
              help="embedded (the shipped puppet model), a Wan diffusers directory, or a preset name (random weights).")
@generation_options
@click.option("--guidance", type=float, default=None, help="Text classifier-free guidance scale (default: the model's, else 5).")
@click.option("--flow-shift", type=float, default=None, help="Default: the model's, else 3.0 (480p; 5.0 for 720p).")
@click.option("--layout", type=click.Choice(["spatial", "temporal", "aligned"]), default=None,
              help="R1 token layout: spatial (the paper's eq. 2), temporal or aligned (its alternatives 3 and 1). "
                   "Default: the model's, else spatial.")
@click.option("--fit", type=click.Choice(["error", "crop", "pad"]), default="error", show_default=True,
              help="What to do when an input's aspect ratio differs from the output size.")
@click.option("--driving-mode", type=click.Choice(["pose", "rgb"]), default="pose", show_default=True,
              help="pose: the driving video goes to the in-context recipe as given (e.g. a rendered skeleton); "
                   "rgb: end-to-end from the raw video (SCAIL-2 recipe, animation mode; needs subject masks).")
@click.option("--driving-pose", type=click.Path(), default=None,
              help="Keypoints of the driving video (.npz/.json from `kinema pose extract`) for pose-driven models.")
@click.option("--reference-pose", type=click.Path(), default=None,
              help="Keypoints of the reference image (.npz/.json, first frame used) for models trained with the "
                   "reference's skeleton; default: estimated by --pose-backend.")
@click.option("--pose-backend", default="puppet", show_default=True,
              help="Estimator for pose-driven models when --driving-pose (or --reference-pose) is absent; 'none': "
                   "the driving video already is a skeleton video.")
@click.option("--family", type=click.Choice(["humanoid", "quadruped", "bird"]), default="humanoid", show_default=True,
              help="The characters' puppet family, for the puppet pose backend (its keypoint layout).")
@window_options
@scail_options
def animate(reference, driving, out, model, adapter, steps, seed, size, frames, prompt, caption, guidance, scheduler,
            flow_shift, layout, fit, window, history, history_match, history_noise, overlap, driving_mode, driving_pose,
            reference_pose, pose_backend, family, masks, reference_masks, segmenter, bind, driving_resolution, device,
            offload) -> None:
    from kinema.pipelines.inputs import check_video_out

    check_video_out(out, generation_inputs((reference,), driving, caption, *(a.path for a in adapter), driving_pose, reference_pose, masks,
                                           *reference_masks))
    from kinema.cli.jobs import Request, report, run

    request = Request("animate", (reference,), driving, model, steps=steps, seed=seed, guidance=guidance,
                      flow_shift=flow_shift, scheduler=scheduler, size=size, frames=frames, prompt=prompt, caption=caption,
                      fit=fit, adapters=adapter, layout=layout, driving_mode=driving_mode, driving_pose=driving_pose,
                      reference_pose=reference_pose, pose_backend=pose_backend, pose_family=family, masks=masks,
                      reference_masks=reference_masks, segmenter=segmenter, bind=bind,
                      driving_resolution=driving_resolution, device=device, offload=offload, window=window,
                      history=history, history_match=history_match, history_noise=history_noise, overlap=overlap)
    report(run(request, out), out)
