"""``kinema caption``: the motion, appearance and fused texts of a (reference, driving) pair."""

from __future__ import annotations

from pathlib import Path

import click

from kinema.errors import KinemaInputError


def _checked_pair(reference: Path, driving: Path, labels: Path | None):  # noqa: ANN202 - PuppetPair
    """The puppet labels of ``reference`` and ``driving``, checked against the files' sizes."""
    from kinema.guidance.puppet_labels import check_size, puppet_pair
    from kinema.io import load_image, read_video

    image = load_image(reference, "reference")  # a missing file is named as such, before its labels
    pair = puppet_pair(reference, labels)
    check_size(pair.reference, (image.shape[1], image.shape[0]), f"reference '{reference}'")
    check_size(pair.driving, read_video(driving, max_frames=1, name="driving video").size, f"driving video '{driving}'")
    return pair


def _puppet(reference: Path, driving: Path, labels: Path | None, max_chars: int | None) -> dict:
    from kinema.guidance import Driving, PuppetBackend, Reference, puppet_description

    pair = _checked_pair(reference, driving, labels)
    captions = PuppetBackend().captions(Reference(labels=pair.reference), Driving(labels=pair.driving, subject=pair.subject))
    out = {"backend": "puppet", "motion": captions.motion, "appearance": captions.appearance, "fused": captions.fused}
    if max_chars is not None:
        out["short"] = puppet_description(pair.reference, pair.driving, max_chars, pair.subject)
    return out


def _openai(reference: Path, driving: Path, fusion: str, overrides: dict, no_cache: bool) -> dict:
    """The three texts from the chat server; its failures exit with status 1 naming the error."""
    from dataclasses import replace

    from kinema.guidance import Driving, GuidanceError, LLMConfig, Reference, get_backend
    from kinema.guidance.prompts import PROMPT_VERSION
    from kinema.io import load_image, read_video

    config = LLMConfig.from_env(**overrides).require_endpoint()
    if no_cache:
        config = replace(config, cache_dir=None)
    image = load_image(reference, "reference")
    # Only the first `seconds` are described: decoding stops there for any frame rate up to 240 fps.
    video = read_video(driving, max_frames=int(config.seconds * 240), name="driving video")
    try:
        captions = get_backend("openai", config=config, fusion=fusion).captions(Reference(image), Driving(video.frames, video.fps))
    except GuidanceError as err:
        raise click.ClickException(f"{type(err).__name__}: {err}") from err
    return {"backend": "openai", "model": config.model, "prompt_version": PROMPT_VERSION, "fusion": fusion,
            "motion": captions.motion, "appearance": captions.appearance, "fused": captions.fused}


def prompt_for(prompt: str, caption: str, references: tuple[str, ...], driving: str, card: dict) -> str:
    """``prompt``, or with ``caption`` != 'none' the text condition written from captions of
    (``references``, ``driving``), announced on stderr: T_fusion per bound subject, cut to
    ``card['text_chars']`` when the model was trained on puppet captions of that budget."""
    if caption == "none":
        return prompt
    if prompt:
        raise KinemaInputError("--prompt and --caption", "were both given", "Drop --prompt or --caption.")
    if caption == "puppet":
        from kinema.guidance.puppet import pairs_description

        pairs = [_checked_pair(Path(r), Path(driving), None) for r in references]
        prompt = pairs_description([(p.reference, p.driving, p.subject) for p in pairs], card.get("text_chars"))
    elif len(references) != 1:
        raise KinemaInputError("--caption openai", f"describes one reference, not {len(references)}",
                               "Pass --prompt for several characters (or --caption puppet for puppet samples).")
    else:
        prompt = _openai(Path(references[0]), Path(driving), "llm", {}, no_cache=False)["fused"]
    click.echo(f"note: prompt from {caption} captions: {prompt}", err=True)
    return prompt


@click.command()
@click.option("--reference", required=True, type=click.Path(path_type=Path), help="Reference character image.")
@click.option("--driving", required=True, type=click.Path(path_type=Path), help="Driving video.")
@click.option("--backend", type=click.Choice(["openai", "puppet"]), default="openai", show_default=True,
              help="openai: a chat-completions server (KINEMA_LLM_BASE_URL, KINEMA_LLM_MODEL, KINEMA_LLM_API_KEY); "
                   "puppet: exact captions from the sample's labels.json.")
@click.option("--labels", type=click.Path(path_type=Path), default=None,
              help="puppet: the sample's labels.json from `kinema synth` (default: the one beside --reference).")
@click.option("--fusion", type=click.Choice(["llm", "rules"]), default="llm", show_default=True,
              help="openai: fuse with the model or with the rule-based body-part mapping.")
@click.option("--base-url", default=None, help="openai: server URL up to /v1 (overrides KINEMA_LLM_BASE_URL).")
@click.option("--model", default=None, help="openai: model name (overrides KINEMA_LLM_MODEL).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, help="openai: seconds per request.")
@click.option("--frames", type=click.IntRange(min=1), default=None, help="openai: driving frames sent (default 8).")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="openai: answer cache directory (default ~/.cache/kinema/llm or KINEMA_LLM_CACHE).")
@click.option("--no-cache", is_flag=True, help="openai: neither read nor write the answer cache.")
@click.option("--max-chars", type=click.IntRange(min=8), default=None, help="puppet: also print the short form within N characters.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the texts as JSON here.")
def caption(reference: Path, driving: Path, backend: str, labels: Path | None, fusion: str, base_url: str | None,
            model: str | None, timeout: float | None, frames: int | None, cache: Path | None, no_cache: bool,
            max_chars: int | None, out: Path | None) -> None:
    """Print the motion (T_m), appearance (T_a) and fused (T_fusion) texts, DreamActor-M2 §3.3."""
    from kinema.io import check_output, write_json_atomic

    if out is not None:
        if out.suffix != ".json":
            raise KinemaInputError(f"--out '{out}'", f"has suffix '{out.suffix}'", "Use a .json file.")
        # the sample's labels.json beside the reference is never overwritten, whichever labels the backend reads
        check_output(out, "--out", (reference, driving, labels, reference.parent / "labels.json"))
    if backend == "puppet":
        texts = _puppet(reference, driving, labels, max_chars)
    else:
        if labels is not None or max_chars is not None:
            raise KinemaInputError("--labels/--max-chars", "are options of the puppet backend", "Add --backend puppet or drop them.")
        overrides = {"base_url": base_url, "model": model, "timeout_s": timeout, "num_frames": frames, "cache_dir": cache}
        texts = _openai(reference, driving, fusion, overrides, no_cache)
    for key in ("motion", "appearance", "fused", "short"):
        if key in texts:
            click.echo(f"{key}: {texts[key]}")
    if out is not None:
        write_json_atomic(out, texts)
