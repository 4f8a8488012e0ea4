"""``kinema eval``: score a method and its baselines on a puppet benchmark; ``kinema eval compare``."""

from __future__ import annotations

import click

from kinema.cli.options import SEED, adapters_callback


@click.group(invoke_without_command=True, help="Evaluate a method on a puppet benchmark against exact targets "
             "(results.json + report.html), or compare two results files.")
@click.option("--benchmark", default=None, help="puppet-animate, puppet-replace, puppet-multi (+ -large, -xs), puppet-animate-long, "
              "puppet-animate-quadruped, puppet-animate-bird.")
@click.option("--method", default=None, help="r1, r1-pose, r2, static-reference, driving-copy, paste, ... "
              "(default: the method the model's card fits: r1-pose for the embedded model).")
@click.option("--model", default="embedded", show_default=True,
              help="embedded (the shipped puppet model), a Wan diffusers directory, or a preset name (random weights).")
@click.option("--adapter", multiple=True, callback=adapters_callback, metavar="PATH[:WEIGHT]",
              help="LoRA .safetensors at a weight (default 1); repeat to combine several.")
@click.option("--cases", type=int, default=None, help="Evaluate the first N cases (default: the benchmark's count).")
@click.option("--steps", type=int, default=None, help="Denoising steps (default: the model's, else 30).")
@click.option("--guidance", type=float, default=None, help="Text classifier-free guidance scale (default: the model's, else 5).")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Noise seed.")
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Output directory (resumable).")
@click.option("--device", default="auto", show_default=True,
              help="cpu, cuda or cuda:N; auto takes the CUDA GPU when there is one (bf16 there, float32 on the CPU).")
@click.option("--workers", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="Fan the cases out over this many Ray workers (the [ray] extra; in-process without it).")
@click.option("--address", default=None, help="Ray cluster to run the workers on (auto: the local `ray start`); "
              "default: a local cluster started for the run.")
@click.pass_context
def eval(ctx, benchmark, method, model, adapter, cases, steps, guidance, seed, out, device, workers,  # noqa: A001
         address) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from kinema.errors import KinemaInputError
    from kinema.eval import EvalConfig, MethodOptions, run_eval
    from kinema.io import check_output_dir
    from kinema.pipelines.models import resolve_device

    if benchmark is None or out is None:
        raise KinemaInputError("kinema eval", "needs --benchmark and --out", "E.g. kinema eval --benchmark puppet-animate --out out/eval.")
    check_output_dir(out, "--out")
    if address is not None and workers < 2:
        raise KinemaInputError(f"--address {address}", "is for fanning the cases out over Ray workers",
                               "Add --workers N (N >= 2), or drop --address.")
    if steps is not None and not 1 <= steps <= 1000:
        raise KinemaInputError(f"--steps {steps}", "is outside 1..1000", "Pass e.g. --steps 30.")
    options = MethodOptions(model=model, adapters=tuple(map(str, adapter)), steps=steps, guidance=guidance, seed=seed,
                            device=resolve_device(device)[0])
    results = run_eval(EvalConfig(benchmark, method, cases, options), out, workers=workers, address=address)
    for name in results["methods"]:
        agg = results["aggregates"][name]
        summary = ", ".join(f"{k} {agg[k]['mean']:.3f}" for k in ("psnr", "ssim", "appearance") if agg[k]["mean"] is not None)
        click.echo(f"{name:<18} {summary}")
    if not results["keypoints"]["available"]:
        click.echo(f"note: keypoint metrics unavailable: {results['keypoints']['reason']}", err=True)
    click.echo(f"wrote {out}/results.json and {out}/report.html")


@eval.command(help="Per-metric differences B − A with a paired sign test over shared cases.")
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@click.option("--method-a", default=None, help="Method of A to compare (default: A's evaluated method).")
@click.option("--method-b", default=None, help="Method of B to compare (default: B's evaluated method).")
def compare(a, b, method_a, method_b) -> None:
    from kinema.eval.compare import compare as run, format_comparison, load_results

    click.echo(format_comparison(run(load_results(a), load_results(b), method_a, method_b)))
