"""Tiny ONNX pose models with fixed outputs, built with onnx.helper, for testing the ONNX backend."""

from pathlib import Path

import numpy as np

onnx = __import__("pytest").importorskip("onnx", reason="the onnx package is needed to build test models")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def constant_model(path: Path, outputs: dict[str, np.ndarray], input_hw: tuple[int, int] = (256, 192)) -> Path:
    """A model with input (1, 3, H, W) whose outputs are ``outputs`` + 0 * mean(input)."""
    h, w = input_hw
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean4"], keepdims=1),  # (1, 1, 1, 1)
        helper.make_node("Mul", ["mean4", "zero"], ["zero4"]),
        helper.make_node("Reshape", ["zero4", "shape3"], ["zero3"]),  # (1, 1, 1)
    ]
    inits = [numpy_helper.from_array(np.array([1, 1, 1], np.int64), "shape3"), numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    outs = []
    for name, value in outputs.items():
        inits.append(numpy_helper.from_array(value.astype(np.float32), f"{name}_const"))
        nodes.append(helper.make_node("Add", [f"{name}_const", f"zero{value.ndim}"], [name]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape)))
    graph = helper.make_graph(nodes, "pose", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, h, w])], outs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)  # onnxruntime reads IR <= 13
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def simcc_logits(k: int, ix: np.ndarray, iy: np.ndarray, peak_x: np.ndarray, peak_y: np.ndarray, input_hw=(256, 192), ratio=2):
    """SimCC outputs (1, K, W*r), (1, K, H*r) that are 0 except ``peak`` at bins ``ix``, ``iy``."""
    h, w = input_hw
    simcc_x, simcc_y = np.zeros((1, k, w * ratio), np.float32), np.zeros((1, k, h * ratio), np.float32)
    simcc_x[0, np.arange(k), ix] = peak_x
    simcc_y[0, np.arange(k), iy] = peak_y
    return {"simcc_x": simcc_x, "simcc_y": simcc_y}
