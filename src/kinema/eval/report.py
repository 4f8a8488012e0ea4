"""``report.html``: a self-contained page (inline CSS and SVG plots) with the table against the
baselines, per-motion breakdowns and side-by-side videos of the best and worst cases."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from kinema.eval.benchmarks import Benchmark, CaseSpec, render_case
from kinema.io import atomic_path, write_video

PRIMARY = "ssim"
PLOTTED = ("psnr_char", "ssim", "appearance", "mask_iou", "warp_error", "kp_pck_all", "kp_pck_hands", "binding_acc",
           "bg_fidelity")
COLOURS = ("#d1495b", "#00798c", "#edae49", "#66a182", "#2e4057", "#8d96a3")
STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}.best{font-weight:bold;background:#e8f4ea}.note{color:#a33}
figure{display:inline-block;vertical-align:top;margin:0 1em 1em 0;max-width:100%}figure svg{max-width:100%;height:auto}.scroll{overflow-x:auto;max-width:100%}
.chart figcaption{font-size:13px;font-weight:600;max-width:100%}video{image-rendering:pixelated;width:512px}"""


def _fmt(agg: dict[str, Any]) -> str:
    if agg["mean"] is None:
        return "–"
    lo, hi = agg["ci95"]
    return f"{agg['mean']:.3f} <small>[{lo:.3f}, {hi:.3f}]</small>"


def table(results: dict[str, Any]) -> str:
    """Methods (rows) x metrics (columns): mean and 95 % interval; the best non-ceiling mean in bold."""
    metrics, aggs = results["metrics"], results["aggregates"]
    rows = []
    for name in results["methods"]:
        cells = []
        for key, info in metrics.items():
            means = {m: aggs[m][key]["mean"] for m in results["methods"] if results["kinds"][m] != "ceiling"}
            valid = [v for v in means.values() if v is not None]
            best = valid and (max(valid) if info["higher_is_better"] else min(valid))
            cls = ' class="best"' if results["kinds"][name] != "ceiling" and means.get(name) == best else ""
            cells.append(f"<td{cls}>{_fmt(aggs[name][key])}</td>")
        rows.append(f"<tr><td>{html.escape(name)} <small>({results['kinds'][name]})</small></td>{''.join(cells)}</tr>")
    head = "".join(f"<th>{html.escape(i['label'])} {'↑' if i['higher_is_better'] else '↓'}</th>" for i in metrics.values())
    return f'<table id="scores"><tr><th>method</th>{head}</tr>{"".join(rows)}</table>'


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 or 10 times a power of ten that is >= ``value``: a round axis top."""
    scale = 10.0 ** np.floor(np.log10(value))
    return next(m * scale for m in (1, 2, 2.5, 5, 10) if m * scale >= value * (1 - 1e-9))


def _y_axis(top: float, x: int, y0: int, height: int, ticks: int = 4) -> list[str]:
    """SVG parts of a vertical axis at ``x`` from 0 (at ``y0``) to ``top``, with labelled ticks and gridlines."""
    parts = [f'<line x1="{x}" y1="{y0}" x2="{x}" y2="{y0 - height}" stroke="#888"/>']
    for k in range(ticks + 1):
        y = y0 - height * k / ticks
        parts.append(f'<line x1="{x - 3}" y1="{y:.1f}" x2="{x}" y2="{y:.1f}" stroke="#888"/>'
                     f'<text class="ytick" x="{x - 5}" y="{y + 3:.1f}" font-size="10" text-anchor="end">{top * k / ticks:.3g}</text>')
    return parts


def bar_chart(groups: list[str], series: dict[str, list[float | None]]) -> str:
    """Grouped bar chart as inline SVG: one group per motion, one bar per method, a labelled y axis."""
    left, top_pad, bottom = 44, 10, 70  # room for tick labels, the top label and the slanted motion names
    w, h = 60 * len(groups) + left + 60, 170 + top_pad + bottom
    values = [v for vs in series.values() for v in vs if v is not None]
    top = nice_ceiling(max(values + [1e-9]))
    bar, y0 = 48 / max(1, len(series)), h - bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">',
             *_y_axis(top, left, y0, y0 - top_pad),
             f'<line x1="{left}" y1="{y0}" x2="{w}" y2="{y0}" stroke="#888"/>']
    for g, group in enumerate(groups):
        x0 = left + 60 * g + 6
        for s, (name, vs) in enumerate(series.items()):
            if vs[g] is not None:
                bh = max(0.0, vs[g]) / top * (y0 - top_pad)
                parts.append(f'<rect x="{x0 + s * bar:.1f}" y="{y0 - bh:.1f}" width="{bar - 1:.1f}" height="{bh:.1f}" '
                             f'fill="{COLOURS[s % len(COLOURS)]}"><title>{html.escape(name)}: {vs[g]:.4g}</title></rect>')
        parts.append(f'<text x="{x0}" y="{y0 + 14}" font-size="10" transform="rotate(25 {x0} {y0 + 14})">'
                     f"{html.escape(group)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def motion_plots(results: dict[str, Any]) -> str:
    """One chart per plotted metric that this run has, methods except the ceiling."""
    methods = [m for m in results["methods"] if results["kinds"][m] != "ceiling"]
    motions = list(next(iter(results["by_motion"].values())))
    legend = " ".join(f'<span style="color:{COLOURS[s % len(COLOURS)]}">■</span> {html.escape(m)}' for s, m in enumerate(methods))
    charts = [f"<p>{legend}</p>"]
    for key in PLOTTED:
        if key in results["metrics"]:
            series = {m: [results["by_motion"][m][mo][key] for mo in motions] for m in methods}
            info = results["metrics"][key]
            title = html.escape(info["label"]) + (" ↑" if info["higher_is_better"] else " ↓")
            charts.append(f'<figure class="chart"><figcaption>{title}</figcaption>{bar_chart(motions, series)}</figure>')
    return "".join(charts)


def extreme_cases(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The best and the worst case of the evaluated method by :data:`PRIMARY`."""
    scored = [c for c in results["cases"] if c["scores"][results["method"]].get(PRIMARY) is not None]
    if not scored:
        return []
    ranked = sorted(scored, key=lambda c: c["scores"][results["method"]][PRIMARY])
    return [("best", ranked[-1]), ("worst", ranked[0])]


def write_videos(out: Path, results: dict[str, Any], bench: Benchmark) -> list[tuple[str, dict[str, Any], str]]:
    """Side-by-side mp4s (reference | driving | output | exact target) of the extreme cases."""
    videos = []
    for label, case in extreme_cases(results):
        spec = CaseSpec(case["id"], int(case["id"]), case["seed"], case["motion"])
        tri = render_case(bench, spec).triplet
        with np.load(out / "cases" / case["id"] / f"{results['method']}.npz", allow_pickle=False) as data:
            output = data["frames"]
        ref = np.repeat(tri.references[0].frames[:1], len(output), axis=0)
        panels = np.concatenate([ref, tri.driving.frames, output, tri.target.frames], axis=2)  # (T, H, 4W, 3)
        rel = f"videos/{label}_{case['id']}.mp4"
        write_video(out / rel, panels, tri.target.fps)
        videos.append((label, case, rel))
    return videos


def write_report(out: Path, results: dict[str, Any], bench: Benchmark) -> Path:
    """Write ``out/report.html`` (and its videos) atomically."""
    kp = results["keypoints"]
    note = "" if kp["available"] else f'<p class="note">Keypoint metrics unavailable: {html.escape(kp["reason"])}</p>'
    clips = "".join(
        f'<figure><figcaption>{label} by {PRIMARY}: case {c["id"]} ({html.escape(c["motion"])}), '
        f'{PRIMARY} {c["scores"][results["method"]][PRIMARY]:.3f}</figcaption>'
        f'<video src="{rel}" controls loop muted autoplay playsinline></video>'
        "<br><small>reference | driving | output | exact target</small></figure>"
        for label, c, rel in write_videos(out, results, bench))
    b = results["benchmark"]
    page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>kinema eval: {html.escape(b['name'])}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(results['method'])} on {html.escape(b['name'])}</h1>
<p>{len(results['cases'])} cases, {html.escape(b['description'])}; puppet generator {html.escape(results['generator_version'])}.
Mean over cases with 95 % bootstrap intervals; the ceiling row is the exact target itself.</p>{note}
<h2>Scores against the baselines</h2><div class="scroll">{table(results)}</div>
<h2>Per motion</h2>{motion_plots(results)}
<h2>Best and worst cases</h2>{clips}
</body></html>
"""
    path = out / "report.html"
    with atomic_path(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return path
