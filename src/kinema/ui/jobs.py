"""One press of Animate or Replace: a :class:`~kinema.cli.jobs.Request` run by the CLI verbs' own
:func:`kinema.cli.jobs.run`.

Uploads reach the pipeline as the uploaded files themselves, so every check (unreadable image, corrupt or
empty video, aspect mismatch, absurd size or steps, an output that cannot be written) and its message is
the CLI's, raised as :class:`KinemaInputError` before anything is written.
"""

from __future__ import annotations

import os
from pathlib import Path

from kinema.backbone.lora import Adapters
from kinema.cli import jobs
from kinema.cli.jobs import Request
from kinema.errors import KinemaInputError
from kinema.pipelines.dreamactor_m2 import AnimationResult
from kinema.pipelines.models import adapter_card, sampler_for
from kinema.sampling import SamplerConfig

UPLOAD_FIX = {"reference image": "Drop a PNG, JPEG or WebP picture of the character in the Reference box, "
                                 "or click a puppet example.",
              "driving video": "Drop a video (mp4, mov, webm, gif) in the Driving box, or click a puppet example."}


def check_uploads(request: Request) -> None:
    """KinemaInputError naming the missing upload: the CLI requires --reference and --driving."""
    if not request.references:
        raise KinemaInputError("reference image", "was not uploaded", UPLOAD_FIX["reference image"])
    if request.driving is None:
        raise KinemaInputError("driving video", "was not uploaded", UPLOAD_FIX["driving video"])


def run(request: Request, out: str | os.PathLike) -> AnimationResult:
    """Run ``request`` as the CLI verb it mirrors, writing ``out`` (.mp4) and its settings .json beside it."""
    check_uploads(request)
    return jobs.run(request, out, keep_frames=True)  # a puppet example's frames are scored


def card_defaults(model: str, adapters: Adapters = ()) -> SamplerConfig:
    """The sampling settings a job on ``model`` gets when the form leaves them alone (the CLI's defaults)."""
    return sampler_for(adapter_card(model, adapters))


def output_path(root: Path, run_id: str) -> Path:
    """Where a job writes its video; nothing is created until the pipeline writes it."""
    return root / f"kinema-{run_id}.mp4"
