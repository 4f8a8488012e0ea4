"""Evaluation against the puppet world's exact targets: metrics, benchmarks, baselines, the runner,
reports and paired comparisons."""

from kinema.eval.benchmarks import BENCHMARKS, Benchmark, Case, CaseSpec, get_benchmark, register_benchmark, render_case
from kinema.eval.compare import compare, format_comparison, load_results
from kinema.eval.methods import METHODS, MethodOptions, MethodSpec, get_method, register_method
from kinema.eval.runner import EvalConfig, run_eval
from kinema.eval.scoring import METRICS, score_case

__all__ = [
    "BENCHMARKS", "METHODS", "METRICS", "Benchmark", "Case", "CaseSpec", "EvalConfig", "MethodOptions", "MethodSpec",
    "compare", "format_comparison", "get_benchmark", "get_method", "load_results", "register_benchmark",
    "register_method", "render_case", "run_eval", "score_case",
]
